"""The benchmark's servers: the sandbox EHR in a child process, and the app as deployed (gunicorn configured only
through `SMART_APP_*` variables) in the `sqlite` setup (one instance) or the `postgresql` one (two instances sharing
a throwaway PostgreSQL and Redis)."""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from smart_app.cli.sandbox import register_app
from smart_app.fhir.signing_keys import generate_signing_key
from smart_app.sandbox.auth import start_auth_server
from smart_app.sandbox.fhir_server import start_fhir_server
from smart_app.sandbox.seed.loader import seed_server
from smart_app.store.crypto import generate_fernet_key
from tests.backing_services import start_postgres, start_redis

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PATIENTS = (
    "lumbar-mbb-first-left-ready",
    "lumbar-rfa-initial-right-ready",
    "pars-chronic-defect-edema-ready",
    "lumbar-mbb-confirmatory-bilateral-ready",
)
RESOURCE_SERVER = ("sandbox-fhir", "sandbox-fhir-introspection-secret")
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
SQLITE_WORKERS, SQLITE_THREADS = 1, 64  # one instance
POSTGRES_WORKERS, POSTGRES_THREADS = 1, 32  # per instance, two instances: one worker per core


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SandboxProxy:
    """The sandbox EHR running in a child process of its own (its CPU is measured apart from the benchmark's)."""

    base_url: str
    fhir_base: str
    connection: Any
    process: Any

    def register(self, app_url: str, client_id: str) -> None:
        self.connection.send(("register", app_url, client_id))
        answer = self.connection.recv()
        if answer != "ok":
            raise RuntimeError(f"sandbox: {answer}")

    def stop(self) -> None:
        self.connection.send(("stop",))
        self.process.join(timeout=30)


def sandbox_process(connection: Any, delay_ms: int, log_dir: str) -> None:
    """Child process: the FHIR server (Node) and the authorization server, seeded; obeys `register` and `stop`."""
    auth_port = free_port()
    fhir = start_fhir_server(
        auth_base=f"http://127.0.0.1:{auth_port}",
        introspection_client=RESOURCE_SERVER,
        log_path=Path(log_dir) / "fhir.log",
        startup_timeout=90,
    )
    auth = start_auth_server(port=auth_port, fhir_base=fhir.base_url, resource_servers=dict([RESOURCE_SERVER]))
    try:
        seed_server(fhir.base_url, only=list(PATIENTS))
        fhir.configure(require_auth=True, delay_ms=delay_ms)
        connection.send((auth.base_url, fhir.base_url))
        while True:
            command = connection.recv()
            if command[0] == "stop":
                return
            _, app_url, client_id = command
            register_app(auth, app_url, client_id=client_id, client_auth="public", client_secret=None, name=client_id)
            connection.send("ok")
    finally:
        auth.stop()
        fhir.stop()


def start_sandbox(delay_ms: int, work: Path) -> SandboxProxy:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=sandbox_process, args=(child, delay_ms, str(work)), daemon=True)
    process.start()
    auth_url, fhir_base = parent.recv()
    return SandboxProxy(auth_url, fhir_base, parent, process)


@dataclass
class Setup:
    name: str
    instances: list[str]  # base URLs; the first is the public URL the EHR knows
    client_id: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stop_extra: list[Any] = field(default_factory=list)
    database_url: str | None = None  # PostgreSQL: to count the connections the app opened
    services: dict[str, int] = field(default_factory=dict)  # PostgreSQL, Redis: role -> root pid, for their CPU
    size: str = ""  # "instances × workers × threads", as reported

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for stop in self.stop_extra:
            stop()


def start_gunicorn(port: int, workers: int, threads: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """gunicorn as the README deploys it: `-c python:smart_app.gunicorn_conf`, sized by `SMART_APP_*` settings."""
    env = {**env, "SMART_APP_WORKERS": str(workers), "SMART_APP_THREADS": str(threads)}
    env["SMART_APP_BIND"] = f"127.0.0.1:{port}"
    command = [GUNICORN, "-c", "python:smart_app.gunicorn_conf", "--error-logfile", str(log), "--capture-output"]
    command += ["--no-control-socket", "smart_app:create_app()"]
    process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn on {port} did not start")


def deploy(
    name: str, auth: SandboxProxy, work: Path, *, instances: int, workers: int, threads: int, **settings: Any
) -> Setup:
    ports = [free_port() for _ in range(instances)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    client_id = f"bench-{name}-{secrets.token_hex(3)}"
    entry = {"name": "sandbox", "iss": auth.fhir_base, "client_id": client_id, "ehr_origins": [auth.base_url]}
    keys = [generate_signing_key("RS384"), generate_signing_key("ES384")]
    all_settings = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "TOKEN_ENCRYPTION_KEYS": [generate_fernet_key()],
        "SIGNING_KEYS": [key.private_jwk() for key in keys],
        "EHRS": [entry],
        "PUBLIC_URL": urls[0],
        "PURGE_INTERVAL_SECONDS": 300,
        **settings,
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("SMART_APP_")}
    env.update({f"SMART_APP_{k}": v if isinstance(v, str) else json.dumps(v) for k, v in all_settings.items()})
    auth.register(urls[0], client_id)
    setup = Setup(name, urls, client_id, size=f"{instances} instance(s) × {workers} worker(s) × {threads} threads")
    try:
        for index, port in enumerate(ports):
            setup.processes.append(start_gunicorn(port, workers, threads, env, work / f"{name}-{index}.log"))
    except BaseException:
        setup.stop()
        raise
    return setup


def postgres_sessions(setup: Setup) -> int:
    """Connections PostgreSQL has accepted into the app's database so far (0 without PostgreSQL)."""
    if setup.database_url is None:
        return 0
    import sqlalchemy

    engine = sqlalchemy.create_engine(setup.database_url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            query = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            return int(connection.execute(sqlalchemy.text(query)).scalar_one())
    finally:
        engine.dispose()


def start_setup(
    name: str,
    sandbox: SandboxProxy,
    work: Path,
    *,
    workers: int | None = None,
    threads: int | None = None,
    settings: dict[str, Any] | None = None,
) -> Setup:
    """Start a setup; `settings` are more app settings (`SMART_APP_*` without the prefix) for every instance."""
    settings = settings or {}
    if name == "sqlite":
        return deploy(
            name,
            sandbox,
            work,
            instances=1,
            workers=workers or SQLITE_WORKERS,
            threads=threads or SQLITE_THREADS,
            **{"DATABASE_URL": f"sqlite:///{work / 'app.sqlite'}", **settings},
        )
    if name == "postgresql":
        postgres = start_postgres(work / "postgres")
        redis = start_redis(work / "redis")
        try:
            setup = deploy(
                name,
                sandbox,
                work,
                instances=2,
                workers=workers or POSTGRES_WORKERS,
                threads=threads or POSTGRES_THREADS,
                **{"DATABASE_URL": postgres.url, "RATE_LIMIT_STORAGE_URL": redis.url, **settings},
            )
        except BaseException:
            postgres.stop()
            redis.stop()
            raise
        setup.stop_extra += [postgres.stop, redis.stop]
        setup.database_url = postgres.url
        setup.services = {"postgresql": postgres.process.pid, "redis": redis.process.pid}
        return setup
    raise SystemExit(f"unknown setup {name!r}: sqlite or postgresql")

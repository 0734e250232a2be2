"""Throwaway PostgreSQL and Redis servers for the tests: Debian's `postgresql` and `redis-server` (installed by
`make test`), started on free loopback ports with their data in a temporary folder, stopped afterwards.

They never skip: a missing binary or a server that does not come up fails the test run with the reason.
PostgreSQL refuses to run as root, so as root the cluster belongs to, and runs as, the unprivileged `nobody`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

POSTGRES_USER = "spine"
POSTGRES_DB = "spine"
INITDB_OPTIONS = ("-E", "UTF8", "--no-sync", "--locale=C.UTF-8")
# A throwaway cluster: no durability needed, room for two instances' pools plus the load benchmark.
POSTGRES_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=400")
REDIS_OPTIONS = ("--save", "", "--appendonly", "no", "--protected-mode", "yes")


class BackingServiceError(RuntimeError):
    """A server the tests need is missing or did not start."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise BackingServiceError(f"PostgreSQL's {name} was not found: install Debian's postgresql (make test does)")


def _as_unprivileged(command: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


def _wait_for(check: Callable[[], bool], what: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise BackingServiceError(f"{what} did not start within {timeout:.0f} s:\n{tail}")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class PostgresServer:
    """A running throwaway cluster; `url` is a SQLAlchemy URL (psycopg 3) of its one database."""

    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    base: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{POSTGRES_USER}@127.0.0.1:{self.port}/{POSTGRES_DB}"

    def create_database(self, name: str) -> str:
        """A new empty database in the cluster; returns its URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={POSTGRES_USER} dbname={POSTGRES_DB}") as conn:
            conn.autocommit = True
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{POSTGRES_USER}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        shutil.rmtree(self.base, ignore_errors=True)


def start_postgres(base: Path) -> PostgresServer:
    """initdb a cluster under `base` and start it on a free port (trust auth, loopback only, no fsync).

    As root the cluster goes to a folder of its own under the system temp dir owned by `nobody` (pytest's temp
    folders are private to root, so `nobody` could not reach one inside them); it is removed by `stop()`.
    """
    if os.geteuid() == 0:
        base = Path(tempfile.mkdtemp(prefix="spine-auth-postgres-"))
        shutil.chown(base, "nobody")
    base.mkdir(parents=True, exist_ok=True)
    data_dir = base / "data"
    socket_dir = base / "socket"
    socket_dir.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(socket_dir, "nobody")
    log = base / "postgres.log"
    initdb = subprocess.run(
        _as_unprivileged(
            [_postgres_bin("initdb"), "-D", str(data_dir), "-U", POSTGRES_USER, "-A", "trust", *INITDB_OPTIONS]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if initdb.returncode != 0:
        raise BackingServiceError(f"initdb failed: {initdb.stderr[-2000:]}")
    port = _free_port()
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            _as_unprivileged(
                [
                    _postgres_bin("postgres"),
                    "-D",
                    str(data_dir),
                    "-p",
                    str(port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    str(socket_dir),
                ]
                + [option for setting in POSTGRES_SETTINGS for option in ("-c", setting)]
            ),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = PostgresServer(port=port, data_dir=data_dir, process=process, base=base)
    _wait_for(lambda: process.poll() is None and _pg_ready(port), "PostgreSQL", log)
    subprocess.run(
        [_postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", POSTGRES_USER, POSTGRES_DB],
        check=True,
        capture_output=True,
    )
    return server


def _pg_ready(port: int) -> bool:
    result = subprocess.run(
        [_postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", POSTGRES_USER, "-q"], check=False
    )
    return result.returncode == 0


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_redis(base: Path) -> RedisServer:
    """Debian's redis-server on a free loopback port, nothing persisted."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise BackingServiceError("redis-server was not found: install Debian's redis-server (make test does)")
    base.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = base / "redis.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(base), *REDIS_OPTIONS],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    _wait_for(lambda: process.poll() is None and _accepts(port), "redis-server", log)
    return RedisServer(port=port, process=process)

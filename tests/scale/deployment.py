"""A deployment as production runs it, on loopback: gunicorn serving `smart_app:create_app()` with several workers,
in two instances (two ports; the tests alternate between them as a load balancer would) sharing one database and
one Redis. Settings reach the app only through `SMART_APP_*` environment variables, as in production; the
secrets are shared configuration, generated once per deployment here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from smart_app.cli.sandbox import register_app
from smart_app.fhir.signing_keys import generate_signing_key
from smart_app.store.crypto import generate_fernet_key
from tests.conftest import PROJECT_ROOT, free_port
from tests.web.conftest import RunningApp

GUNICORN = str(Path(sys.executable).parent / "gunicorn")


@dataclass
class Instance:
    """One gunicorn master (and its workers) serving the app on `port`."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    workers: int = 2
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        command = [GUNICORN, "--workers", str(self.workers), "--worker-class", "gthread", "--threads", "8"]
        command += ["--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "5", "--timeout", "60"]
        command += ["--error-logfile", str(self.log), "--capture-output", "smart_app:create_app()"]
        self.process = subprocess.Popen(command, env=self.env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn {self.name} exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"gunicorn {self.name} did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@dataclass
class Deployment:
    """Two instances of one deployment: `a` is the public URL the EHR knows (redirects land there)."""

    a: Instance
    b: Instance
    database_url: str
    client_id: str
    settings: dict[str, Any] = field(default_factory=dict)

    def instances(self) -> list[Instance]:
        return [self.a, self.b]

    def as_running_app(self, instance: Instance) -> RunningApp:
        """The instance seen through the web tests' helpers (launch, checklist URLs)."""
        return RunningApp(app=None, url=instance.url, client_id=self.client_id, stop=instance.stop)  # type: ignore[arg-type]

    def stop(self) -> None:
        for instance in self.instances():
            instance.stop()


def shared_settings(
    fhir_server: Any, auth_server: Any, *, database_url: str, client_id: str, public_url: str, **overrides: Any
) -> dict[str, Any]:
    """The settings every instance of one deployment gets (secrets included)."""
    entry = {
        "name": "sandbox",
        "title": "Sandbox EHR",
        "iss": fhir_server.base_url,
        "client_id": client_id,
        "client_auth": "public",
        "ehr_origins": [auth_server.base_url],
    }
    keys = [generate_signing_key("RS384"), generate_signing_key("ES384")]
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": generate_fernet_key(),
        "TOKEN_ENCRYPTION_KEYS": [generate_fernet_key()],
        "SIGNING_KEYS": [key.private_jwk() for key in keys],
        "EHRS": [entry],
        "PUBLIC_URL": public_url,
        **overrides,
    }


def environment_of(settings: dict[str, Any]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SMART_APP_")}
    for name, value in settings.items():
        env[f"SMART_APP_{name}"] = value if isinstance(value, str) else json.dumps(value)
    return env


def deploy(
    tmp_path: Path,
    fhir_server: Any,
    auth_server: Any,
    *,
    database_url: str,
    client_id: str,
    workers: int = 2,
    **overrides: Any,
) -> Deployment:
    """Start two instances sharing `database_url` and register the deployment at the sandbox as `client_id`."""
    ports = (free_port(), free_port())
    public_url = f"http://127.0.0.1:{ports[0]}"
    settings = shared_settings(
        fhir_server, auth_server, database_url=database_url, client_id=client_id, public_url=public_url, **overrides
    )
    env = environment_of(settings)
    a = Instance("a", ports[0], env, tmp_path / "gunicorn-a.log", workers)
    b = Instance("b", ports[1], env, tmp_path / "gunicorn-b.log", workers)
    register_app(auth_server, public_url, client_id=client_id, client_auth="public", client_secret=None, name=client_id)
    deployment = Deployment(a, b, database_url, client_id, settings)
    try:
        a.start()
        b.start()
    except BaseException:
        deployment.stop()
        raise
    return deployment

"""Launcher for the sandbox FHIR server (`sandbox/fhir-server/server.mjs`, Node + Medplum's FHIR router).

`start_fhir_server()` spawns `node server.mjs` in its own process group, waits for the `listening` JSON line and
returns a handle with the admin calls tests need. The server's stdout and stderr go to a log file (never a pipe, so
a chatty server can never block on a full pipe); the handle keeps its path for error messages.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import requests

__all__ = ["SERVER_DIR", "FhirServerError", "FhirServerHandle", "start_fhir_server"]

SERVER_DIR = Path(__file__).resolve().parents[2] / "sandbox" / "fhir-server"
DEFAULT_COUNT = 20
MAX_COUNT = 500
_POLL_SECONDS = 0.02
_STOP_GRACE_SECONDS = 5.0
_ADMIN_TIMEOUT = (5, 30)
_LOG_TAIL_LINES = 30


class FhirServerError(RuntimeError):
    """The sandbox FHIR server could not be started or did not answer an admin call."""


@dataclass
class FhirServerHandle:
    """A running sandbox FHIR server. `base_url` is the FHIR base; `admin_url` the admin root."""

    port: int
    base_url: str
    admin_url: str
    log_path: Path
    startup_seconds: float
    process: subprocess.Popen[bytes] = field(repr=False)
    require_auth: bool = False
    default_count: int = DEFAULT_COUNT
    _session: requests.Session = field(default_factory=requests.Session, repr=False)

    def reset(self) -> None:
        """Drop every resource (and cached token answers)."""
        self._admin("POST", "reset")

    def configure(
        self, *, require_auth: bool | None = None, delay_ms: int | None = None, default_count: int | None = None
    ) -> dict[str, Any]:
        """Set the runtime config. Every argument left as None goes back to the value the server started with
        (so `configure()` restores the defaults). Returns the config the server now uses."""
        config = {
            "requireAuth": self.require_auth if require_auth is None else require_auth,
            "delayMs": 0 if delay_ms is None else delay_ms,
            "defaultCount": self.default_count if default_count is None else default_count,
        }
        return self._admin("POST", "config", config)

    def config(self) -> dict[str, Any]:
        return self._admin("GET", "config")

    def stats(self) -> dict[str, int]:
        """`{"requests": n, "withAuthorization": m}`: FHIR requests served since the last `reset_stats()`, and how
        many of them carried an Authorization header."""
        return {key: int(value) for key, value in self._admin("GET", "stats").items()}

    def request_count(self) -> int:
        return int(self.stats()["requests"])

    def reset_stats(self) -> None:
        self._admin("POST", "stats/reset")

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        return _tail(self.log_path, lines)

    def stop(self) -> None:
        """Stop the server's process group: SIGTERM, then SIGKILL after a grace period."""
        self._session.close()
        _stop_process_group(self.process)

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.admin_url}/{path}"
        try:
            response = self._session.request(method, url, json=body, timeout=_ADMIN_TIMEOUT)
        except requests.RequestException as exc:
            raise FhirServerError(f"admin {method} {url} failed: {exc}") from exc
        if response.status_code != 200:
            raise FhirServerError(f"admin {method} {url} answered {response.status_code}: {response.text[:500]}")
        answer = response.json()
        if not isinstance(answer, dict):
            raise FhirServerError(f"admin {method} {url} answered with JSON that is not an object")
        return answer


def start_fhir_server(
    *,
    port: int = 0,
    auth_base: str | None = None,
    introspection_client: tuple[str, str] | None = None,
    require_auth: bool = False,
    log_path: Path | None = None,
    startup_timeout: float = 60.0,
    default_count: int = DEFAULT_COUNT,
    max_count: int = MAX_COUNT,
    host: str = "127.0.0.1",
) -> FhirServerHandle:
    """Start `node server.mjs` and wait until it listens. `port=0` lets the server pick a free port."""
    node = shutil.which("node")
    if node is None:
        raise FhirServerError("node is not installed (the sandbox FHIR server needs Node.js 20.19 or later)")
    if not (SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        raise FhirServerError(
            f"the sandbox FHIR server's packages are not installed in {SERVER_DIR / 'node_modules'}: "
            "run `npm ci --prefix sandbox/fhir-server`"
        )
    if log_path is None:
        descriptor, name = tempfile.mkstemp(prefix="sandbox-fhir-", suffix=".log")
        os.close(descriptor)
        log_path = Path(name)
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    command = [node, str(SERVER_DIR / "server.mjs"), "--port", str(port), "--host", host]
    command += ["--default-count", str(default_count), "--max-count", str(max_count)]
    if auth_base:
        command += ["--auth-base", auth_base]
    environment = dict(os.environ)
    if introspection_client:  # in the environment, not on the command line: `ps` shows command lines
        environment["SANDBOX_INTROSPECTION_CLIENT"] = f"{introspection_client[0]}:{introspection_client[1]}"
    if require_auth:
        command.append("--require-auth")
    # The server reads our end of a pipe on stdin and stops when it closes: no server outlives this process,
    # even when it is killed without a chance to clean up.
    command.append("--exit-with-parent")

    return run_until_listening(
        command,
        cwd=SERVER_DIR,
        environment=environment,
        log_path=log_path,
        startup_timeout=startup_timeout,
        host=host,
        require_auth=require_auth,
        default_count=default_count,
    )


def run_until_listening(
    command: list[str],
    *,
    cwd: Path,
    environment: dict[str, str],
    log_path: Path,
    startup_timeout: float,
    host: str,
    require_auth: bool,
    default_count: int,
) -> FhirServerHandle:
    """Start a sandbox FHIR server process (its own process group, a private log) and wait for its `listening`
    line; shared by the Node and the HAPI engines."""
    started = time.monotonic()
    with _private_log(log_path) as log_file:
        process = subprocess.Popen(
            command,
            cwd=SERVER_DIR,
            stdin=subprocess.PIPE,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=environment,
        )
    try:
        listening = _wait_for_listening(process, log_path, startup_timeout)
    except BaseException:
        _stop_process_group(process)
        raise
    bound_port = int(listening["port"])
    return FhirServerHandle(
        port=bound_port,
        base_url=str(listening["base"]),
        admin_url=f"http://{host}:{bound_port}/admin",
        log_path=log_path,
        startup_seconds=time.monotonic() - started,
        process=process,
        require_auth=require_auth,
        default_count=default_count,
    )


def _private_log(path: Path) -> BinaryIO:
    """The server's log, truncated, readable by this user only (0600): it names patients' resource ids."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an older log may have been created with looser permissions
    return os.fdopen(descriptor, "wb")


def _wait_for_listening(process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = _listening_event(log_path)
        if event is not None:
            return event
        if process.poll() is not None:
            raise FhirServerError(
                f"the sandbox FHIR server exited with code {process.returncode} before listening; "
                f"log {log_path}:\n{_tail(log_path, _LOG_TAIL_LINES)}"
            )
        time.sleep(_POLL_SECONDS)
    raise FhirServerError(
        f"the sandbox FHIR server did not listen within {timeout:.0f} s; log {log_path}:\n"
        f"{_tail(log_path, _LOG_TAIL_LINES)}"
    )


def _listening_event(log_path: Path) -> dict[str, Any] | None:
    with log_path.open("rb") as log_file:
        for raw_line in log_file:
            if b'"listening"' not in raw_line:
                continue
            with contextlib.suppress(ValueError):
                event = json.loads(raw_line)
                if isinstance(event, dict) and event.get("event") == "listening":
                    return event
    return None


def _stop_process_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=_STOP_GRACE_SECONDS)
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])

"""Launcher for the HAPI FHIR sandbox (`sandbox/hapi-server`, HAPI FHIR's JPA server in our own small Java launcher).

`start_hapi_server()` runs the jar `make hapi-jar` builds and returns the same handle as the Node sandbox
(`FhirServerHandle`): the jar prints the same `listening` line and answers the same admin calls (config, stats,
reset), so tests and `smart-app sandbox --engine hapi` treat both engines alike.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from smart_app.sandbox.fhir_server import (
    FhirServerError,
    FhirServerHandle,
    run_until_listening,
)

__all__ = ["HAPI_DIR", "HAPI_JAR", "HAPI_MAX_COUNT", "rss_megabytes", "start_hapi_server"]

HAPI_DIR = Path(__file__).resolve().parents[2] / "sandbox" / "hapi-server"
HAPI_JAR = HAPI_DIR / "target" / "hapi-sandbox.jar"
HAPI_DEFAULT_COUNT = 20
HAPI_MAX_COUNT = 200  # as the public HAPI sandbox
# C1 only: HAPI starts in about half the time and a sandbox never runs long enough to gain from C2.
JVM_OPTIONS = ("-Xmx1g", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
STARTUP_TIMEOUT_SECONDS = 420.0


def start_hapi_server(
    *,
    port: int = 0,
    auth_base: str | None = None,
    introspection_client: tuple[str, str] | None = None,
    require_auth: bool = False,
    igs: Path | None = None,
    log_path: Path | None = None,
    startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    host: str = "127.0.0.1",
) -> FhirServerHandle:
    """Start the HAPI sandbox jar and wait until it listens. `igs`: a folder of IG packages (`*.tgz`) to install
    from file for `$validate`."""
    java = shutil.which("java")
    if java is None:
        raise FhirServerError("java is not installed (the HAPI sandbox needs Java 17 or later)")
    if not HAPI_JAR.is_file():
        raise FhirServerError(f"the HAPI sandbox is not built ({HAPI_JAR} is missing): run `make hapi-jar`")
    if log_path is None:
        descriptor, name = tempfile.mkstemp(prefix="sandbox-hapi-", suffix=".log")
        os.close(descriptor)
        log_path = Path(name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [java, *JVM_OPTIONS, "-jar", str(HAPI_JAR), "--port", str(port), "--host", host]
    command += ["--default-count", str(HAPI_DEFAULT_COUNT), "--max-count", str(HAPI_MAX_COUNT)]
    if auth_base:
        command += ["--auth-base", auth_base]
    if require_auth:
        command.append("--require-auth")
    if igs is not None:
        command += ["--igs", str(igs)]
    command.append("--exit-with-parent")
    environment = dict(os.environ)
    if introspection_client:  # in the environment, not on the command line: `ps` shows command lines
        environment["SANDBOX_INTROSPECTION_CLIENT"] = f"{introspection_client[0]}:{introspection_client[1]}"

    return run_until_listening(
        command,
        cwd=HAPI_DIR,
        environment=environment,
        log_path=log_path,
        startup_timeout=startup_timeout,
        host=host,
        require_auth=require_auth,
        default_count=HAPI_DEFAULT_COUNT,
    )


def rss_megabytes(pid: int) -> float | None:
    """The resident memory of process `pid` in MiB (Linux /proc), or None where it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None

"""Session-wide fixtures.

The sandbox (the Node FHIR server and the authlib authorization server) is started once per test session on free
ports. Tests that change its state put it back: `fhir_server.reset()` drops every resource, `fhir_server.configure()`
and `auth_server.reset_switches()` restore the defaults (the `sandbox_defaults` autouse fixture does the latter).

Paths to ../shared (cases and third-party data) are read only from tests.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from smart_app.store.crypto import TokenCipher
    from smart_app.store.db import Database

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def find_shared_dir() -> Path:
    """The shared folder (acceptance cases, contracts, third-party data): SPINE_AUTH_SHARED_DIR when set, else
    ../shared beside the project, else ../shared beside the local repository this checkout was cloned from (a clone
    made elsewhere for a clean-room run)."""
    if os.environ.get("SPINE_AUTH_SHARED_DIR"):
        return Path(os.environ["SPINE_AUTH_SHARED_DIR"]).resolve()
    candidates = [PROJECT_ROOT / ".." / "shared"]
    origin = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "remote", "get-url", "origin"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if origin.startswith("file://") or (origin and not re.match(r"^[a-z+]+://|^[^/]+@", origin)):  # a local path
        candidates.append(Path(origin.removeprefix("file://")) / ".." / "shared")
    for candidate in candidates:
        if (candidate / "cases" / "cases.json").is_file():
            return candidate.resolve()
    raise pytest.UsageError(
        f"the shared folder with the acceptance cases is not at {candidates[0].resolve()} "
        "(expected ../shared beside the project; set SPINE_AUTH_SHARED_DIR to its path)"
    )


SHARED_DIR = find_shared_dir()
CASES_DIR = SHARED_DIR / "cases"
DATA_DIR = SHARED_DIR / "data"
# Every sandbox payer the tests start validates with HAPI's validator against the published IG packages.
os.environ.setdefault("SPINE_AUTH_PAYER_IGS", str(DATA_DIR / "igs"))
CHECK_RESULT_SCHEMA = SHARED_DIR / "contracts" / "check-result.schema.json"
RESOURCE_SERVER_ID = "sandbox-fhir"
RESOURCE_SERVER_SECRET = "sandbox-fhir-introspection-secret"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def cases_dir() -> Path:
    return CASES_DIR


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture(scope="session")
def sandbox_ports() -> dict[str, int]:
    return {"fhir": free_port(), "auth": free_port()}


@pytest.fixture(scope="session")
def fhir_server(sandbox_ports: dict[str, int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The Node FHIR server, auth off by default (turn it on with `fhir_server.configure(require_auth=True)`)."""
    from smart_app.sandbox.fhir_server import start_fhir_server

    handle = start_fhir_server(
        port=sandbox_ports["fhir"],
        auth_base=f"http://127.0.0.1:{sandbox_ports['auth']}",
        introspection_client=(RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET),
        log_path=tmp_path_factory.mktemp("fhir-server") / "server.log",
        startup_timeout=60.0,  # Node takes 10-20 s to start on a loaded shared machine
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def empty_fhir_server(fhir_server: Any) -> Iterator[Any]:
    """The session FHIR server emptied, with its default settings (auth off); emptied and put back afterwards."""
    fhir_server.reset()
    fhir_server.configure()
    try:
        yield fhir_server
    finally:
        fhir_server.configure()
        fhir_server.reset()


@pytest.fixture(scope="session")
def auth_server(sandbox_ports: dict[str, int], fhir_server: Any) -> Iterator[Any]:
    """The SMART authorization server in front of `fhir_server`."""
    from smart_app.sandbox.auth import start_auth_server

    handle = start_auth_server(
        port=sandbox_ports["auth"],
        fhir_base=fhir_server.base_url,
        resource_servers={RESOURCE_SERVER_ID: RESOURCE_SERVER_SECRET},
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """A fresh SQLite database of the app's tables in the test's temporary folder."""
    from smart_app.store.db import Database

    db = Database(f"sqlite:///{tmp_path / 'app.sqlite'}")
    db.create_all()
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def cipher() -> TokenCipher:
    """A cipher with one new key."""
    from smart_app.store.crypto import TokenCipher, generate_fernet_key

    return TokenCipher([generate_fernet_key()])


@pytest.fixture(autouse=True)
def sandbox_defaults(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the authorization server, put its misbehaviour switches back to the defaults."""
    server = request.getfixturevalue("auth_server") if "auth_server" in request.fixturenames else None
    yield
    if server is not None:
        server.reset_switches()


# PostgreSQL and Redis for the store and scale tests (issue 13): started once per test session, never skipped.


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A throwaway PostgreSQL cluster (Debian's postgresql) on a free port."""
    from tests.backing_services import start_postgres

    server = start_postgres(tmp_path_factory.mktemp("postgres"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A throwaway redis-server (Debian's) on a free port."""
    from tests.backing_services import start_redis

    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()

"""The HAPI FHIR suite: one HAPI JPA server per test session (sandbox/hapi-server, `make hapi-jar` builds it),
with the IG packages of ../shared/data/igs installed from file and our SMART authorization server in front. Auth is
off unless a test turns it on (`hapi_server.configure(require_auth=True)`; the autouse fixture below puts it back).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import DATA_DIR, RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET, free_port


@pytest.fixture(scope="session")
def hapi_ports() -> dict[str, int]:
    return {"fhir": free_port(), "auth": free_port()}


@pytest.fixture(scope="session")
def hapi_server(hapi_ports: dict[str, int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from smart_app.sandbox.hapi_server import start_hapi_server

    handle = start_hapi_server(
        port=hapi_ports["fhir"],
        auth_base=f"http://127.0.0.1:{hapi_ports['auth']}",
        introspection_client=(RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET),
        igs=DATA_DIR / "igs",
        log_path=tmp_path_factory.mktemp("hapi-server") / "server.log",
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def hapi_auth_server(hapi_ports: dict[str, int], hapi_server: Any) -> Iterator[Any]:
    """Our SMART authorization server in front of the HAPI server."""
    from smart_app.sandbox.auth import start_auth_server

    handle = start_auth_server(
        port=hapi_ports["auth"],
        fhir_base=hapi_server.base_url,
        resource_servers={RESOURCE_SERVER_ID: RESOURCE_SERVER_SECRET},
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(autouse=True)
def hapi_defaults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every HAPI test ends with the server's default settings (auth off, no delay)."""
    yield
    if "hapi_server" in request.fixturenames:
        request.getfixturevalue("hapi_server").configure()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first HAPI test also waits for the server to start (minutes on a busy 2-core machine)."""
    for item in items:
        if "tests/hapi/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.timeout(900))

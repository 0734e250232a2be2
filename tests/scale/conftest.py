"""Two gunicorn instances of the app sharing one PostgreSQL database and one Redis (module-scoped), in front of the
session's sandbox EHR."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.scale.deployment import Deployment, deploy


@pytest.fixture(scope="module")
def pg_deployment(
    postgres: Any, redis_server: Any, fhir_server: Any, auth_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    database_url = postgres.create_database(f"deploy_{secrets.token_hex(6)}")
    deployment = deploy(
        tmp_path_factory.mktemp("pg-deployment"),
        fhir_server,
        auth_server,
        database_url=database_url,
        client_id=f"spine-auth-pg-{secrets.token_hex(4)}",
        RATE_LIMIT_STORAGE_URL=redis_server.url,
    )
    try:
        yield deployment
    finally:
        deployment.stop()

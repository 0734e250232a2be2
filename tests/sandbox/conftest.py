"""Fixtures of the sandbox tests: a patient on the FHIR server, a registered public app, the authorization
server's switches put back, and a raw client of an emptied FHIR server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smart_app.sandbox.auth import AuthServerHandle
from tests.sandbox.test_auth_server_support import SmartTestApp, create_patient, register_app
from tests.sandbox.test_fhir_server_support import Fhir


@pytest.fixture
def patient_id(fhir_server: Any) -> str:
    return create_patient(fhir_server.base_url)


@pytest.fixture
def public_app(auth_server: AuthServerHandle) -> SmartTestApp:
    return register_app(auth_server)


@pytest.fixture
def switches_restored(auth_server: AuthServerHandle) -> Iterator[AuthServerHandle]:
    auth_server.reset_switches()
    yield auth_server
    auth_server.reset_switches()


@pytest.fixture
def fhir(empty_fhir_server: Any) -> Iterator[Fhir]:
    """A client on a clean, open server (data dropped, config back to the defaults)."""
    client = Fhir(empty_fhir_server.base_url)
    yield client
    client.session.close()

"""Order tests run against the sandbox FHIR server, seeded with the public case `lumbar-rfa-initial-ready`."""

from __future__ import annotations

from typing import Any

import pytest

from smart_app.core.documents import OrderContext
from smart_app.fhir.client import FhirClient
from smart_app.sandbox.seed.catalog import sandbox_user_bundle
from smart_app.store.db import Database
from smart_app.store.drafts import DraftStore
from tests.orders.samples import PRACTITIONER, RECORDED, rfa_bundle, rfa_record


@pytest.fixture
def ehr(empty_fhir_server: Any) -> FhirClient:
    """A client of the sandbox holding the public case's record and the sandbox user (the clinician who orders:
    every reference of an order must resolve), emptied again after."""
    client = FhirClient(empty_fhir_server.base_url)
    client.transaction(sandbox_user_bundle())
    client.transaction(rfa_bundle())
    return client


@pytest.fixture
def store(database: Database) -> DraftStore:
    return DraftStore(database)


@pytest.fixture
def context() -> OrderContext:
    return OrderContext(recorded=RECORDED, resources=rfa_record(), requester=PRACTITIONER, app_version="0.1.0")


# --- a fresh FHIR server by base URL (the two-patient write-back test runs on each) -----------------------------
# Each provider yields the base URL of an empty FHIR R4 server that accepts transactions without a token, and
# empties it again afterwards. A HAPI run adds its provider here (e.g. "hapi": a fixture starting HAPI FHIR).
WRITEBACK_SERVERS = ("node-sandbox",)


@pytest.fixture(params=WRITEBACK_SERVERS)
def writeback_fhir_base(request: pytest.FixtureRequest) -> str:
    """The base URL of a fresh (empty) FHIR server, one per entry of WRITEBACK_SERVERS."""
    if request.param == "node-sandbox":
        server = request.getfixturevalue("empty_fhir_server")
        return str(server.base_url)
    return str(request.getfixturevalue(f"{request.param.replace('-', '_')}_fhir_base"))

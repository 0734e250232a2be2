"""Order tests run against the sandbox FHIR server, seeded with the public case `lumbar-rfa-initial-ready`."""

from __future__ import annotations

from typing import Any

import pytest

from smart_app.core.documents import OrderContext
from smart_app.fhir.client import FhirClient
from smart_app.store.db import Database
from smart_app.store.drafts import DraftStore
from tests.orders.samples import PRACTITIONER, RECORDED, rfa_bundle, rfa_record


@pytest.fixture
def ehr(empty_fhir_server: Any) -> FhirClient:
    """A client of the sandbox holding only the public case's record (the sandbox is emptied again after)."""
    client = FhirClient(empty_fhir_server.base_url)
    client.transaction(rfa_bundle())
    return client


@pytest.fixture
def store(database: Database) -> DraftStore:
    return DraftStore(database)


@pytest.fixture
def context() -> OrderContext:
    return OrderContext(recorded=RECORDED, resources=rfa_record(), requester=PRACTITIONER, app_version="0.1.0")

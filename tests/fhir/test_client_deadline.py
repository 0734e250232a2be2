"""The FHIR client's overall deadline against the sandbox FHIR server's injected delay: every try, backoff and
page fits inside it, and a retry that cannot finish in time is not started."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from smart_app.fhir.client import FhirClient
from smart_app.fhir.errors import FhirTimeout


@pytest.fixture
def slow_fhir_server(empty_fhir_server: Any) -> Iterator[Any]:
    empty_fhir_server.configure(delay_ms=1500)
    empty_fhir_server.reset_stats()
    yield empty_fhir_server


def test_retries_stop_at_the_deadline(slow_fhir_server: Any) -> None:
    client = FhirClient(slow_fhir_server.base_url, timeout=(5, 1), retries=3, deadline_seconds=3)
    started = time.monotonic()
    with client, pytest.raises(FhirTimeout):
        client.capabilities()
    elapsed = time.monotonic() - started
    assert elapsed < 3.2, f"{elapsed:.1f} s"
    # 1 s try, 0.5 s backoff, 1 s try; the next backoff (1 s) would leave no time for a third try.
    assert client.request_count == 2
    assert slow_fhir_server.request_count() == 2


def test_without_a_deadline_every_retry_runs(slow_fhir_server: Any) -> None:
    client = FhirClient(slow_fhir_server.base_url, timeout=(5, 1), retries=2)
    started = time.monotonic()
    with client, pytest.raises(FhirTimeout):
        client.capabilities()
    assert client.request_count == 3
    assert time.monotonic() - started >= 3 + 0.5 + 1.0 - 0.1  # three 1 s tries and two backoffs


def test_the_deadline_error_says_how_long_the_ehr_had(slow_fhir_server: Any) -> None:
    client = FhirClient(slow_fhir_server.base_url, timeout=(5, 30), retries=1, deadline_seconds=1)
    with client, pytest.raises(FhirTimeout) as caught:
        client.capabilities()
    assert "did not answer within 1 seconds" in caught.value.brief()
    assert client.request_count == 1


def test_a_fast_answer_within_the_deadline_is_unaffected(empty_fhir_server: Any) -> None:
    with FhirClient(empty_fhir_server.base_url, retries=1, deadline_seconds=5) as client:
        assert client.capabilities()["resourceType"] == "CapabilityStatement"

"""Every seed bundle and the large record load into the real sandbox FHIR server (validation on)."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest
import requests

from smart_app.sandbox.seed import SeedLoadError, build_large_record, post_transaction, seed_bundles, seed_server
from tests.seed.records import resources

pytestmark = pytest.mark.sandbox


def count(base: str, resource_type: str, **params: str) -> int:
    response = requests.get(f"{base}/{resource_type}", params={"_summary": "count", **params}, timeout=30)
    response.raise_for_status()
    return int(response.json()["total"])


def seed_counts() -> Counter[str]:
    return Counter(r["resourceType"] for _, bundle in seed_bundles() for r in resources(bundle))


def test_whole_seed_loads_and_reads_back(empty_fhir_server: Any) -> None:
    loaded = seed_server(empty_fhir_server.base_url)
    expected_ids = [resources(bundle, "Patient")[0]["id"] for name, bundle in seed_bundles() if name != "sandbox-user"]
    assert loaded == expected_ids
    for resource_type, n in seed_counts().items():
        assert count(empty_fhir_server.base_url, resource_type) == n, resource_type
    stored = requests.get(f"{empty_fhir_server.base_url}/Patient/{loaded[0]}", timeout=30).json()
    assert stored["identifier"][0]["value"].startswith("SP-")


def test_loading_twice_leaves_the_same_state(empty_fhir_server: Any) -> None:
    seed_server(empty_fhir_server.base_url)
    first = {kind: count(empty_fhir_server.base_url, kind) for kind in seed_counts()}
    procedure_id = resources(seed_bundles()[1][1], "Procedure")[0]["id"]
    before = requests.get(f"{empty_fhir_server.base_url}/Procedure/{procedure_id}", timeout=30).json()
    seed_server(empty_fhir_server.base_url)
    assert {kind: count(empty_fhir_server.base_url, kind) for kind in seed_counts()} == first
    after = requests.get(f"{empty_fhir_server.base_url}/Procedure/{procedure_id}", timeout=30).json()
    before.pop("meta", None)
    after.pop("meta", None)
    assert after == before


def test_only_loads_the_sandbox_user_and_the_named_patients(empty_fhir_server: Any) -> None:
    loaded = seed_server(empty_fhir_server.base_url, only=["pars-dynamic-instability", "lumbar-mbb-fibromyalgia"])
    assert len(loaded) == 2
    assert count(empty_fhir_server.base_url, "Patient") == 2
    assert count(empty_fhir_server.base_url, "Practitioner") == 1
    with pytest.raises(KeyError):
        seed_server(empty_fhir_server.base_url, only=["no-such-patient"])


def test_large_record_loads(empty_fhir_server: Any) -> None:
    bundle = build_large_record(2000, patient_id="large-record-load-test")
    answer = post_transaction(empty_fhir_server.base_url, "large-record", bundle)
    assert len(answer["entry"]) == 2000
    observations = sum(1 for r in resources(bundle) if r["resourceType"] == "Observation")
    assert count(empty_fhir_server.base_url, "Observation", patient="Patient/large-record-load-test") == observations


def test_refused_bundle_reports_the_diagnostics_and_stores_nothing(empty_fhir_server: Any) -> None:
    name, bundle = seed_bundles(only=["lumbar-mbb-fibromyalgia"])[1]
    broken = copy.deepcopy(bundle)
    resources(broken, "Patient")[0]["birthDate"] = "1959-13-45"
    with pytest.raises(SeedLoadError) as refused:
        post_transaction(empty_fhir_server.base_url, name, broken)
    assert refused.value.status == 400
    assert refused.value.diagnostics and "birthDate" in refused.value.diagnostics
    assert "\n" not in str(refused.value)
    assert count(empty_fhir_server.base_url, "Patient") == 0
    assert count(empty_fhir_server.base_url, "Observation") == 0


def test_server_requiring_a_token_refuses_an_anonymous_load(empty_fhir_server: Any) -> None:
    empty_fhir_server.configure(require_auth=True)
    with pytest.raises(SeedLoadError) as refused:
        seed_server(empty_fhir_server.base_url)
    assert refused.value.status == 401
    assert refused.value.bundle == "sandbox-user"
    empty_fhir_server.configure()
    assert count(empty_fhir_server.base_url, "Practitioner") == 0

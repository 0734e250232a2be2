"""The payer registry (PAYERS) and the staff launch scope."""

from __future__ import annotations

import pytest

from smart_app.config import ConfigError
from smart_app.payer_registry import PayerRegistry
from smart_app.web.staff_launch import is_staff_launch, staff_scope

ENTRY = {"name": "payer-a", "fhir_base": "https://payer.example/fhir", "payer_ids": ["aetna"], "client_id": "us"}


def test_payers_are_found_by_the_payer_profile_they_serve() -> None:
    registry = PayerRegistry([ENTRY, {**ENTRY, "name": "payer-b", "payer_ids": ["medicare"], "program": "erisa"}])
    assert registry.for_payer("aetna").name == "payer-a"  # type: ignore[union-attr]
    assert registry.for_payer("bcbs-nd") is None
    assert registry.programs() == {"aetna": "cms-0057-f", "medicare": "erisa"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fhir_base": "ftp://payer"}, "fhir_base must be an absolute http"),
        ({"payer_ids": []}, "payer_ids must be a non-empty list"),
        ({"program": "state-law"}, "program must be one of"),
        ({"client_id": ""}, "client_id is required"),
        ({"secret": "x"}, "unknown fields secret"),
        ({"name": "Payer A"}, "slug"),
    ],
)
def test_a_bad_entry_is_named_with_its_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PayerRegistry([{**ENTRY, **change}])


def test_the_standalone_staff_scope_asks_for_user_scopes_without_a_patient() -> None:
    scope = staff_scope("launch/patient openid fhirUser patient/Patient.rs patient/Coverage.rs offline_access")
    assert scope == "openid fhirUser user/Patient.rs user/Coverage.rs offline_access"
    assert is_staff_launch("ehr", "launch openid patient/Patient.rs")
    assert is_staff_launch("standalone", scope)
    assert not is_staff_launch("standalone", "launch/patient patient/Patient.rs")

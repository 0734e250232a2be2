"""The sandbox user's own bundle: the signed-in Practitioner, the clinic Organization that employs them and
the PractitionerRole that links the two. Loaded before any patient, whose resources point at them."""

from __future__ import annotations

from typing import Any

from smart_app.sandbox.constants import SANDBOX_ORGANIZATION_ID, SANDBOX_PRACTITIONER_ID
from smart_app.sandbox.seed import vocab
from smart_app.sandbox.seed.builder import ORGANIZATION_REF, PRACTITIONER_REF, transaction_bundle
from smart_app.sandbox.seed.identifiers import npi_with_check_digit
from smart_app.sandbox.seed.ids import seed_uuid

SANDBOX_USER_BUNDLE_NAME = "sandbox-user"
CLINIC_NAME = "Sandbox Spine & Pain Clinic"


def sandbox_user_resources() -> list[dict[str, Any]]:
    practitioner = {
        "resourceType": "Practitioner",
        "id": SANDBOX_PRACTITIONER_ID,
        "identifier": [{"system": vocab.NPI, "value": npi_with_check_digit("199900001")}],
        "active": True,
        "name": [{"use": "official", "family": "Sandoval", "given": ["Casey"], "prefix": ["Dr."], "suffix": ["MD"]}],
        "telecom": [{"system": "email", "value": "casey.sandoval@sandbox.spine-auth.example", "use": "work"}],
        "qualification": [{"code": vocab.concept(text="Doctor of Medicine, board certified in pain medicine")}],
    }
    organization = {
        "resourceType": "Organization",
        "id": SANDBOX_ORGANIZATION_ID,
        "identifier": [
            {"system": vocab.NPI, "value": npi_with_check_digit("199900002")},
            {"system": vocab.SANDBOX_ORGANIZATION_ID_SYSTEM, "value": "sandbox-spine-clinic"},
        ],
        "active": True,
        "type": [
            vocab.concept(
                vocab.coding("http://terminology.hl7.org/CodeSystem/organization-type", "prov", "Healthcare Provider")
            )
        ],
        "name": CLINIC_NAME,
        "telecom": [{"system": "phone", "value": "+1-555-0100", "use": "work"}],
        "address": [{"use": "work", "line": ["1 Example Way"], "city": "Columbus", "state": "OH", "country": "US"}],
    }
    role = {
        "resourceType": "PractitionerRole",
        "id": seed_uuid(SANDBOX_USER_BUNDLE_NAME, "PractitionerRole", "1"),
        "active": True,
        "practitioner": {"reference": PRACTITIONER_REF},
        "organization": {"reference": ORGANIZATION_REF},
        "specialty": [vocab.concept(text="Interventional pain medicine")],
    }
    return [organization, practitioner, role]


def sandbox_user_bundle() -> dict[str, Any]:
    return transaction_bundle(sandbox_user_resources())

"""Identifiers shared by the sandbox authorization server and the seed data."""

from __future__ import annotations

# The signed-in sandbox user (a Practitioner in the seed data); its fhirUser goes into every id_token.
SANDBOX_PRACTITIONER_ID = "5a1d9c0e-7d2b-5f4e-8c3a-1b2d3e4f5a6b"
# The clinic that employs the sandbox practitioner (custodian of documents the app writes in the sandbox).
SANDBOX_ORGANIZATION_ID = "6b2e0d1f-8e3c-5a5f-9d4b-2c3e4f5a6b7c"

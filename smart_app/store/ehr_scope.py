"""The EHR a stored row belongs to. Patient ids are unique only within one EHR, so every row that names a patient
(kept drafts, attestations) also names its EHR, and every lookup matches both."""

from __future__ import annotations


def ehr_key(fhir_base: str) -> str:
    """The EHR a row belongs to: its FHIR base URL (the launch's `iss`) without a trailing slash."""
    return fhir_base.strip().rstrip("/")

"""Registered EHRs as configuration: validation, the iss allowlist, and startup failures for bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from smart_app import create_app
from smart_app.config import ConfigError, EhrRegistry, parse_registration

SANDBOX = {"name": "sandbox", "iss": "https://ehr.example/fhir/", "client_id": "app"}


def test_lookup_by_iss_ignores_a_trailing_slash_and_host_case() -> None:
    registry = EhrRegistry.from_config([SANDBOX, {"name": "hapi", "iss": "https://hapi.fhir.org/baseR4", "open": True}])
    found = registry.by_iss("https://EHR.example/fhir")
    assert found is not None and found.name == "sandbox"
    assert registry.by_iss("https://ehr.example/fhir/other") is None
    assert registry.by_iss("https://ehr.example.evil.com/fhir") is None
    assert registry.frame_ancestors() == ["https://ehr.example"]  # open servers embed no apps


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "Bad Name", "iss": "https://x"}, "slug"),
        ({"name": "x", "iss": "ftp://x"}, "iss"),
        ({"name": "x", "iss": "https://x"}, "client_id"),
        ({"name": "x", "iss": "https://x", "client_id": "a", "client_auth": "client_secret_basic"}, "client_secret"),
        ({"name": "x", "iss": "https://x", "client_id": "a", "client_auth": "magic"}, "client_auth"),
        ({"name": "x", "iss": "https://x", "client_id": "a", "quirks": ["teleport"]}, "quirks"),
        ({"name": "x", "iss": "https://x", "client_id": "a", "scopes": {"write": {"Foo": "z"}}}, "scopes"),
        ({"name": "x", "iss": "https://x", "client_id": "a", "ehr_origins": ["https://a/b"]}, "ehr_origins"),
        ({"name": "x", "iss": "https://x", "client_id": "a", "colour": "red"}, "unknown fields"),
    ],
)
def test_bad_entries_are_refused_with_the_field_named(entry: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_registration(entry)


def test_duplicate_iss_is_refused() -> None:
    with pytest.raises(ConfigError, match="share iss"):
        EhrRegistry.from_config([SANDBOX, {**SANDBOX, "name": "again"}])


def test_app_refuses_to_start_with_a_bad_registry_or_unknown_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="client_id"):
        create_app({"INSTANCE_PATH": str(tmp_path), "EHRS": [{"name": "x", "iss": "https://x"}]})
    entry = {**SANDBOX, "client_auth": "private_key_jwt", "key_id": "no-such-kid"}
    with pytest.raises(ConfigError, match="no signing key"):
        create_app({"INSTANCE_PATH": str(tmp_path), "EHRS": [entry]})


def test_generated_secrets_are_stable_across_restarts(tmp_path: Path) -> None:
    first = create_app({"INSTANCE_PATH": str(tmp_path), "EHRS": [SANDBOX]})
    second = create_app({"INSTANCE_PATH": str(tmp_path), "EHRS": [SANDBOX]})
    kids = [[k.kid for k in app.extensions["spine_auth"].signing_keys] for app in (first, second)]
    assert kids[0] == kids[1]
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    stored = first.extensions["spine_auth"].cipher.encrypt("x")
    assert second.extensions["spine_auth"].cipher.decrypt(stored) == "x"

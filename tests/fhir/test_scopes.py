import pytest

from smart_app.fhir.scopes import (
    ScopeProfile,
    ScopeProfileError,
    build_scope,
    capabilities_from_grant,
    choose_syntax,
    parse_permissions,
)

SMALL = ScopeProfile(read=("Patient", "Condition"), write={"ServiceRequest": "uc"}, refresh="online")


def test_v2_scope_for_an_ehr_launch() -> None:
    scope = build_scope(SMALL, syntax="v2", launch="ehr").split()
    assert scope == [
        "launch",
        "openid",
        "fhirUser",
        "patient/Patient.rs",
        "patient/Condition.rs",
        "patient/ServiceRequest.cu",
        "online_access",
    ]


def test_standalone_launch_asks_for_patient_context_and_offline_access() -> None:
    scope = build_scope(SMALL, syntax="v2", launch="standalone").split()
    assert scope[0] == "launch/patient"
    assert "launch" not in scope
    assert "offline_access" in scope
    assert "online_access" not in scope


def test_v1_scope_uses_read_and_write() -> None:
    profile = ScopeProfile(read=("Condition", "ServiceRequest"), write={"ServiceRequest": "cu"}, identity=False)
    scope = build_scope(profile, syntax="v1", launch="ehr").split()
    assert scope == [
        "launch",
        "patient/Condition.read",
        "patient/ServiceRequest.read",
        "patient/ServiceRequest.write",
        "online_access",
    ]


def test_no_refresh_scope_when_the_profile_says_none() -> None:
    profile = ScopeProfile(read=("Patient",), write={}, refresh="none")
    assert "access" not in build_scope(profile, syntax="v2", launch="standalone")


@pytest.mark.parametrize(
    ("capabilities", "v1_only", "expected"),
    [
        (["permission-v2", "permission-v1"], False, "v2"),
        (["permission-v2"], True, "v1"),
        (["permission-v1"], False, "v1"),
        ([], False, "v1"),
    ],
)
def test_syntax_follows_capabilities_and_quirks(capabilities: list[str], v1_only: bool, expected: str) -> None:
    assert choose_syntax(capabilities, v1_only=v1_only) == expected


def test_profile_from_config_validates() -> None:
    profile = ScopeProfile.from_mapping({"read": ["Patient"], "write": {"DocumentReference": "uc"}, "refresh": "none"})
    assert profile.write == {"DocumentReference": "cu"}
    with pytest.raises(ScopeProfileError, match="unknown"):
        ScopeProfile.from_mapping({"reads": []})
    with pytest.raises(ScopeProfileError, match="letters"):
        ScopeProfile.from_mapping({"write": {"ServiceRequest": "rx"}})
    with pytest.raises(ScopeProfileError, match="resource type"):
        ScopeProfile.from_mapping({"read": ["condition"]})


def test_both_syntaxes_parse_to_the_same_letters() -> None:
    v1, _ = parse_permissions("patient/Condition.read patient/ServiceRequest.write user/*.read")
    v2, _ = parse_permissions("patient/Condition.rs patient/ServiceRequest.cud user/*.rs")
    assert (
        v1
        == v2
        == {
            "Condition": frozenset("rs"),
            "ServiceRequest": frozenset("cud"),
            "*": frozenset("rs"),
        }
    )


def test_out_of_order_letters_are_a_set_and_junk_is_ignored() -> None:
    permissions, restrictions = parse_permissions(
        "patient/Condition.sr patient/Observation.rs?category=laboratory launch openid nonsense/Foo.r patient/X.rr"
    )
    assert permissions == {"Condition": frozenset("rs"), "Observation": frozenset("rs")}
    assert restrictions == {"Observation": ("category=laboratory",)}


def test_downgraded_grant_is_read_only_with_reasons() -> None:
    granted = "launch openid fhirUser patient/Patient.r patient/Condition.rs patient/Procedure.r online_access"
    caps = capabilities_from_grant(granted, wanted_read=("Patient", "Condition", "Procedure", "Coverage"))
    assert caps.readable == {"Patient", "Condition"}
    assert "patient/Procedure.s missing" in caps.unreadable["Procedure"]
    assert "not granted" in caps.unreadable["Coverage"]
    assert caps.writable == frozenset()
    assert not caps.can_write_orders()
    assert caps.missing_order_scopes() == ["patient/ServiceRequest.cu", "patient/DocumentReference.cu"]
    assert caps.refresh_possible
    assert caps.identity


def test_wildcard_grant_covers_every_type_and_writes() -> None:
    caps = capabilities_from_grant("patient/*.cruds", wanted_read=("Patient", "Coverage"))
    assert caps.readable == {"Patient", "Coverage"}
    assert caps.can_write_orders()
    assert not caps.refresh_possible


def test_refresh_token_without_a_refresh_scope_still_counts() -> None:
    caps = capabilities_from_grant("patient/Patient.rs", refresh_token_present=True)
    assert caps.refresh_possible

"""Scope grammar, the drop patterns behind the `drop_scopes` switch, and switch validation (pure functions)."""

from __future__ import annotations

import pytest

from smart_app.sandbox.auth import SwitchError, Switches
from smart_app.sandbox.auth.scopes import drop_scopes, grantable_scopes, parse_resource_scope


def test_grantable_scopes_keep_known_syntax_and_order() -> None:
    asked = (
        "launch openid patient/Condition.rs bogus patient/Condition.rs user/*.read patient/Obs.sr "
        "system/Observation.cruds"
    )
    assert grantable_scopes(asked) == [
        "launch",
        "openid",
        "patient/Condition.rs",
        "user/*.read",
        "system/Observation.cruds",
    ]
    assert grantable_scopes(None) == []


def test_v1_and_v2_parse_to_the_same_permissions() -> None:
    v1 = parse_resource_scope("patient/ServiceRequest.write")
    v2 = parse_resource_scope("patient/ServiceRequest.cud")
    assert v1 is not None and v2 is not None and v1.permissions == v2.permissions == frozenset("cud")
    assert parse_resource_scope("patient/Condition.") is None
    assert parse_resource_scope("doctor/Condition.rs") is None


@pytest.mark.parametrize(
    ("scopes", "patterns", "expected"),
    [
        (
            ["patient/ServiceRequest.cu", "patient/ServiceRequest.write", "patient/Patient.rs"],
            ["patient/ServiceRequest.*"],
            ["patient/Patient.rs"],
        ),
        (["patient/ServiceRequest.write"], ["patient/ServiceRequest.c"], ["patient/ServiceRequest.ud"]),
        (["patient/Condition.read"], ["patient/Condition.s"], ["patient/Condition.r"]),
        (
            ["patient/Condition.rs?category=problem-list-item"],
            ["patient/Condition.s"],
            ["patient/Condition.r?category=problem-list-item"],
        ),
        (["user/Condition.rs", "patient/Condition.rs"], ["*/Condition.rs"], []),
        (["patient/*.rs"], ["patient/Condition.*"], ["patient/*.rs"]),
        (["patient/*.rs", "patient/Condition.rs"], ["patient/*.*"], []),
        (["offline_access", "openid"], ["offline_access"], ["openid"]),
        (["patient/Patient.rs"], ["patient/Patient.cud"], ["patient/Patient.rs"]),
    ],
)
def test_drop_scopes(scopes: list[str], patterns: list[str], expected: list[str]) -> None:
    assert drop_scopes(scopes, patterns) == expected


def test_switches_update_validates_everything_before_changing_anything() -> None:
    switches = Switches().updated({"drop_scopes": ["patient/Coverage.*"], "reject_refresh": True})
    assert switches.drop_scopes == ("patient/Coverage.*",) and switches.reject_refresh is True
    with pytest.raises(SwitchError):
        switches.updated({"reject_refresh": False, "access_token_lifetime": True})
    assert switches.updated({"drop_scopes": None}).drop_scopes == ()

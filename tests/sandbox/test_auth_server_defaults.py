"""The `sandbox_defaults` autouse fixture (tests/conftest.py) restores the switches after any test that used the
authorization server. The two tests run in file order: the first leaves a switch on, the second sees it off."""

from __future__ import annotations

from smart_app.sandbox.auth import AuthServerHandle, Switches


def test_leaves_switches_changed(auth_server: AuthServerHandle) -> None:
    auth_server.set_switches(reject_refresh=True, access_token_lifetime=5, drop_scopes=["patient/*.*"])
    assert auth_server.switches.reject_refresh is True


def test_finds_the_defaults_again(auth_server: AuthServerHandle) -> None:
    assert auth_server.switches == Switches()

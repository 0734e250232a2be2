"""Switches that make the sandbox authorization server misbehave on purpose, so apps can test how they cope."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .scopes import validate_drop_pattern

MAX_TOKEN_LIFETIME = 24 * 3600
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")


class SwitchError(ValueError):
    """A switch name or value the server does not accept; nothing was changed."""


@dataclass(frozen=True)
class Switches:
    """`drop_scopes`: patterns removed from every grant; `access_token_lifetime`: seconds (None = default);
    `reject_refresh`: every refresh token is revoked; `authorize_error`: authorize redirects back with this error;
    `need_patient_banner`: the value sent in token responses; `omit_id_token`: token responses carry no id_token
    even when `openid` was granted."""

    drop_scopes: tuple[str, ...] = field(default=())
    access_token_lifetime: int | None = None
    reject_refresh: bool = False
    authorize_error: str | None = None
    need_patient_banner: bool = True
    omit_id_token: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["drop_scopes"] = list(self.drop_scopes)
        return data

    def updated(self, changes: Mapping[str, Any]) -> Switches:
        """A copy with `changes` applied; a `None` value restores that switch's default. Raises SwitchError."""
        unknown = sorted(set(changes) - set(DEFAULT_SWITCHES.to_json()))
        if unknown:
            raise SwitchError(f"unknown switch(es): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in changes.items():
            values[name] = getattr(DEFAULT_SWITCHES, name) if value is None else _VALIDATORS[name](value)
        return replace(self, **values)


def _drop_scopes(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise SwitchError("drop_scopes must be a list of scope patterns")
    for pattern in value:
        if not isinstance(pattern, str):
            raise SwitchError("drop_scopes must be a list of scope patterns")
        try:
            validate_drop_pattern(pattern)
        except ValueError as error:
            raise SwitchError(str(error)) from error
    return tuple(value)


def _lifetime(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOKEN_LIFETIME:
        raise SwitchError(f"access_token_lifetime must be whole seconds between 1 and {MAX_TOKEN_LIFETIME}")
    return value


def _flag(name: str) -> Any:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise SwitchError(f"{name} must be true or false")
        return value

    return check


def _error_code(value: Any) -> str:
    if not isinstance(value, str) or _ERROR_CODE.match(value) is None:
        raise SwitchError("authorize_error must be an OAuth error code such as 'access_denied'")
    return value


_VALIDATORS = {
    "drop_scopes": _drop_scopes,
    "access_token_lifetime": _lifetime,
    "reject_refresh": _flag("reject_refresh"),
    "authorize_error": _error_code,
    "need_patient_banner": _flag("need_patient_banner"),
    "omit_id_token": _flag("omit_id_token"),
}
DEFAULT_SWITCHES = Switches()

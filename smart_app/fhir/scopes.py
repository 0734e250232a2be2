"""SMART scopes: build the requested scope string from a declarative profile, and read the granted one back.

Requested scopes come from a `ScopeProfile` (what the app reads and writes) rendered in SMART v2 syntax
(`patient/Condition.rs`) or v1 syntax (`patient/Condition.read`), chosen from the server's `capabilities` and the
EHR's quirks. The granted scope string is parsed in both syntaxes into `ScopeCapabilities`: which types can be
read, which can be written, whether a refresh is possible. Grants may differ from requests (SMART App Launch 2,
scopes-and-launch-context.md "Granted scope ≠ requested"), so the app decides what to offer from the grant alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from smart_app.fhir.record import RECORD_INCLUDED_TYPES, RECORD_TYPES

ScopeSyntax = Literal["v1", "v2"]
LaunchKind = Literal["ehr", "standalone"]
RefreshMode = Literal["online", "offline", "none"]

V2_LETTERS = "cruds"
V1_TO_V2 = {"read": "rs", "write": "cud", "*": "cruds"}
RECORD_READ_TYPES: tuple[str, ...] = (*RECORD_TYPES, *RECORD_INCLUDED_TYPES)  # what the record fetch reads
ORDER_WRITE_TYPES: tuple[str, ...] = ("ServiceRequest", "DocumentReference")
# The draft-order workflow re-reads its own Provenance (and Device, a record type) to stay idempotent.
ORDER_REREAD_TYPES: tuple[str, ...] = ("Provenance",)

_RESOURCE_SCOPE = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]+)\.(?P<perm>read|write|\*|[cruds]+)(?:\?(?P<query>.+))?$"
)
_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]+$")


class ScopeProfileError(ValueError):
    """A scope profile in the configuration is malformed."""


@dataclass(frozen=True)
class ScopeProfile:
    """What the app asks for, independent of the scope syntax.

    `read`: resource types read (searched) for the patient; `write`: type → v2 letters among c, u, d;
    `identity`: ask for `openid fhirUser`; `refresh`: `online` (EHR launch only; a standalone launch asks for
    `offline_access` instead, since SMART 2.2 restricts `online_access` to EHR launch) or `offline` or `none`.
    """

    read: tuple[str, ...] = (*RECORD_READ_TYPES, *ORDER_REREAD_TYPES)
    write: Mapping[str, str] = field(
        default_factory=lambda: {"ServiceRequest": "cu", "DocumentReference": "cu", "Provenance": "c", "Device": "c"}
    )
    identity: bool = True
    refresh: RefreshMode = "online"
    extra: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ScopeProfile:
        """A profile from configuration (`{"read": [...], "write": {...}, "identity": bool, "refresh": ...}`).

        Raises:
            ScopeProfileError: unknown keys, a bad resource type or bad write letters.
        """
        unknown = set(data) - {"read", "write", "identity", "refresh", "extra"}
        if unknown:
            raise ScopeProfileError(f"unknown scope profile keys: {', '.join(sorted(unknown))}")
        default = cls()
        read = tuple(data.get("read", default.read))
        for resource_type in read:
            _check_type(resource_type)
        write_raw = data.get("write", default.write)
        if not isinstance(write_raw, Mapping):
            raise ScopeProfileError("scope profile 'write' must map a resource type to letters such as 'cu'")
        write: dict[str, str] = {}
        for resource_type, letters in write_raw.items():
            _check_type(resource_type)
            if not letters or set(letters) - set("cud"):
                raise ScopeProfileError(f"write letters for {resource_type} must be among c, u, d: {letters!r}")
            write[resource_type] = _ordered(letters)
        refresh = data.get("refresh", default.refresh)
        if refresh not in ("online", "offline", "none"):
            raise ScopeProfileError(f"scope profile 'refresh' must be online, offline or none: {refresh!r}")
        return cls(
            read=read,
            write=write,
            identity=bool(data.get("identity", default.identity)),
            refresh=refresh,
            extra=tuple(data.get("extra", ())),
        )


def _check_type(resource_type: object) -> None:
    if not isinstance(resource_type, str) or not _RESOURCE_TYPE.match(resource_type):
        raise ScopeProfileError(f"not a FHIR resource type: {resource_type!r}")


def _ordered(letters: Iterable[str]) -> str:
    wanted = set(letters)
    return "".join(letter for letter in V2_LETTERS if letter in wanted)


def choose_syntax(capabilities: Iterable[str], *, v1_only: bool = False) -> ScopeSyntax:
    """v2 when the server advertises `permission-v2` (and no quirk forbids it), else v1, the older common ground."""
    if v1_only:
        return "v1"
    return "v2" if "permission-v2" in set(capabilities) else "v1"


def build_scope(profile: ScopeProfile, *, syntax: ScopeSyntax, launch: LaunchKind) -> str:
    """The space-separated scope string for an authorize request."""
    scopes: list[str] = ["launch" if launch == "ehr" else "launch/patient"]
    if profile.identity:
        scopes += ["openid", "fhirUser"]
    permissions: dict[str, set[str]] = {}
    for resource_type in profile.read:
        permissions.setdefault(resource_type, set()).update("rs")
    for resource_type, letters in profile.write.items():
        permissions.setdefault(resource_type, set()).update(letters)
    for resource_type, granted_letters in permissions.items():
        scopes += _render(resource_type, granted_letters, syntax)
    if profile.refresh == "online" and launch == "ehr":
        scopes.append("online_access")
    elif profile.refresh != "none":
        scopes.append("offline_access")
    scopes += [scope for scope in profile.extra if scope not in scopes]
    return " ".join(scopes)


def _render(resource_type: str, letters: set[str], syntax: ScopeSyntax) -> list[str]:
    if syntax == "v2":
        return [f"patient/{resource_type}.{_ordered(letters)}"]
    rendered = []
    if letters & set("rs"):
        rendered.append(f"patient/{resource_type}.read")
    if letters & set("cud"):
        rendered.append(f"patient/{resource_type}.write")
    return rendered


@dataclass(frozen=True)
class ScopeCapabilities:
    """What a grant allows, in app terms.

    `readable`: types the record fetch may search (Patient needs only `r`, it is read by id); `unreadable`: type →
    the reason it is not readable; `writable`: types that may be created; `restricted`: type → the `?query`
    restrictions of v2 scopes (the server filters what it returns); `refresh_possible`: an offline/online scope was
    granted or a refresh token came back (Epic issues refresh tokens without listing the scope).
    """

    granted: tuple[str, ...]
    permissions: Mapping[str, frozenset[str]]
    readable: frozenset[str]
    unreadable: Mapping[str, str]
    writable: frozenset[str]
    restricted: Mapping[str, tuple[str, ...]]
    refresh_possible: bool
    identity: bool

    def allows(self, resource_type: str, letter: str) -> bool:
        """True when `letter` (one of c r u d s) is granted for `resource_type`, directly or by a `*` scope."""
        return letter in self.permissions.get(resource_type, frozenset()) or letter in self.permissions.get(
            "*", frozenset()
        )

    def can_write_orders(self, order_types: Iterable[str] = ORDER_WRITE_TYPES) -> bool:
        """True when every type the draft order writes may be created and updated."""
        return all(self.allows(t, "c") and self.allows(t, "u") for t in order_types)

    def missing_order_scopes(self, order_types: Iterable[str] = ORDER_WRITE_TYPES) -> list[str]:
        """The v2 scopes the order write still needs, for the read-only notice."""
        missing = []
        for resource_type in order_types:
            letters = "".join(letter for letter in "cu" if not self.allows(resource_type, letter))
            if letters:
                missing.append(f"patient/{resource_type}.{letters}")
        return missing


def parse_permissions(scope_string: str) -> tuple[dict[str, frozenset[str]], dict[str, tuple[str, ...]]]:
    """Type (or `*`) → granted letters, and type → v2 query restrictions, from v1 and v2 scopes alike.

    The context prefix (patient/, user/, system/) is not distinguished: any of them lets the app act on the
    launched patient's data. v2 letters out of order are read as a set; unknown tokens are ignored.
    """
    permissions: dict[str, set[str]] = {}
    restrictions: dict[str, list[str]] = {}
    for token in scope_string.split():
        match = _RESOURCE_SCOPE.match(token)
        if not match:
            continue
        perm = match["perm"]
        letters = V1_TO_V2.get(perm, perm)
        if len(set(letters)) != len(letters):
            continue
        permissions.setdefault(match["type"], set()).update(letters)
        if match["query"]:
            restrictions.setdefault(match["type"], []).append(match["query"])
    return (
        {t: frozenset(letters) for t, letters in permissions.items()},
        {t: tuple(queries) for t, queries in restrictions.items()},
    )


def capabilities_from_grant(
    scope_string: str,
    *,
    wanted_read: Iterable[str] = RECORD_READ_TYPES,
    wanted_write: Iterable[str] = ORDER_WRITE_TYPES,
    refresh_token_present: bool = False,
) -> ScopeCapabilities:
    """Turn the granted scope string into what the app may do with the types it cares about."""
    tokens = tuple(scope_string.split())
    permissions, restrictions = parse_permissions(scope_string)
    wildcard = permissions.get("*", frozenset())

    def letters(resource_type: str) -> frozenset[str]:
        return permissions.get(resource_type, frozenset()) | wildcard

    readable: set[str] = set()
    unreadable: dict[str, str] = {}
    for resource_type in wanted_read:
        needed = "r" if resource_type == "Patient" else "s"
        if needed in letters(resource_type):
            readable.add(resource_type)
        elif letters(resource_type) & set("rs"):
            unreadable[resource_type] = f"scope granted without '{needed}': patient/{resource_type}.{needed} missing"
        else:
            unreadable[resource_type] = f"read scope not granted (patient/{resource_type}.rs)"
    writable = {t for t in wanted_write if "c" in letters(t)}
    refresh_possible = refresh_token_present or bool({"online_access", "offline_access"} & set(tokens))
    return ScopeCapabilities(
        granted=tokens,
        permissions=permissions,
        readable=frozenset(readable),
        unreadable=unreadable,
        writable=frozenset(writable),
        restricted=restrictions,
        refresh_possible=refresh_possible,
        identity="openid" in tokens,
    )

"""SMART scope handling on the server side: which requested scopes are granted, and the `drop_scopes` switch.

Resource scopes come in two syntaxes: v1 (`patient/Condition.read`, `.write`, `.*`) and v2
(`patient/Condition.rs`, letters in `cruds` order, optional `?param=value`). Both are parsed into a context, a
resource type and a set of permission letters, so one drop pattern removes a permission whichever syntax the app
used.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

#: Scopes that carry no resource access but that the server understands and grants as asked (in the order
#: `scopes_supported` lists them).
_NON_RESOURCE_SCOPES = (
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "launch/encounter",
    "offline_access",
    "online_access",
)
NON_RESOURCE_SCOPES = frozenset(_NON_RESOURCE_SCOPES)
REFRESH_SCOPES = frozenset({"offline_access", "online_access"})
PERMISSION_ORDER = "cruds"
V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}

_RESOURCE_SCOPE = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]+)\.(?P<perm>read|write|\*|c?r?u?d?s?)(?P<query>\?\S*)?$"
)
_DROP_PATTERN = re.compile(r"^(?P<context>[a-z*]+)/(?P<type>[A-Za-z*]+)\.(?P<perm>read|write|\*|[cruds]+)$")


@dataclass(frozen=True)
class ResourceScope:
    """A parsed resource scope. `v1` remembers the syntax the app used so an untouched scope is echoed verbatim."""

    context: str
    resource_type: str
    permissions: frozenset[str]
    query: str = ""
    v1: bool = False

    def to_v2(self) -> str:
        letters = "".join(letter for letter in PERMISSION_ORDER if letter in self.permissions)
        return f"{self.context}/{self.resource_type}.{letters}{self.query}"


@functools.lru_cache(maxsize=4096)  # a pure function of the string; every launch asks the same few dozen scopes
def parse_resource_scope(scope: str) -> ResourceScope | None:
    """Parse `patient/Condition.rs` or `user/*.read`; None when `scope` is not a well-formed resource scope."""
    match = _RESOURCE_SCOPE.match(scope)
    if match is None or match["perm"] == "":
        return None
    perm = match["perm"]
    v1 = perm in V1_PERMISSIONS
    letters = V1_PERMISSIONS[perm] if v1 else perm
    return ResourceScope(match["context"], match["type"], frozenset(letters), match["query"] or "", v1)


def is_grantable(scope: str) -> bool:
    """A scope the sandbox understands (anything else is left out of the grant, as SMART allows)."""
    return scope in NON_RESOURCE_SCOPES or parse_resource_scope(scope) is not None


def grantable_scopes(requested: str | None) -> list[str]:
    """The requested scopes the server will grant, in the order asked, without duplicates."""
    granted: list[str] = []
    for scope in (requested or "").split():
        if is_grantable(scope) and scope not in granted:
            granted.append(scope)
    return granted


def validate_drop_pattern(pattern: str) -> None:
    """Raise ValueError unless `pattern` is a scope pattern such as `patient/ServiceRequest.*` or `offline_access`."""
    if not pattern or any(char.isspace() for char in pattern):
        raise ValueError(f"drop_scopes: {pattern!r} is not a scope pattern")
    if "/" in pattern and pattern not in NON_RESOURCE_SCOPES and _DROP_PATTERN.match(pattern) is None:
        raise ValueError(
            f"drop_scopes: {pattern!r} is not a scope pattern (expected context/Type.permissions, "
            "e.g. 'patient/ServiceRequest.*' or 'user/*.cu')"
        )


def drop_scopes(scopes: Iterable[str], patterns: Sequence[str]) -> list[str]:
    """Remove what `patterns` name from `scopes`.

    A resource pattern `context/Type.perm` matches scopes whose context and type match (`*` matches anything) and
    removes its permissions (`*` = all, v1 or v2 letters); a scope that keeps some permissions is re-emitted in v2
    syntax. Any other pattern removes the scope with that exact name (shell-style wildcards allowed).
    """
    result: list[str] = []
    for scope in scopes:
        remaining: str | None = scope
        for pattern in patterns:
            if remaining is None:
                break
            remaining = _apply_pattern(remaining, pattern)
        if remaining is not None:
            result.append(remaining)
    return result


def _apply_pattern(scope: str, pattern: str) -> str | None:
    drop = _DROP_PATTERN.match(pattern)
    parsed = parse_resource_scope(scope)
    if drop is None or parsed is None:
        return None if fnmatchcase(scope, pattern) else scope
    if not (fnmatchcase(parsed.context, drop["context"]) and fnmatchcase(parsed.resource_type, drop["type"])):
        return scope
    removed = frozenset(V1_PERMISSIONS.get(drop["perm"], drop["perm"]))
    kept = parsed.permissions - removed
    if not kept:
        return None
    if kept == parsed.permissions:
        return scope
    return ResourceScope(parsed.context, parsed.resource_type, kept, parsed.query).to_v2()


def wants_refresh_token(scopes: Iterable[str]) -> bool:
    return any(scope in REFRESH_SCOPES for scope in scopes)


#: Advertised in `scopes_supported`.
SUPPORTED_SCOPES = (
    *_NON_RESOURCE_SCOPES,
    "patient/*.cruds",
    "patient/*.rs",
    "patient/*.read",
    "patient/*.write",
    "user/*.cruds",
    "user/*.rs",
    "user/*.read",
    "user/*.write",
    "system/*.rs",
)

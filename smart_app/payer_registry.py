"""The payers the app may submit prior-authorization requests to (setting `PAYERS`), like the EHR registry.

Each entry:

    name          unique slug ([a-z0-9-]), used in URLs (the notification endpoint) and the audit log
    title         shown to staff (default: name)
    fhir_base     the payer's PAS FHIR base (Claim/$submit, Claim/$inquire, Subscription)
    payer_ids     our payer profile ids (rules/payers/*.yaml) this endpoint serves, e.g. ["medicare", "aetna"]
    client_id     our client id at the payer (SMART Backend Services)
    key_id        the kid of one of our SIGNING_KEYS for the private_key_jwt assertion (default: the first key)
    token_url     the payer's token endpoint (default: from {fhir_base}/.well-known/smart-configuration)
    program       the decision clock: "cms-0057-f" (default) or "erisa" (core.prior_auth.DECISION_CLOCKS)
    notify        true (default): subscribe for rest-hook notifications of pended decisions
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from smart_app.config import ConfigError
from smart_app.core.prior_auth import DECISION_CLOCKS, DEFAULT_PROGRAM

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_KEYS = frozenset({"name", "title", "fhir_base", "payer_ids", "client_id", "key_id", "token_url", "program", "notify"})


@dataclass(frozen=True)
class PayerRegistration:
    name: str
    title: str
    fhir_base: str
    payer_ids: tuple[str, ...]
    client_id: str
    key_id: str | None = None
    token_url: str | None = None
    program: str = DEFAULT_PROGRAM
    notify: bool = True


def _url(value: object, where: str) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname:
        raise ConfigError(f"{where} must be an absolute http(s) URL")
    return value.rstrip("/")


def parse_payer(entry: Mapping[str, Any]) -> PayerRegistration:
    """Validate one `PAYERS` entry (ConfigError names the entry and the field)."""
    if not isinstance(entry, Mapping):
        raise ConfigError("each PAYERS entry must be a mapping")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"PAYERS entry name must be a slug of a-z, 0-9 and '-': {name!r}")
    where = f"PAYERS[{name}]"
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown fields {', '.join(sorted(unknown))}")
    payer_ids = entry.get("payer_ids") or []
    if isinstance(payer_ids, str) or not all(isinstance(item, str) for item in payer_ids) or not payer_ids:
        raise ConfigError(f"{where}: payer_ids must be a non-empty list of payer profile ids")
    client_id = entry.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise ConfigError(f"{where}: client_id is required")
    program = entry.get("program", DEFAULT_PROGRAM)
    if program not in DECISION_CLOCKS:
        raise ConfigError(f"{where}: program must be one of {', '.join(DECISION_CLOCKS)}")
    token_url = entry.get("token_url")
    return PayerRegistration(
        name=name,
        title=str(entry.get("title") or name),
        fhir_base=_url(entry.get("fhir_base"), f"{where}.fhir_base"),
        payer_ids=tuple(payer_ids),
        client_id=client_id,
        key_id=entry.get("key_id"),
        token_url=_url(token_url, f"{where}.token_url") if token_url else None,
        program=str(program),
        notify=bool(entry.get("notify", True)),
    )


class PayerRegistry:
    """The configured payer endpoints, by name or by the payer profile id they serve."""

    def __init__(self, entries: object) -> None:
        if not isinstance(entries, list | tuple):
            raise ConfigError("PAYERS must be a list of payer endpoints")
        self._by_name: dict[str, PayerRegistration] = {}
        for registration in (parse_payer(entry) for entry in entries):
            if registration.name in self._by_name:
                raise ConfigError(f"PAYERS: duplicate name {registration.name}")
            self._by_name[registration.name] = registration

    def __iter__(self) -> Iterator[PayerRegistration]:
        return iter(self._by_name.values())

    def by_name(self, name: str) -> PayerRegistration | None:
        return self._by_name.get(name)

    def for_payer(self, payer_id: str) -> PayerRegistration | None:
        return next((r for r in self._by_name.values() if payer_id in r.payer_ids), None)

    def programs(self) -> dict[str, str]:
        """Payer profile id → decision-clock program, for the worklist store."""
        return {payer_id: r.program for r in self._by_name.values() for payer_id in r.payer_ids}

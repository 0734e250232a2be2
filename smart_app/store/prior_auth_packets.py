"""The packet kept with a prior-authorization request: what staff download and what submission sends.

    keep_packet(database, request_id, packet, now=…)   # insert or replace (one packet per request), + history event
    kept_packet(database, request_id)                  # KeptPacket | None

A rebuild replaces the kept packet in the same transaction that records the rebuild in the request's history, so
the history keeps every build while the request holds only the newest one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from smart_app.store.db import Database
from smart_app.store.prior_auth_tables import PacketRow, PriorAuthEventRow, PriorAuthRequestRow


@dataclass(frozen=True)
class KeptPacket:
    built_at: float
    built_by: str
    digest: str
    file_name: str
    pas_bundle: dict[str, Any]
    questionnaire_response: dict[str, Any]
    pdf: bytes
    zip: bytes
    choices: dict[str, str] = field(default_factory=dict)  # the packet form as posted (urgency, dates, facility…)


def keep_packet(database: Database, request_id: str, packet: KeptPacket) -> bool:
    """Keep `packet` with the request, replacing an older one; True when it replaced one. Raises LookupError for
    an unknown request."""
    with database.session() as db:
        request = db.get(PriorAuthRequestRow, request_id)
        if request is None:
            raise LookupError(request_id)
        row = db.get(PacketRow, request_id)
        replaced = row is not None
        if row is None:
            row = PacketRow(request_id=request_id)
            db.add(row)
        row.built_at = packet.built_at
        row.built_by = packet.built_by[:200]
        row.digest = packet.digest[:64]
        row.file_name = packet.file_name[:120]
        row.pas_bundle_json = json.dumps(packet.pas_bundle, sort_keys=True)
        row.questionnaire_response_json = json.dumps(packet.questionnaire_response, sort_keys=True)
        row.choices_json = json.dumps(packet.choices, sort_keys=True)
        row.pdf = packet.pdf
        row.zip = packet.zip
        request.updated_at = packet.built_at
        db.add(
            PriorAuthEventRow(
                request_id=request_id,
                at=packet.built_at,
                actor=packet.built_by[:200],
                kind="packet",
                note=f"packet {'rebuilt' if replaced else 'built'} (digest {packet.digest[:12]})",
            )
        )
        return replaced


def kept_packet(database: Database, request_id: str) -> KeptPacket | None:
    with database.session() as db:
        row = db.scalar(select(PacketRow).where(PacketRow.request_id == request_id))
        if row is None:
            return None
        return KeptPacket(
            built_at=row.built_at,
            built_by=row.built_by,
            digest=row.digest,
            file_name=row.file_name,
            pas_bundle=json.loads(row.pas_bundle_json),
            questionnaire_response=json.loads(row.questionnaire_response_json),
            pdf=bytes(row.pdf),
            zip=bytes(row.zip),
            choices=json.loads(row.choices_json or "{}"),
        )


def request_id_of_order(database: Database, ehr_name: str, order_key: str) -> str | None:
    """The worklist request of a draft order at one EHR, if the order entered the worklist."""
    with database.session() as db:
        return db.scalar(
            select(PriorAuthRequestRow.id).where(
                PriorAuthRequestRow.ehr_name == ehr_name, PriorAuthRequestRow.order_key == order_key
            )
        )

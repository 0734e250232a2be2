"""The worklist's value types: what a saved order tells the worklist (`RequestEntry`), a request as staff see it
(`PriorAuthRequest`, with its decision clock computed for a moment), a query and a page of results."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from smart_app.core import prior_auth as lifecycle
from smart_app.store.prior_auth_tables import PriorAuthRequestRow


@dataclass(frozen=True)
class RequestEntry:
    """What a saved draft order tells the worklist (from the check result and the record)."""

    ehr_name: str
    order_key: str
    patient_ref: str
    patient_name: str
    birth_date: str
    member_id: str
    mrn: str
    procedure: str
    cpt: str
    levels: str
    side: str
    payer_id: str
    payer_name: str
    ordering_provider: str
    verdict: str
    details: dict[str, Any] = field(default_factory=dict)
    priority: str = "standard"


@dataclass(frozen=True)
class PriorAuthRequest:
    """One worklist row, with the clock computed for `now`."""

    id: str
    ehr_name: str
    order_key: str
    created_at: float
    updated_at: float
    patient_ref: str
    patient_name: str
    birth_date: str
    member_id: str
    mrn: str
    procedure: str
    cpt: str
    levels: str
    side: str
    payer_id: str
    payer_name: str
    ordering_provider: str
    verdict: str
    status: str
    assignee: str
    priority: str
    program: str
    submitted_at: float | None
    received_at: float | None
    due_at: float | None
    auth_number: str
    auth_start: str | None
    auth_end: str | None
    denial_reason: str
    claim_identifier: str
    details: dict[str, Any]
    due_state: str
    expiring: bool
    attention: bool

    @property
    def status_label(self) -> str:
        return lifecycle.STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class WorklistQuery:
    view: str = "all"
    status: str = ""
    payer: str = ""
    q: str = ""
    sort: str = "updated"
    descending: bool = True
    page: int = 1
    page_size: int = 50
    me: str = ""
    ehr_name: str = ""  # the practice's EHR: a launch sees the requests of its own EHR only


@dataclass(frozen=True)
class WorklistPage:
    items: list[PriorAuthRequest]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class RequestEvent:
    at: float
    actor: str
    kind: str
    from_status: str
    to_status: str
    note: str


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def view_of(row: PriorAuthRequestRow, now: float) -> PriorAuthRequest:
    moment = to_datetime(now)
    received = to_datetime(row.received_at) if row.received_at is not None else None
    due = to_datetime(row.due_at) if row.due_at is not None else None
    due_state = lifecycle.due_state(row.status, moment, received, due)
    auth_end = date.fromisoformat(row.auth_end) if row.auth_end else None
    expiring = lifecycle.expiring_soon(row.status, moment.date(), auth_end)
    return PriorAuthRequest(
        id=row.id,
        ehr_name=row.ehr_name,
        order_key=row.order_key,
        created_at=row.created_at,
        updated_at=row.updated_at,
        patient_ref=row.patient_ref,
        patient_name=row.patient_name,
        birth_date=row.birth_date,
        member_id=row.member_id,
        mrn=row.mrn,
        procedure=row.procedure,
        cpt=row.cpt,
        levels=row.levels,
        side=row.side,
        payer_id=row.payer_id,
        payer_name=row.payer_name,
        ordering_provider=row.ordering_provider,
        verdict=row.verdict,
        status=row.status,
        assignee=row.assignee,
        priority=row.priority,
        program=row.program,
        submitted_at=row.submitted_at,
        received_at=row.received_at,
        due_at=row.due_at,
        auth_number=row.auth_number,
        auth_start=row.auth_start,
        auth_end=row.auth_end,
        denial_reason=row.denial_reason,
        claim_identifier=row.claim_identifier,
        details=json.loads(row.details_json or "{}"),
        due_state=due_state,
        expiring=expiring,
        attention=lifecycle.needs_attention(row.status, due_state, expiring),
    )

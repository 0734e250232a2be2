"""The prior-authorization worklist store: requests enter when a clinician saves a draft order, move through the
lifecycle of `core.prior_auth` (every move checked against its transition table and recorded with who, when and a
note), and are listed a page at a time with the filters staff use.

    store = PriorAuthStore(database)
    request, created = store.enter(entry, actor="Practitioner/1", now=time.time())
    store.page(WorklistQuery(view="attention", q="smith"), now=time.time())  → WorklistPage (server-side paging)
    store.transition(request_id, "ready", actor_kind="staff", actor="Practitioner/2", now=…, note="…")
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from smart_app.core import prior_auth as lifecycle
from smart_app.store.db import Database
from smart_app.store.prior_auth_models import (
    PriorAuthRequest,
    RequestEntry,
    RequestEvent,
    WorklistPage,
    WorklistQuery,
    to_datetime,
    view_of,
)
from smart_app.store.prior_auth_queries import MAX_PAGE_SIZE, SORTS, VIEWS, order_by
from smart_app.store.prior_auth_queries import conditions as where_clauses
from smart_app.store.prior_auth_tables import ClaimResponseRow, PriorAuthEventRow, PriorAuthRequestRow

__all__ = [
    "SORTS",
    "VIEWS",
    "PriorAuthRequest",
    "PriorAuthStore",
    "RequestEntry",
    "RequestEvent",
    "RequestNotFound",
    "WorklistPage",
    "WorklistQuery",
]


class RequestNotFound(LookupError):
    """No prior-authorization request with that id."""


def _search_text(*parts: str) -> str:
    return " | ".join(part.lower() for part in parts if part)[:600]


class PriorAuthStore:
    """Prior-authorization requests in the app's database (thread-safe: one session per call)."""

    def __init__(self, database: Database, *, program_of: dict[str, str] | None = None) -> None:
        self.database = database
        self.program_of = program_of or {}

    # --- entering and reading ------------------------------------------------------------------------------------

    def enter(self, entry: RequestEntry, *, actor: str, now: float) -> tuple[PriorAuthRequest, bool]:
        """Add the request of a saved draft order, or refresh it while it is still a draft or ready (saving the same
        order again); a request already with the payer keeps what was submitted. True when it was created."""
        with self.database.session() as db:
            row = db.scalar(
                select(PriorAuthRequestRow).where(
                    PriorAuthRequestRow.ehr_name == entry.ehr_name, PriorAuthRequestRow.order_key == entry.order_key
                )
            )
            created = row is None
            if row is None:
                row = PriorAuthRequestRow(
                    id=str(uuid.uuid4()),
                    ehr_name=entry.ehr_name,
                    order_key=entry.order_key,
                    created_at=now,
                    status=lifecycle.DRAFT,
                    claim_identifier=uuid.uuid4().hex,
                    program=self.program_of.get(entry.payer_id, lifecycle.DEFAULT_PROGRAM),
                )
                db.add(row)
            if created or row.status in (lifecycle.DRAFT, lifecycle.READY):
                _fill(row, entry)
                row.updated_at = now
                db.flush()
                _event(
                    db,
                    row.id,
                    now,
                    actor,
                    "status" if created else "note",
                    to_status=row.status,
                    note="draft order saved" if created else "draft order saved again",
                )
            return view_of(row, now), created

    def get(self, request_id: str, *, now: float) -> PriorAuthRequest:
        with self.database.session() as db:
            return view_of(_row(db, request_id), now)

    def by_claim_identifier(self, identifier: str, *, now: float) -> PriorAuthRequest | None:
        with self.database.session() as db:
            row = db.scalar(select(PriorAuthRequestRow).where(PriorAuthRequestRow.claim_identifier == identifier))
            return view_of(row, now) if row else None

    def page(self, query: WorklistQuery, *, now: float) -> WorklistPage:
        """One page of the worklist for `query` (filters, search and sort run in the database)."""
        size = min(max(query.page_size, 1), MAX_PAGE_SIZE)
        page = max(query.page, 1)
        conditions = where_clauses(query, now)
        with self.database.session() as db:
            total = db.scalar(select(func.count()).select_from(PriorAuthRequestRow).where(*conditions)) or 0
            # Page the ids first (read from an index), then load only those rows: a deep page stays cheap.
            ids = list(
                db.scalars(
                    select(PriorAuthRequestRow.id)
                    .where(*conditions)
                    .order_by(*order_by(query))
                    .offset((page - 1) * size)
                    .limit(size)
                )
            )
            rows = {
                row.id: row for row in db.scalars(select(PriorAuthRequestRow).where(PriorAuthRequestRow.id.in_(ids)))
            }
            return WorklistPage([view_of(rows[i], now) for i in ids if i in rows], int(total), page, size)

    def rows(self, query: WorklistQuery, *, now: float, limit: int = 100_000) -> Iterator[PriorAuthRequest]:
        """Every request matching `query` (no paging), for the CSV export."""
        with self.database.session() as db:
            statement = select(PriorAuthRequestRow).where(*where_clauses(query, now)).order_by(*order_by(query))
            for row in db.scalars(statement.limit(limit)):
                yield view_of(row, now)

    def payers(self) -> list[str]:
        with self.database.session() as db:
            return list(db.scalars(select(PriorAuthRequestRow.payer_id).distinct().order_by("payer_id")))

    def history(self, request_id: str) -> list[RequestEvent]:
        with self.database.session() as db:
            rows = db.scalars(
                select(PriorAuthEventRow)
                .where(PriorAuthEventRow.request_id == request_id)
                .order_by(PriorAuthEventRow.id)
            )
            return [RequestEvent(r.at, r.actor, r.kind, r.from_status, r.to_status, r.note) for r in rows]

    def claim_responses(self, request_id: str) -> list[dict[str, Any]]:
        """The payer's ClaimResponses for a request, oldest first, each `{received_at, via, resource}`."""
        with self.database.session() as db:
            rows = db.scalars(
                select(ClaimResponseRow).where(ClaimResponseRow.request_id == request_id).order_by(ClaimResponseRow.id)
            )
            return [
                {"received_at": r.received_at, "via": r.via, "resource": json.loads(r.claim_response_json)}
                for r in rows
            ]

    # --- changes -------------------------------------------------------------------------------------------------

    def transition(
        self,
        request_id: str,
        target: str,
        *,
        actor_kind: lifecycle.Actor,
        actor: str,
        now: float,
        note: str = "",
        auth_number: str | None = None,
        auth_period: tuple[str | None, str | None] | None = None,
        denial_reason: str | None = None,
    ) -> PriorAuthRequest:
        """Move a request (TransitionError when the table does not allow it), recording who, when and why."""
        with self.database.session() as db:
            row = _row(db, request_id, lock=True)
            lifecycle.check_transition(row.status, target, actor_kind)
            before = row.status
            row.status = target
            row.updated_at = now
            if auth_number is not None:
                row.auth_number = auth_number
            if auth_period is not None:
                row.auth_start, row.auth_end = auth_period
            if denial_reason is not None:
                row.denial_reason = denial_reason
            row.search_text = _search_text(row.patient_name, row.member_id, row.mrn, row.auth_number)
            _event(db, row.id, now, actor, "status", from_status=before, to_status=target, note=note)
            return view_of(row, now)

    def assign(self, request_id: str, assignee: str, *, actor: str, now: float) -> PriorAuthRequest:
        with self.database.session() as db:
            row = _row(db, request_id)
            row.assignee = assignee.strip()[:200]
            row.updated_at = now
            _event(db, row.id, now, actor, "assign", note=row.assignee or "unassigned")
            return view_of(row, now)

    def add_note(self, request_id: str, note: str, *, actor: str, now: float) -> None:
        with self.database.session() as db:
            row = _row(db, request_id)
            row.updated_at = now
            _event(db, row.id, now, actor, "note", note=note.strip()[:4000])

    def begin_sending(self, request_id: str, *, now: float) -> bool:
        """Claim the right to send this request to the payer: True for exactly one caller while it is ready and no
        send is in flight (an atomic compare-and-set, so a double click or two staff never send twice)."""
        with self.database.session() as db:
            result = db.execute(
                update(PriorAuthRequestRow)
                .where(
                    PriorAuthRequestRow.id == request_id,
                    PriorAuthRequestRow.status == lifecycle.READY,
                    PriorAuthRequestRow.sending.is_(False),
                )
                .values(sending=True, updated_at=now)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def set_priority(self, request_id: str, priority: str, *, actor: str, now: float) -> None:
        """Standard or expedited (the payer's decision clock depends on it); recorded when it changes."""
        if priority not in ("standard", "expedited"):
            raise ValueError("priority must be standard or expedited")
        with self.database.session() as db:
            row = _row(db, request_id)
            if row.priority != priority:
                row.priority = priority
                _event(db, row.id, now, actor, "note", note=f"priority: {priority}")

    def end_sending(self, request_id: str) -> None:
        with self.database.session() as db:
            db.execute(update(PriorAuthRequestRow).where(PriorAuthRequestRow.id == request_id).values(sending=False))

    def mark_submitted(
        self, request_id: str, *, actor: str, now: float, priority: str | None = None
    ) -> PriorAuthRequest:
        """Ready → submitted: the payer received it now, so the decision clock starts now."""
        with self.database.session() as db:
            row = _row(db, request_id, lock=True)
            lifecycle.check_transition(row.status, lifecycle.SUBMITTED, "staff")
            if priority in ("standard", "expedited"):
                row.priority = priority
            received = to_datetime(now)
            due = lifecycle.decision_due(
                received, "expedited" if row.priority == "expedited" else "standard", row.program
            )
            row.status = lifecycle.SUBMITTED
            row.submitted_at = row.received_at = now
            row.due_at = due.timestamp()
            row.warn_at = (due - lifecycle.warning_window(received, due)).timestamp()
            row.updated_at = now
            _event(
                db,
                row.id,
                now,
                actor,
                "submit",
                from_status=lifecycle.READY,
                to_status=lifecycle.SUBMITTED,
                note=f"sent to {row.payer_id}; decision due {due.isoformat(timespec='minutes')}",
            )
            return view_of(row, now)

    def keep_claim_response(self, request_id: str, resource: dict[str, Any], *, via: str, now: float) -> None:
        with self.database.session() as db:
            db.add(
                ClaimResponseRow(
                    request_id=request_id,
                    received_at=now,
                    via=via,
                    claim_response_json=json.dumps(resource, sort_keys=True),
                )
            )

    def expire_lapsed(self, *, now: float) -> list[str]:
        """Move every authorization whose period has ended to expired (the system's move); their ids."""
        today = to_datetime(now).date().isoformat()
        with self.database.session() as db:
            ids = list(
                db.scalars(
                    select(PriorAuthRequestRow.id).where(
                        PriorAuthRequestRow.status.in_(sorted(lifecycle.AUTHORIZED)),
                        PriorAuthRequestRow.auth_end < today,
                    )
                )
            )
        for request_id in ids:
            self.transition(
                request_id,
                lifecycle.EXPIRED,
                actor_kind="system",
                actor="spine-auth",
                now=now,
                note="the authorization period ended",
            )
        return ids


def _row(db: Session, request_id: str, *, lock: bool = False) -> PriorAuthRequestRow:
    statement = select(PriorAuthRequestRow).where(PriorAuthRequestRow.id == request_id)
    row = db.scalar(statement.with_for_update() if lock else statement)
    if row is None:
        raise RequestNotFound(request_id)
    return row


def _fill(row: PriorAuthRequestRow, entry: RequestEntry) -> None:
    row.patient_ref = entry.patient_ref
    row.patient_name = entry.patient_name[:200]
    row.birth_date = entry.birth_date[:10]
    row.member_id = entry.member_id[:80]
    row.mrn = entry.mrn[:80]
    row.procedure = entry.procedure
    row.cpt = entry.cpt[:200]
    row.levels = entry.levels[:100]
    row.side = entry.side[:20]
    row.payer_id = entry.payer_id
    row.payer_name = entry.payer_name[:200]
    row.ordering_provider = entry.ordering_provider[:200]
    row.verdict = entry.verdict
    row.priority = entry.priority if entry.priority in ("standard", "expedited") else "standard"
    row.details_json = json.dumps(entry.details, sort_keys=True)
    row.search_text = _search_text(row.patient_name, row.member_id, row.mrn, row.auth_number or "")


def _event(
    db: Session,
    request_id: str,
    now: float,
    actor: str,
    kind: str,
    *,
    from_status: str = "",
    to_status: str = "",
    note: str = "",
) -> None:
    db.add(
        PriorAuthEventRow(
            request_id=request_id,
            at=now,
            actor=actor[:200],
            kind=kind,
            from_status=from_status,
            to_status=to_status,
            note=note,
        )
    )


def days_from(epoch: float, days: int) -> str:
    """The ISO date `days` after `epoch` (for authorization periods in tests and the sandbox)."""
    return (to_datetime(epoch).date() + timedelta(days=days)).isoformat()

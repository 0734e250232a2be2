"""How the worklist's views, filters, search and sorts become SQL (run in the database, so a page of 10,000
requests is read from the indexes of `prior_auth_tables`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

from smart_app.core import prior_auth as lifecycle
from smart_app.store.prior_auth_models import WorklistQuery, to_datetime
from smart_app.store.prior_auth_tables import PriorAuthRequestRow

VIEWS = ("all", "attention", "mine", "expiring", "open")
SORTS: dict[str, Any] = {
    "created": PriorAuthRequestRow.created_at,
    "updated": PriorAuthRequestRow.updated_at,
    "patient": PriorAuthRequestRow.patient_name,
    "status": PriorAuthRequestRow.status,
    "payer": PriorAuthRequestRow.payer_id,
    "due": PriorAuthRequestRow.due_at,
    "submitted": PriorAuthRequestRow.submitted_at,
    "expires": PriorAuthRequestRow.auth_end,
}
MAX_PAGE_SIZE = 200
ACTION_STATUSES = (lifecycle.DRAFT, lifecycle.READY, lifecycle.DENIED, lifecycle.MODIFIED, lifecycle.PARTIALLY_APPROVED)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def conditions(query: WorklistQuery, now: float) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a worklist query (the EHR, the view, status, payer and the search box)."""
    table = PriorAuthRequestRow
    today = to_datetime(now).date()
    soon = (today + lifecycle.EXPIRY_REMINDER).isoformat()
    conditions: list[ColumnElement[bool]] = []
    if query.ehr_name:
        conditions.append(table.ehr_name == query.ehr_name)
    if query.view == "attention":
        conditions.append(
            or_(
                table.status.in_(ACTION_STATUSES),
                and_(table.status.in_(sorted(lifecycle.WAITING_ON_PAYER)), table.warn_at <= now),
                and_(table.status.in_(sorted(lifecycle.AUTHORIZED)), table.auth_end <= soon),
            )
        )
    elif query.view == "mine":
        conditions.append(table.assignee == query.me)
    elif query.view == "expiring":
        conditions.append(
            and_(
                table.status.in_(sorted(lifecycle.AUTHORIZED)),
                table.auth_end >= today.isoformat(),
                table.auth_end <= soon,
            )
        )
    elif query.view == "open":
        conditions.append(table.status.not_in(sorted(lifecycle.CLOSED)))
    if query.status:
        conditions.append(table.status == query.status)
    if query.payer:
        conditions.append(table.payer_id == query.payer)
    if query.q.strip():
        conditions.append(table.search_text.like(_like(query.q.strip()), escape="\\"))
    return conditions


NULLABLE_SORTS = frozenset({"due", "submitted", "expires"})


def order_by(query: WorklistQuery) -> Sequence[Any]:
    """Sort by the chosen column (requests without a value last), then by id so pages never overlap. Columns that
    are never empty sort on their index alone."""
    name = query.sort if query.sort in SORTS else "updated"
    column = SORTS[name]
    primary = column.desc() if query.descending else column.asc()
    if name in NULLABLE_SORTS:
        return (column.is_(None), primary, PriorAuthRequestRow.id)
    return (primary, PriorAuthRequestRow.id.desc() if query.descending else PriorAuthRequestRow.id.asc())

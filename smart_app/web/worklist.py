"""Blueprint `worklist`: the prior-authorization staff worklist of the launch's EHR (the practice).

    GET /s/<launch_id>/worklist?view=&status=&payer=&q=&sort=&dir=&page=   one page (server-side paging)
    GET /s/<launch_id>/worklist.csv?<same filters>                         every matching request as CSV

Views: `all`, `attention` (staff have something to do), `mine` (assigned to the signed-in user), `expiring`
(authorizations ending within the reminder window), `open` (not denied, expired or cancelled). Search matches the
patient's name, member id, MRN or the authorization number. Each request's page is `worklist_request`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request, stream_with_context

from smart_app.core import prior_auth as lifecycle
from smart_app.store.prior_auth_requests import SORTS, VIEWS, PriorAuthRequest, WorklistQuery
from smart_app.web.launch_context import LaunchContext, load_launch_context
from smart_app.web.prior_auth_services import actor_of, prior_auth
from smart_app.web.services import services

bp = Blueprint("worklist", __name__, url_prefix="/s/<launch_id>")

CSV_COLUMNS = [
    "created",
    "updated",
    "patient",
    "birth_date",
    "member_id",
    "mrn",
    "procedure",
    "cpt",
    "levels",
    "side",
    "payer",
    "ordering_provider",
    "verdict",
    "status",
    "assignee",
    "submitted",
    "due_by",
    "due_state",
    "auth_number",
    "auth_start",
    "auth_end",
    "denial_reason",
    "request_id",
]


def when(epoch: float | None) -> str:
    """A time for staff (UTC, minutes)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M") if epoch is not None else ""


def query_from_args(context: LaunchContext) -> WorklistQuery:
    args = request.args
    view = args.get("view", "all")
    sort = args.get("sort", "updated")
    status = args.get("status", "")
    try:
        page = max(1, int(args.get("page", "1")))
        size = max(1, min(200, int(args.get("size", "50"))))
    except ValueError:
        page, size = 1, 50
    return WorklistQuery(
        view=view if view in VIEWS else "all",
        status=status if status in lifecycle.STATUS_LABELS else "",
        payer=args.get("payer", "")[:64],
        q=args.get("q", "")[:100],
        sort=sort if sort in SORTS else "updated",
        descending=args.get("dir", "desc") != "asc",
        page=page,
        page_size=size,
        me=actor_of(context),
        ehr_name=context.registration.name,
    )


@bp.get("/worklist")
def worklist(launch_id: str) -> str:
    context = load_launch_context(launch_id)
    query = query_from_args(context)
    now = services().clock()
    store = prior_auth().store
    store.expire_lapsed(now=now)  # approvals whose period ended move to expired (the system's move)
    page = store.page(query, now=now)
    base = {k: v for k, v in request.args.items() if k != "page"}

    def link(**changes: str | int) -> str:
        return f"?{urlencode({**base, **{k: str(v) for k, v in changes.items()}})}"

    def sort_link(column: str) -> str:
        ascending = query.sort == column and query.descending
        return link(sort=column, dir="asc" if ascending else "desc", page=1)

    return render_template(
        "worklist/list.html",
        context=context,
        query=query,
        page=page,
        payers=store.payers(),
        statuses=lifecycle.STATUS_LABELS,
        views=VIEWS,
        when=when,
        link=link,
        sort_link=sort_link,
        csv_query=urlencode({k: v for k, v in request.args.items() if k not in ("page", "size")}),
        staff_launch=not context.patient_id,
    )


@bp.get("/worklist.csv")
def worklist_csv(launch_id: str) -> Response:
    context = load_launch_context(launch_id)
    query = query_from_args(context)
    rows = prior_auth().store.rows(query, now=services().clock())

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for item in rows:
            writer.writerow(csv_row(item))
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    stamp = datetime.fromtimestamp(services().clock(), UTC).strftime("%Y%m%d-%H%M")
    response.headers["Content-Disposition"] = f'attachment; filename="prior-auth-worklist-{stamp}.csv"'
    return response


def csv_row(item: PriorAuthRequest) -> list[str]:
    return [
        when(item.created_at),
        when(item.updated_at),
        _no_formula(item.patient_name),
        item.birth_date,
        _no_formula(item.member_id),
        _no_formula(item.mrn),
        item.procedure,
        item.cpt,
        item.levels,
        item.side,
        item.payer_id,
        _no_formula(item.ordering_provider),
        item.verdict,
        item.status,
        _no_formula(item.assignee),
        when(item.submitted_at),
        when(item.due_at),
        item.due_state,
        _no_formula(item.auth_number),
        item.auth_start or "",
        item.auth_end or "",
        _no_formula(item.denial_reason),
        item.id,
    ]


def _no_formula(value: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula (CSV injection)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value

"""The prior-authorization request lifecycle as data: statuses, the transition table, the payer's review actions,
and the due clocks (pure: no I/O, times are passed in).

    draft → ready → submitted → pended → approved (A1) | partially-approved (A2) | denied (A3) | modified (A6)
    approved | partially-approved | modified → expired;  any open status → cancelled

Who may move a request is part of the table: `staff` (a person in the worklist), `payer` (a ClaimResponse from the
payer, synchronous or by notification) or `system` (the app itself: an order saved, an approval run out).

Due clocks: CMS-0057-F (CMS Interoperability and Prior Authorization Final Rule, 89 FR 8758, 2024-02-08; 42 CFR
422.568, 438.210, 440.230, 457.495 and 45 CFR 156.223) requires impacted payers (Medicare Advantage, Medicaid and
CHIP, QHP issuers on the FFEs) to decide within 72 hours for an expedited request and 7 calendar days for a
standard one, from 2026-01-01. Commercial (ERISA) plans follow 29 CFR 2560.503-1(f)(2): 72 hours for urgent care,
15 days for a pre-service claim. See ../shared/domain/prior-auth.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

Actor = Literal["staff", "payer", "system"]
Priority = Literal["standard", "expedited"]
DueState = Literal["none", "ok", "due-soon", "overdue"]

DRAFT = "draft"
READY = "ready"
SUBMITTED = "submitted"
PENDED = "pended"
APPROVED = "approved"
PARTIALLY_APPROVED = "partially-approved"
DENIED = "denied"
MODIFIED = "modified"
EXPIRED = "expired"
CANCELLED = "cancelled"

STATUS_LABELS: dict[str, str] = {
    DRAFT: "Draft",
    READY: "Ready to submit",
    SUBMITTED: "Submitted",
    PENDED: "Pended",
    APPROVED: "Approved (A1)",
    PARTIALLY_APPROVED: "Partially approved (A2)",
    DENIED: "Denied (A3)",
    MODIFIED: "Modified (A6)",
    EXPIRED: "Expired",
    CANCELLED: "Cancelled",
}
STATUSES = tuple(STATUS_LABELS)
DECIDED = frozenset({APPROVED, PARTIALLY_APPROVED, DENIED, MODIFIED})
AUTHORIZED = frozenset({APPROVED, PARTIALLY_APPROVED, MODIFIED})
CLOSED = frozenset({DENIED, EXPIRED, CANCELLED})
WAITING_ON_PAYER = frozenset({SUBMITTED, PENDED})

# The transition table: (from, to) → who may make that move.
TRANSITIONS: dict[tuple[str, str], frozenset[Actor]] = {
    (DRAFT, READY): frozenset({"staff"}),
    (DRAFT, CANCELLED): frozenset({"staff"}),
    (READY, DRAFT): frozenset({"staff"}),
    (READY, SUBMITTED): frozenset({"staff", "system"}),
    (READY, CANCELLED): frozenset({"staff"}),
    (SUBMITTED, PENDED): frozenset({"payer"}),
    (SUBMITTED, CANCELLED): frozenset({"staff"}),
    (PENDED, CANCELLED): frozenset({"staff"}),
    **{(SUBMITTED, decided): frozenset({"payer"}) for decided in DECIDED},
    **{(PENDED, decided): frozenset({"payer"}) for decided in DECIDED},
    **{(authorized, EXPIRED): frozenset({"system", "staff"}) for authorized in AUTHORIZED},
    **{(authorized, CANCELLED): frozenset({"staff"}) for authorized in AUTHORIZED},
}

# X12 HCR01 (code list 306) review action codes in a PAS ClaimResponse → our status.
REVIEW_ACTION_STATUS: dict[str, str] = {
    "A1": APPROVED,
    "A2": PARTIALLY_APPROVED,
    "A3": DENIED,
    "A4": PENDED,
    "A6": MODIFIED,
}


class TransitionError(ValueError):
    """A move the lifecycle does not allow (the message says which and who may)."""


def allowed_next(status: str, actor: Actor) -> list[str]:
    """The statuses `actor` may move a request in `status` to, in lifecycle order."""
    return [to for to in STATUSES if actor in TRANSITIONS.get((status, to), frozenset())]


def check_transition(current: str, target: str, actor: Actor) -> None:
    """Raise TransitionError unless `actor` may move a request from `current` to `target`."""
    if target not in STATUS_LABELS:
        raise TransitionError(f"unknown status {target!r}")
    allowed = TRANSITIONS.get((current, target))
    if not allowed:
        raise TransitionError(f"a request cannot go from {STATUS_LABELS[current]} to {STATUS_LABELS[target]}")
    if actor not in allowed:
        raise TransitionError(
            f"only the {' or '.join(sorted(allowed))} may move a request from {current} to {target}, not the {actor}"
        )


def status_of_review_actions(codes: list[str]) -> str:
    """The request's status for the review actions of its items: all A1 → approved, any A4 → pended,
    all A3 → denied, any A6 → modified, a mix of certified and not certified → partially approved."""
    known = [code for code in codes if code in REVIEW_ACTION_STATUS]
    if not known:
        raise TransitionError("the ClaimResponse carries no known review action (X12 HCR01)")
    unique = set(known)
    if "A4" in unique:
        return PENDED
    if unique == {"A1"}:
        return APPROVED
    if unique == {"A3"}:
        return DENIED
    if "A6" in unique:
        return MODIFIED
    return PARTIALLY_APPROVED


@dataclass(frozen=True)
class DecisionClock:
    """How long a payer has to decide, for one program, with the rule it comes from."""

    program: str
    title: str
    expedited: timedelta
    standard: timedelta
    citation: str


DECISION_CLOCKS: dict[str, DecisionClock] = {
    "cms-0057-f": DecisionClock(
        program="cms-0057-f",
        title="CMS-0057-F impacted payer (MA, Medicaid, CHIP, FFE QHP)",
        expedited=timedelta(hours=72),
        standard=timedelta(days=7),
        citation="CMS-0057-F, 89 FR 8758 (2024-02-08): 72 hours expedited, 7 calendar days standard, from 2026",
    ),
    "erisa": DecisionClock(
        program="erisa",
        title="Commercial (ERISA group health plan)",
        expedited=timedelta(hours=72),
        standard=timedelta(days=15),
        citation="29 CFR 2560.503-1(f)(2): urgent care 72 hours, pre-service 15 days",
    ),
}
DEFAULT_PROGRAM = "cms-0057-f"

# Warn this long before the clock runs out (a quarter of the window, at least 12 hours).
WARNING_FRACTION = 0.25
MIN_WARNING = timedelta(hours=12)
# Remind staff this long before an authorization's period ends.
EXPIRY_REMINDER = timedelta(days=14)


def decision_due(received_at: datetime, priority: Priority, program: str = DEFAULT_PROGRAM) -> datetime:
    """When the payer's decision is due: receipt time plus the program's window for the priority."""
    clock = DECISION_CLOCKS.get(program)
    if clock is None:
        raise ValueError(f"unknown program {program!r}; known: {', '.join(DECISION_CLOCKS)}")
    return received_at + (clock.expedited if priority == "expedited" else clock.standard)


def warning_window(received_at: datetime, due_at: datetime) -> timedelta:
    return max((due_at - received_at) * WARNING_FRACTION, MIN_WARNING)


def due_state(status: str, now: datetime, received_at: datetime | None, due_at: datetime | None) -> DueState:
    """Where the decision clock stands for a request waiting on the payer (`none` when nothing is due)."""
    if status not in WAITING_ON_PAYER or due_at is None or received_at is None:
        return "none"
    if now >= due_at:
        return "overdue"
    if now >= due_at - warning_window(received_at, due_at):
        return "due-soon"
    return "ok"


def expiring_soon(status: str, today: date, auth_end: date | None) -> bool:
    """An authorization whose period ends within the reminder window (and has not ended yet)."""
    return status in AUTHORIZED and auth_end is not None and today <= auth_end <= today + EXPIRY_REMINDER


def has_lapsed(status: str, today: date, auth_end: date | None) -> bool:
    """An authorization whose period has ended: the system moves it to expired."""
    return status in AUTHORIZED and auth_end is not None and today > auth_end


def needs_attention(status: str, due: DueState, expiring: bool) -> bool:
    """Staff have something to do: prepare or submit it, answer a denial or a modification, chase a late payer,
    renew an authorization about to run out."""
    return status in (DRAFT, READY, DENIED, MODIFIED, PARTIALLY_APPROVED) or due in ("due-soon", "overdue") or expiring

"""The lifecycle table, the payer's review actions and the CMS-0057-F decision clocks (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from smart_app.core import prior_auth as lifecycle

RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_happy_path_is_allowed_to_the_right_actor_only() -> None:
    path = [
        ("draft", "ready", "staff"),
        ("ready", "submitted", "staff"),
        ("submitted", "pended", "payer"),
        ("pended", "approved", "payer"),
        ("approved", "expired", "system"),
    ]
    for current, target, actor in path:
        lifecycle.check_transition(current, target, actor)  # type: ignore[arg-type]
    with pytest.raises(lifecycle.TransitionError, match="only the payer"):
        lifecycle.check_transition("pended", "approved", "staff")
    with pytest.raises(lifecycle.TransitionError, match="cannot go from Draft to Approved"):
        lifecycle.check_transition("draft", "approved", "payer")
    with pytest.raises(lifecycle.TransitionError, match="unknown status"):
        lifecycle.check_transition("draft", "lost", "staff")


def test_closed_requests_go_nowhere_and_staff_moves_are_listed_in_order() -> None:
    for closed in ("denied", "expired", "cancelled"):
        assert lifecycle.allowed_next(closed, "staff") == []
    assert lifecycle.allowed_next("draft", "staff") == ["ready", "cancelled"]
    assert lifecycle.allowed_next("pended", "payer") == ["approved", "partially-approved", "denied", "modified"]


@pytest.mark.parametrize(
    ("codes", "status"),
    [
        (["A1", "A1"], "approved"),
        (["A3"], "denied"),
        (["A1", "A3"], "partially-approved"),
        (["A2"], "partially-approved"),
        (["A1", "A4"], "pended"),
        (["A1", "A6"], "modified"),
    ],
)
def test_review_actions_give_the_status(codes: list[str], status: str) -> None:
    assert lifecycle.status_of_review_actions(codes) == status


def test_no_known_review_action_is_refused() -> None:
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.status_of_review_actions(["ZZ"])


def test_cms_0057_f_clock_is_72_hours_expedited_and_7_days_standard() -> None:
    assert lifecycle.decision_due(RECEIVED, "expedited") == RECEIVED + timedelta(hours=72)
    assert lifecycle.decision_due(RECEIVED, "standard") == RECEIVED + timedelta(days=7)
    assert lifecycle.decision_due(RECEIVED, "standard", "erisa") == RECEIVED + timedelta(days=15)
    assert "CMS-0057-F" in lifecycle.DECISION_CLOCKS["cms-0057-f"].citation
    with pytest.raises(ValueError, match="unknown program"):
        lifecycle.decision_due(RECEIVED, "standard", "nowhere")


def test_the_due_clock_warns_before_it_passes() -> None:
    due = lifecycle.decision_due(RECEIVED, "standard")
    assert lifecycle.due_state("submitted", RECEIVED + timedelta(days=1), RECEIVED, due) == "ok"
    assert lifecycle.due_state("pended", due - timedelta(hours=30), RECEIVED, due) == "due-soon"
    assert lifecycle.due_state("pended", due + timedelta(minutes=1), RECEIVED, due) == "overdue"
    assert lifecycle.due_state("approved", due + timedelta(days=1), RECEIVED, due) == "none"
    expedited = lifecycle.decision_due(RECEIVED, "expedited")
    assert lifecycle.due_state("submitted", expedited - timedelta(hours=13), RECEIVED, expedited) == "due-soon"
    assert lifecycle.due_state("submitted", expedited - timedelta(hours=19), RECEIVED, expedited) == "ok"


def test_an_approval_reminds_before_it_expires_and_lapses_after() -> None:
    today = date(2026, 5, 1)
    assert lifecycle.expiring_soon("approved", today, today + timedelta(days=10))
    assert not lifecycle.expiring_soon("approved", today, today + timedelta(days=40))
    assert not lifecycle.expiring_soon("denied", today, today + timedelta(days=3))
    assert lifecycle.has_lapsed("approved", today, today - timedelta(days=1))
    assert lifecycle.needs_attention("approved", "none", True)
    assert lifecycle.needs_attention("pended", "overdue", False)
    assert not lifecycle.needs_attention("pended", "ok", False)

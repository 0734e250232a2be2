"""The worklist store on SQLite and PostgreSQL: entering from a saved order, the lifecycle with who and when,
filters, search, sort and paging in the database, a single sender, expiry, and the append-only audit log."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from smart_app.core.prior_auth import TransitionError
from smart_app.store.audit import AppendOnlyError, events, record_event
from smart_app.store.db import Database
from smart_app.store.prior_auth_requests import PriorAuthStore, WorklistQuery
from tests.worklist.support import entry

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()


def test_a_saved_order_enters_once_and_saving_again_refreshes_it(database: Database) -> None:
    store = PriorAuthStore(database)
    first, created = store.enter(entry(1), actor="Practitioner/dr1", now=NOW)
    again, created_again = store.enter(entry(1), actor="Practitioner/dr1", now=NOW + 60)
    assert created and not created_again
    assert again.id == first.id and again.status == "draft" and again.updated_at == NOW + 60
    assert store.page(WorklistQuery(), now=NOW).total == 1
    assert [event.note for event in store.history(first.id)] == ["draft order saved", "draft order saved again"]


def test_moves_record_who_when_and_why_and_refuse_what_the_table_forbids(database: Database) -> None:
    store = PriorAuthStore(database)
    item, _ = store.enter(entry(2), actor="Practitioner/dr1", now=NOW)
    store.transition(item.id, "ready", actor_kind="staff", actor="Practitioner/staff", now=NOW + 1, note="checked")
    with pytest.raises(TransitionError):
        store.transition(item.id, "approved", actor_kind="staff", actor="Practitioner/staff", now=NOW + 2)
    submitted = store.mark_submitted(item.id, actor="Practitioner/staff", now=NOW + 3)
    assert submitted.due_at == pytest.approx(NOW + 3 + 7 * 86400)
    approved = store.transition(
        item.id,
        "approved",
        actor_kind="payer",
        actor="payer",
        now=NOW + 4,
        auth_number="AUTH-1",
        auth_period=("2026-06-01", "2026-08-30"),
    )
    assert (approved.status, approved.auth_number, approved.auth_end) == ("approved", "AUTH-1", "2026-08-30")
    moves = [(e.actor, e.from_status, e.to_status, e.note) for e in store.history(item.id) if e.kind != "note"]
    assert moves[1:] == [
        ("Practitioner/staff", "draft", "ready", "checked"),
        ("Practitioner/staff", "ready", "submitted", moves[2][3]),
        ("payer", "submitted", "approved", ""),
    ]


def _fill(store: PriorAuthStore, count: int) -> list[str]:
    ids = []
    for index in range(count):
        item, _ = store.enter(entry(index), actor="Practitioner/dr1", now=NOW + index)
        ids.append(item.id)
    return ids


def test_filters_search_sort_and_paging_run_in_the_database(database: Database) -> None:
    store = PriorAuthStore(database)
    ids = _fill(store, 30)
    store.assign(ids[3], "Practitioner/staff", actor="Practitioner/staff", now=NOW + 100)
    for request_id in ids[10:14]:
        store.transition(request_id, "ready", actor_kind="staff", actor="s", now=NOW + 200)
        store.mark_submitted(request_id, actor="s", now=NOW + 201)
    store.transition(
        ids[10],
        "approved",
        actor_kind="payer",
        actor="payer",
        now=NOW + 300,
        auth_number="ZX-77",
        auth_period=("2026-06-01", "2026-06-10"),
    )
    store.transition(
        ids[11],
        "approved",
        actor_kind="payer",
        actor="payer",
        now=NOW + 300,
        auth_number="ZX-78",
        auth_period=("2026-06-01", "2026-12-31"),
    )

    first = store.page(WorklistQuery(page_size=7, sort="created", descending=False), now=NOW + 400)
    assert first.total == 30 and first.pages == 5 and [i.id for i in first.items] == ids[:7]
    last = store.page(WorklistQuery(page_size=7, page=5, sort="created", descending=False), now=NOW + 400)
    assert [i.id for i in last.items] == ids[28:]
    assert [i.id for i in store.page(WorklistQuery(view="mine", me="Practitioner/staff"), now=NOW).items] == [ids[3]]
    assert store.page(WorklistQuery(status="submitted"), now=NOW + 400).total == 2
    assert store.page(WorklistQuery(payer="aetna"), now=NOW).total == 10
    expiring = store.page(WorklistQuery(view="expiring"), now=NOW + 400)
    assert [i.id for i in expiring.items] == [ids[10]] and expiring.items[0].expiring
    # needs attention: the 26 drafts and the approval about to run out, not the ones waiting on the payer in time
    attention = store.page(WorklistQuery(view="attention", page_size=200), now=NOW + 400)
    assert {i.id for i in attention.items} == {*ids[:10], *ids[14:], ids[10]}
    # ... until the decision clock nears its end
    late = NOW + 201 + 6 * 86400
    assert {ids[12], ids[13]} <= {
        i.id for i in store.page(WorklistQuery(view="attention", page_size=200), now=late).items
    }
    # search by patient name, member id, MRN or auth number (case-insensitive, wildcards are literal)
    assert [i.id for i in store.page(WorklistQuery(q="zx-77"), now=NOW).items] == [ids[10]]
    assert [i.id for i in store.page(WorklistQuery(q="MB0000021"), now=NOW).items] == [ids[21]]
    assert [i.id for i in store.page(WorklistQuery(q="PAT7 silva"), now=NOW).items] == [ids[7]]
    assert store.page(WorklistQuery(q="%"), now=NOW).total == 0
    by_patient = store.page(WorklistQuery(sort="patient", descending=False, page_size=200), now=NOW).items
    assert [i.patient_name for i in by_patient] == sorted(i.patient_name for i in by_patient)
    assert store.page(WorklistQuery(ehr_name="another-ehr"), now=NOW).total == 0


def test_only_one_caller_may_send_a_ready_request(database: Database) -> None:
    store = PriorAuthStore(database)
    item, _ = store.enter(entry(5), actor="d", now=NOW)
    assert not store.begin_sending(item.id, now=NOW)  # a draft is not sent
    store.transition(item.id, "ready", actor_kind="staff", actor="s", now=NOW)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        results.append(store.begin_sending(item.id, now=NOW))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1
    store.end_sending(item.id)
    assert store.begin_sending(item.id, now=NOW)


def test_lapsed_authorizations_expire_by_the_system(database: Database) -> None:
    store = PriorAuthStore(database)
    item, _ = store.enter(entry(6), actor="d", now=NOW)
    store.transition(item.id, "ready", actor_kind="staff", actor="s", now=NOW)
    store.mark_submitted(item.id, actor="s", now=NOW)
    store.transition(
        item.id, "approved", actor_kind="payer", actor="payer", now=NOW, auth_period=("2026-06-01", "2026-06-02")
    )
    later = (datetime.fromtimestamp(NOW, UTC) + timedelta(days=3)).timestamp()
    assert store.expire_lapsed(now=later) == [item.id]
    assert store.get(item.id, now=later).status == "expired"


def test_the_audit_log_is_append_only(database: Database) -> None:
    with database.session() as db:
        record_event(db, "data.read", now=time.time(), actor="Practitioner/1", subject="Patient/9", source="127.0.0.1")
    with pytest.raises(AppendOnlyError), database.session() as db:
        events(db)[0].detail = "rewritten"
    with pytest.raises(AppendOnlyError), database.session() as db:
        db.delete(events(db)[0])
    for statement in ("UPDATE audit_events SET actor = 'someone else'", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"), database.session() as db:
            db.execute(text(statement))
    with database.session() as db:
        kept = events(db)
        assert [(e.event, e.actor, e.subject, e.source) for e in kept] == [
            ("data.read", "Practitioner/1", "Patient/9", "127.0.0.1")
        ]

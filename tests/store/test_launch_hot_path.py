"""The launch's hot-path statements (Core, one transaction each) on SQLite and PostgreSQL: a state is claimed once
even by two callbacks at the same moment, a launch row comes back with its session and clinician in one query,
the token source reads a launch's tokens once while they are fresh, and the pool is as large as the threads."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import event

from smart_app.store.clinicians import Clinician, ClinicianStore
from smart_app.store.crypto import TokenCipher, generate_fernet_key
from smart_app.store.db import Database, make_engine
from smart_app.store.launches import claim_pending, find_launch, insert_launch, insert_pending, new_state
from smart_app.store.sessions import hash_token, insert_browser_session, live_session_hash
from smart_app.store.tokens import insert_tokens
from smart_app.workflow.tokens import TokenService


def _pending_values(state: str, *, now: float) -> dict[str, Any]:
    return {
        "state": state,
        "ehr_name": "sandbox",
        "iss": "https://ehr.example/fhir",
        "launch_kind": "ehr",
        "code_verifier_enc": "x",
        "nonce": "n",
        "redirect_uri": "https://app.example/callback",
        "requested_scope": "launch openid fhirUser",
        "session_hash": None,
        "created_at": now,
        "expires_at": now + 600,
    }


def _launch(database: Database, launch_id: str, *, session_ttl: float = 3600) -> str:
    with database.transaction() as db:
        token = insert_browser_session(db, now=100, ttl_seconds=session_ttl)
        insert_launch(
            db,
            id=launch_id,
            session_hash=hash_token(token),
            ehr_name="sandbox",
            iss="https://ehr.example/fhir",
            mode="smart",
            patient_id="p1",
            encounter_id=None,
            fhir_user="https://ehr.example/fhir/Practitioner/d1",
            need_patient_banner=True,
            granted_scope="patient/*.rs",
            token_endpoint="https://ehr.example/token",
            context_json='{"intent": "order"}',
            created_at=100,
        )
    return token


def _race_for(database: Database, state: str, now: float) -> list[str]:
    """Two callbacks claim `state` at the same moment (a barrier releases both); their claim statuses."""
    barrier = threading.Barrier(2)
    statuses: list[str] = []

    def callback() -> None:
        barrier.wait()
        with database.transaction() as db:
            statuses.append(claim_pending(db, state, now=now).status)

    threads = [threading.Thread(target=callback) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_two_callbacks_racing_for_one_state_claim_it_once(database: Database) -> None:
    for round_number in range(5):  # a race is a race: run it a few times
        state = new_state()
        with database.transaction() as db:
            insert_pending(db, **_pending_values(state, now=100))
        assert sorted(_race_for(database, state, 101 + round_number)) == ["ok", "used"]


def test_a_claimed_state_carries_what_the_callback_needs(database: Database) -> None:
    state = new_state()
    with database.transaction() as db:
        insert_pending(db, **_pending_values(state, now=100))
    with database.transaction() as db:
        claim = claim_pending(db, state, now=150)
    assert claim.status == "ok" and claim.pending is not None
    assert (claim.pending.nonce, claim.pending.redirect_uri, claim.pending.used_at) == (
        "n",
        "https://app.example/callback",
        150,
    )
    with database.transaction() as db:
        again = claim_pending(db, state, now=151)
    assert again.status == "used" and again.pending is not None and again.pending.used_at == 150


def test_a_launch_comes_with_its_session_and_clinician_in_one_query(database: Database) -> None:
    token = _launch(database, "L-one-query")
    statements: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with database.transaction() as db:
        record = find_launch(db, "L-one-query")
    assert len(statements) == 1
    assert record is not None and record.session_hash == hash_token(token) and record.session_expires_at == 3700
    assert record.context == {"intent": "order"} and record.clinician is None
    ClinicianStore(database).keep("L-one-query", Clinician("Practitioner/d1", "Dr. Casey Sandoval, MD", "1234567890"))
    ClinicianStore(database).keep("L-one-query", Clinician("Practitioner/d1", "Dr. Casey Sandoval", "1234567890"))
    with database.transaction() as db:
        kept = find_launch(db, "L-one-query")
        assert find_launch(db, "L-unknown") is None
        assert live_session_hash(db, token, now=200) == hash_token(token)
        assert live_session_hash(db, token, now=3701) is None
    assert kept is not None and kept.clinician == Clinician("Practitioner/d1", "Dr. Casey Sandoval", "1234567890")


def test_the_token_source_reads_fresh_tokens_once(database: Database) -> None:
    cipher = TokenCipher([generate_fernet_key()])
    _launch(database, "L-tokens")
    with database.transaction() as db:
        insert_tokens(
            db, cipher, "L-tokens", access_token="at-1", refresh_token=None, expires_at=4000, scope="", now=100
        )
    service = TokenService(
        database=database, cipher=cipher, signing_keys=[], registration_for=lambda _name: None, clock=lambda: 200
    )
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "launch_tokens" in statement:
            reads.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    source = service.source("L-tokens")
    assert [source(), source(), source()] == ["at-1"] * 3
    assert len(reads) == 1
    assert service.source("L-tokens")() == "at-1" and len(reads) == 2  # another client (request) reads again


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/pool.sqlite", "postgresql+psycopg://app@127.0.0.1:1/app"])
def test_the_pool_holds_one_connection_per_request_thread(
    url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMART_APP_THREADS", "7")
    engine = make_engine(url.format(tmp=tmp_path))
    assert engine.pool.size() == 7  # type: ignore[attr-defined]
    engine.dispose()
    monkeypatch.delenv("SMART_APP_THREADS")
    engine = make_engine(url.format(tmp=tmp_path))
    assert engine.pool.size() == 16  # type: ignore[attr-defined]  (gunicorn_conf's default threads)
    engine.dispose()


def test_sqlite_runs_wal_with_normal_sync(tmp_path: Any) -> None:
    database = Database(f"sqlite:///{tmp_path / 'sync.sqlite'}")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    database.dispose()

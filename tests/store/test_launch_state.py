from sqlalchemy import text

from smart_app.store.audit import events, record_event
from smart_app.store.crypto import TokenCipher
from smart_app.store.db import Database
from smart_app.store.launches import Launch, PendingAuthorization, claim_pending, new_launch_id, new_state
from smart_app.store.sessions import create_browser_session, find_browser_session, hash_token
from smart_app.store.tokens import forget_refresh_token, load_tokens, save_tokens


def _pending(state: str, *, now: float, ttl: float = 600) -> PendingAuthorization:
    return PendingAuthorization(
        state=state,
        ehr_name="sandbox",
        iss="https://ehr.example/fhir",
        launch_kind="ehr",
        code_verifier_enc="x",
        nonce="n",
        redirect_uri="https://app.example/callback",
        requested_scope="launch",
        created_at=now,
        expires_at=now + ttl,
    )


def test_state_is_claimed_exactly_once(database: Database) -> None:
    state = new_state()
    assert len(state) >= 43
    with database.session() as db:
        db.add(_pending(state, now=100))
    with database.session() as db:
        assert claim_pending(db, state, now=101).status == "ok"
    with database.session() as db:
        assert claim_pending(db, state, now=102).status == "used"
        assert claim_pending(db, "never-issued", now=102).status == "unknown"
        assert claim_pending(db, "", now=102).status == "unknown"


def test_expired_state_is_refused(database: Database) -> None:
    with database.session() as db:
        db.add(_pending("s-expired", now=100, ttl=10))
    with database.session() as db:
        assert claim_pending(db, "s-expired", now=111).status == "expired"


def test_sessions_store_only_a_hash(database: Database) -> None:
    with database.session() as db:
        token = create_browser_session(db, now=0, ttl_seconds=60)
    with database.session() as db:
        assert find_browser_session(db, token, now=30) is not None
        assert find_browser_session(db, token, now=61) is None
        assert find_browser_session(db, token + "x", now=30) is None
        stored = db.execute(text("select id_hash from browser_sessions")).scalars().all()
    assert stored == [hash_token(token)]
    assert token not in stored


def test_tokens_are_encrypted_at_rest_and_refresh_can_be_forgotten(database: Database, cipher: TokenCipher) -> None:
    launch_id = new_launch_id()
    with database.session() as db:
        db.add(
            Launch(
                id=launch_id,
                session_hash="h",
                ehr_name="sandbox",
                iss="https://ehr.example/fhir",
                mode="smart",
                patient_id="p1",
                created_at=0,
            )
        )
        db.flush()
        save_tokens(
            db, cipher, launch_id, access_token="AT-secret", refresh_token="RT-secret", expires_at=50, scope="s", now=0
        )
    with database.session() as db:
        raw = db.execute(text("select access_token_enc, refresh_token_enc from launch_tokens")).one()
        assert "AT-secret" not in raw[0] and "RT-secret" not in raw[1]
        tokens = load_tokens(db, cipher, launch_id)
        assert tokens is not None
        assert (tokens.access_token, tokens.refresh_token, tokens.expires_at) == ("AT-secret", "RT-secret", 50)
        assert "secret" not in repr(tokens)
        forget_refresh_token(db, launch_id)
    with database.session() as db:
        tokens = load_tokens(db, cipher, launch_id)
        assert tokens is not None and tokens.refresh_token is None


def test_audit_events_are_kept_in_order(database: Database) -> None:
    with database.session() as db:
        record_event(db, "launch.started", now=1, ehr_name="sandbox")
        record_event(db, "launch.completed", now=2, launch_id="L1", ehr_name="sandbox", detail="x" * 900)
    with database.session() as db:
        recorded = events(db)
        assert [e.event for e in recorded] == ["launch.started", "launch.completed"]
        assert len(recorded[1].detail) == 500
        assert [e.event for e in events(db, launch_id="L1")] == ["launch.completed"]

"""Expired state is purged, and only that: browser sessions, launch states, launches with their tokens,
attestations and kept drafts; on SQLite and PostgreSQL; by the periodic run one worker claims, by the
`smart-app db purge` command; and the deployment-wide markers behind it."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from smart_app.cli import main
from smart_app.store.attestations import AttestationStore
from smart_app.store.crypto import TokenCipher, generate_fernet_key
from smart_app.store.db import Database
from smart_app.store.drafts import DraftStore
from smart_app.store.launches import Launch, PendingAuthorization
from smart_app.store.maintenance import (
    DeploymentSecretMismatch,
    check_cipher_canary,
    check_deployment_secret,
    claim_run,
    forget_deployment_secrets,
)
from smart_app.store.purge import Lifetimes, purge
from smart_app.store.sessions import BrowserSession, create_browser_session, hash_token
from smart_app.store.tokens import LaunchTokens, save_tokens
from tests.web.conftest import serve_app

HOUR = 3600.0
LIFETIMES = Lifetimes(launch=12 * HOUR, attestation=12 * HOUR, kept_draft=30 * 24 * HOUR)
NOW = 1_800_000_000.0


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _launch(db: Database, cipher: TokenCipher, launch_id: str, session_hash: str, created_at: float) -> None:
    with db.session() as session:
        session.add(
            Launch(
                id=launch_id,
                session_hash=session_hash,
                ehr_name="sandbox",
                iss="http://ehr.example/fhir",
                mode="smart",
                patient_id="p1",
                created_at=created_at,
            )
        )
        session.flush()
        save_tokens(session, cipher, launch_id, access_token="a", refresh_token="r", expires_at=None, scope="", now=0)


def _pending(db: Database, state: str, expires_at: float) -> None:
    with db.session() as session:
        session.add(
            PendingAuthorization(
                state=state,
                ehr_name="sandbox",
                iss="http://ehr.example/fhir",
                launch_kind="ehr",
                code_verifier_enc="x",
                nonce="n",
                redirect_uri="http://app.example/callback",
                requested_scope="openid",
                created_at=expires_at - 600,
                expires_at=expires_at,
            )
        )


def _ids(db: Database, model: type) -> set[str]:
    with db.session() as session:
        key = next(iter(model.__table__.primary_key.columns)).name  # type: ignore[attr-defined]
        return {getattr(row, key) for row in session.query(model)}


def test_purge_deletes_what_expired_and_keeps_the_rest(database: Database, cipher: TokenCipher) -> None:
    with database.session() as session:
        live_token = create_browser_session(session, now=NOW - HOUR, ttl_seconds=12 * HOUR)
        dead_token = create_browser_session(session, now=NOW - 13 * HOUR, ttl_seconds=12 * HOUR)
    live, dead = hash_token(live_token), hash_token(dead_token)
    _launch(database, cipher, "fresh", live, NOW - HOUR)
    _launch(database, cipher, "too-old", live, NOW - 13 * HOUR)
    _launch(database, cipher, "session-gone", dead, NOW - 2 * HOUR)
    _pending(database, "recent", NOW - 60)
    _pending(database, "long-expired", NOW - 2 * HOUR)
    attestations = AttestationStore(database, cipher)
    for launch_id, at in (("fresh", NOW - HOUR), ("fresh", NOW - 13 * HOUR), ("session-gone", NOW - HOUR)):
        attestations.attest(
            launch_id=launch_id,
            request_key=f"k{at}",
            criterion_id="GEN-07",
            status="met",
            note="documented",
            attested_by=None,
            now=_moment(at),
        )
    drafts = DraftStore(database, cipher)
    for key, at in (("new", NOW - HOUR), ("old", NOW - 31 * 24 * HOUR)):
        drafts.keep(order_key=key, patient="p1", fhir_base="x", bundle={}, reason="r", now=_moment(at))

    counts = purge(database, LIFETIMES, now=NOW)

    assert _ids(database, BrowserSession) == {live}
    assert _ids(database, Launch) == {"fresh"}
    assert _ids(database, LaunchTokens) == {"fresh"}
    assert _ids(database, PendingAuthorization) == {"recent"}
    assert [a.attested_at for a in attestations.for_request("fresh", f"k{NOW - HOUR}")]
    assert attestations.for_request("fresh", f"k{NOW - 13 * HOUR}") == []
    assert attestations.for_request("session-gone", f"k{NOW - HOUR}") == []
    assert drafts.get("new") is not None and drafts.get("old") is None
    assert (counts.sessions, counts.launch_states, counts.launches, counts.attestations, counts.kept_drafts) == (
        1,
        1,
        2,
        2,
        1,
    )
    assert purge(database, LIFETIMES, now=NOW).total() == 0  # idempotent


def test_one_claimant_per_interval(database: Database) -> None:
    assert claim_run(database, "purge", now=NOW, every_seconds=300)
    assert not claim_run(database, "purge", now=NOW + 1, every_seconds=300)
    assert not claim_run(database, "purge", now=NOW + 299, every_seconds=300)
    assert claim_run(database, "purge", now=NOW + 300, every_seconds=300)
    assert claim_run(database, "other-job", now=NOW + 1, every_seconds=300)


def test_a_secret_differing_from_the_recorded_one_is_refused(database: Database) -> None:
    check_deployment_secret(database, "secret_key", "fingerprint-1", now=NOW)
    check_deployment_secret(database, "secret_key", "fingerprint-1", now=NOW)
    with pytest.raises(DeploymentSecretMismatch):
        check_deployment_secret(database, "secret_key", "fingerprint-2", now=NOW)
    assert forget_deployment_secrets(database) == 1
    check_deployment_secret(database, "secret_key", "fingerprint-2", now=NOW)


def test_fernet_keys_must_read_what_the_first_instance_wrote_rotation_allowed(database: Database) -> None:
    old, new = generate_fernet_key(), generate_fernet_key()
    check_cipher_canary(database, TokenCipher([old]), now=NOW)
    check_cipher_canary(database, TokenCipher([new, old]), now=NOW)  # rotating: the new key first, the old kept
    with pytest.raises(DeploymentSecretMismatch):
        check_cipher_canary(database, TokenCipher([new]), now=NOW)


def test_the_web_app_purges_periodically(tmp_path: Path, database_url: str) -> None:
    database = Database(database_url)
    database.create_all()
    with database.session() as session:
        create_browser_session(session, now=time.time() - 2 * HOUR, ttl_seconds=HOUR)
    running = serve_app(tmp_path, [], DATABASE_URL=database_url, PURGE_INTERVAL_SECONDS=300)
    try:
        assert requests.get(f"{running.url}/", timeout=10).status_code == 200
        assert _ids(database, BrowserSession) == set()
        with database.session() as session:
            create_browser_session(session, now=time.time() - 2 * HOUR, ttl_seconds=HOUR)
        assert requests.get(f"{running.url}/", timeout=10).status_code == 200
        assert len(_ids(database, BrowserSession)) == 1  # not again within the interval
        running.clock_offset[0] = 301
        assert requests.get(f"{running.url}/", timeout=10).status_code == 200
        assert _ids(database, BrowserSession) == set()
    finally:
        running.stop()
        database.dispose()


def test_db_commands_upgrade_and_purge(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMART_APP_DATABASE_URL", database_url)
    runner = CliRunner()
    upgraded = runner.invoke(main, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert json.loads(upgraded.output)["revision"] == json.loads(runner.invoke(main, ["db", "current"]).output)["head"]
    database = Database(database_url)
    try:
        with database.session() as session:
            create_browser_session(session, now=time.time() - 2 * HOUR, ttl_seconds=HOUR)
        purged = runner.invoke(main, ["db", "purge"])
        assert purged.exit_code == 0, purged.output
        assert json.loads(purged.output)["sessions"] == 1
        assert _ids(database, BrowserSession) == set()
    finally:
        database.dispose()

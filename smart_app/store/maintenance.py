"""Deployment-wide markers in the database, shared by every process of every instance.

`claim_run(name, every)`: whoever moves the `last_run_at` of a named job forward first (one conditional UPDATE,
atomic on SQLite and PostgreSQL) runs it; everyone else skips. That makes a periodic job (the purge) run about
once per period across N workers on M machines with no scheduler process.

`check_deployment_secret(name, fingerprint)`: the first instance records a fingerprint of a secret that must be
the same everywhere (the session signing key, the Fernet key); a later instance with a different one is refused.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import Float, String, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from smart_app.store.crypto import TokenCipher, TokenDecryptError
from smart_app.store.db import Base, Database


class MaintenanceRun(Base):
    __tablename__ = "maintenance_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[float] = mapped_column(Float)


class DeploymentSecret(Base):
    __tablename__ = "deployment_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[float] = mapped_column(Float)


class DeploymentSecretMismatch(Exception):
    """This instance's secret differs from the one the deployment's database was set up with."""


def claim_run(database: Database, name: str, *, now: float, every_seconds: float) -> bool:
    """True when this caller should run job `name` now (its last run is `every_seconds` old or it never ran)."""
    with database.session() as db:
        result = db.execute(
            update(MaintenanceRun)
            .where(MaintenanceRun.name == name, MaintenanceRun.last_run_at <= now - every_seconds)
            .values(last_run_at=now)
        )
        if getattr(result, "rowcount", 0) == 1:
            return True
        if db.get(MaintenanceRun, name) is not None:
            return False
    try:
        with database.session() as db:
            db.add(MaintenanceRun(name=name, last_run_at=now))
    except IntegrityError:  # another process inserted it first: it runs
        return False
    return True


def check_deployment_secret(database: Database, name: str, fingerprint: str, *, now: float) -> None:
    """Record `fingerprint` for secret `name`, or check it against the one recorded.

    Raises:
        DeploymentSecretMismatch: another instance of this deployment uses a different secret.
    """
    with database.session() as db:
        row = db.get(DeploymentSecret, name)
        recorded = row.fingerprint if row is not None else None
    if recorded is None:
        try:
            with database.session() as db:
                db.add(DeploymentSecret(name=name, fingerprint=fingerprint, recorded_at=now))
            return
        except IntegrityError:  # recorded by an instance starting at the same time: compare with it
            with database.session() as db:
                row = db.get(DeploymentSecret, name)
                recorded = row.fingerprint if row is not None else None
    if recorded != fingerprint:
        raise DeploymentSecretMismatch(name)


def forget_deployment_secrets(database: Database) -> int:
    """Drop every recorded fingerprint (after rotating the secrets on every instance); returns how many."""
    with database.session() as db:
        return int(db.query(DeploymentSecret).delete())


CIPHER_CANARY = "spine-auth key"


def secret_fingerprint(secret: str) -> str:
    """A fingerprint that identifies a secret without revealing it (HMAC keyed by the secret itself)."""
    return hmac.new(secret.encode("utf-8"), b"spine-auth deployment secret check", hashlib.sha256).hexdigest()


def check_cipher_canary(database: Database, cipher: TokenCipher, *, now: float) -> None:
    """The first instance stores a value encrypted with its Fernet key; every later one must decrypt it with its
    keys (rotation-friendly: any configured key will do).

    Raises:
        DeploymentSecretMismatch: this instance cannot read what the others encrypt.
    """
    try:
        check_deployment_secret(database, "fernet", cipher.encrypt(CIPHER_CANARY), now=now)
        return
    except DeploymentSecretMismatch:
        pass
    with database.session() as db:
        row = db.get(DeploymentSecret, "fernet")
        stored = row.fingerprint if row is not None else ""
    try:
        if cipher.decrypt(stored) == CIPHER_CANARY:
            return
    except TokenDecryptError:
        pass
    raise DeploymentSecretMismatch("fernet")

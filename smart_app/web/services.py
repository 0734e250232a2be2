"""The app's long-lived parts, built once per app from its config: database, cipher, keys, EHR registry, caches.

Secrets not given in the config are generated once into the instance folder (mode 0600): the Flask secret key,
the Fernet key for tokens at rest, and one RS384 and one ES384 signing key. Several instances sharing one database
must be given the same secrets (settings or environment); an instance whose secrets differ from those the database
was set up with refuses to start (`check_shared_secrets`).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from flask import Flask, current_app

from smart_app.config import ConfigError, EhrRegistry
from smart_app.fhir.discovery import DiscoveryCache, SmartConfiguration, fetch_smart_configuration
from smart_app.fhir.http_session import EnvironmentOnceSession
from smart_app.fhir.id_token import JwksCache, fetch_jwks
from smart_app.fhir.lenient import DEFAULT_VERDICT_CACHE_SIZE, VERDICTS
from smart_app.fhir.signing_keys import SigningKey, SigningKeyError, generate_signing_key, signing_key_from_jwk
from smart_app.store.crypto import TokenCipher, generate_fernet_key
from smart_app.store.db import Database
from smart_app.store.maintenance import (
    DeploymentSecretMismatch,
    check_cipher_canary,
    check_deployment_secret,
    secret_fingerprint,
)
from smart_app.store.migrate import current_revision, head_revision
from smart_app.store.secret_files import read_or_create_secret
from smart_app.workflow.tokens import TokenService

EXTENSION_KEY = "spine_auth"


@dataclass
class AppServices:
    """Shared by every request of one app (all members are thread-safe)."""

    database: Database
    cipher: TokenCipher
    signing_keys: list[SigningKey]
    registry: EhrRegistry
    discovery: DiscoveryCache
    jwks: JwksCache
    http: requests.Session
    tokens: TokenService
    clock: Callable[[], float]

    def smart_configuration(self, iss: str) -> SmartConfiguration:
        return self.discovery.get(iss)


def services() -> AppServices:
    """The services of the app handling the current request."""
    found: AppServices = current_app.extensions[EXTENSION_KEY]
    return found


def init_services(app: Flask) -> AppServices:
    """Build the services from `app.config` and attach them to the app.

    Raises:
        ConfigError: invalid EHRS, keys or database settings.
    """
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    config = app.config
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = read_or_create_secret(instance / "secret.key", lambda: secrets.token_urlsafe(48))
    clock: Callable[[], float] = config.get("CLOCK") or time.time
    database = Database(config.get("DATABASE_URL") or f"sqlite:///{instance / 'spine-auth.sqlite'}")
    prepare_schema(database, migrate=bool(config.get("MIGRATE_ON_START", True)))
    cipher = TokenCipher(_fernet_keys(config.get("TOKEN_ENCRYPTION_KEYS"), instance))
    check_shared_secrets(database, str(config["SECRET_KEY"]), cipher, now=clock())
    signing_keys = _signing_keys(config.get("SIGNING_KEYS"), instance)
    registry = EhrRegistry.from_config(config.get("EHRS") or [])
    for registration in registry:
        if not registration.open:
            registration.oauth_client(signing_keys)  # fail at startup, not at the first launch
    http: requests.Session = EnvironmentOnceSession()
    discovery = DiscoveryCache(
        lambda iss: fetch_smart_configuration(iss, session=http),
        ttl_seconds=float(config["DISCOVERY_CACHE_SECONDS"]),
    )
    jwks = JwksCache(lambda uri: fetch_jwks(uri, session=http))
    VERDICTS.size = int(config.get("R4B_VERDICT_CACHE_SIZE", DEFAULT_VERDICT_CACHE_SIZE))
    tokens = TokenService(
        database=database,
        cipher=cipher,
        signing_keys=signing_keys,
        registration_for=registry.by_name,
        skew_seconds=float(config["TOKEN_REFRESH_SKEW_SECONDS"]),
        clock=clock,
    )
    built = AppServices(
        database=database,
        cipher=cipher,
        signing_keys=signing_keys,
        registry=registry,
        discovery=discovery,
        jwks=jwks,
        http=http,
        tokens=tokens,
        clock=clock,
    )
    app.extensions[EXTENSION_KEY] = built
    return built


def prepare_schema(database: Database, *, migrate: bool) -> None:
    """Migrate the schema to the newest revision, or (with `MIGRATE_ON_START` off) check that it is there.

    Raises:
        ConfigError: the schema is behind and this app may not migrate it.
    """
    if migrate:
        database.create_all()
        return
    current, head = current_revision(database), head_revision()
    if current != head:
        raise ConfigError(
            f"the database schema is at {current or 'nothing'}, this app needs {head}: run `smart-app db upgrade` first"
        )


def check_shared_secrets(database: Database, secret_key: str, cipher: TokenCipher, *, now: float) -> None:
    """Every instance sharing a database must share its secrets: refuse to start with different ones.

    Raises:
        ConfigError: the SECRET_KEY or the Fernet keys differ from those the database was set up with.
    """
    try:
        check_deployment_secret(database, "secret_key", secret_fingerprint(secret_key), now=now)
    except DeploymentSecretMismatch as error:
        raise ConfigError(
            "SECRET_KEY differs from the one this database was set up with: give every instance the same "
            "SMART_APP_SECRET_KEY (after changing it everywhere, run `smart-app db forget-secrets`)"
        ) from error
    try:
        check_cipher_canary(database, cipher, now=now)
    except DeploymentSecretMismatch as error:
        raise ConfigError(
            "TOKEN_ENCRYPTION_KEYS cannot read what other instances of this database encrypt: give every instance "
            "the same SMART_APP_TOKEN_ENCRYPTION_KEYS (to rotate, add the new key first everywhere, then promote it)"
        ) from error


def _fernet_keys(configured: object, instance: Path) -> list[str]:
    if configured:
        if isinstance(configured, str):
            return [configured]
        if isinstance(configured, list) and all(isinstance(key, str) for key in configured):
            return configured
        raise ConfigError("TOKEN_ENCRYPTION_KEYS must be a Fernet key or a list of them")
    return [read_or_create_secret(instance / "token-encryption.key", generate_fernet_key).strip()]


def _signing_keys(configured: object, instance: Path) -> list[SigningKey]:
    if configured:
        jwks: Any = configured
    else:
        text = read_or_create_secret(instance / "signing-keys.json", _new_signing_keys_document)
        jwks = json.loads(text)["keys"]
    if not isinstance(jwks, list) or not all(isinstance(jwk, Mapping) for jwk in jwks):
        raise ConfigError("SIGNING_KEYS must be a list of private JWKs")
    try:
        keys = [signing_key_from_jwk(jwk) for jwk in jwks]
    except SigningKeyError as error:
        raise ConfigError(f"SIGNING_KEYS: {error}") from error
    if len({key.kid for key in keys}) != len(keys):
        raise ConfigError("SIGNING_KEYS: every key needs its own kid")
    return keys


def _new_signing_keys_document() -> str:
    keys = [generate_signing_key("RS384"), generate_signing_key("ES384")]
    return json.dumps({"keys": [key.private_jwk() for key in keys]}, indent=2)


def warm_up(app: Flask) -> None:
    """Do a worker's one-time work before it serves (gunicorn's `post_worker_init`): the R4B validators of the
    record's types, the report renderer's import (reportlab, its fonts) and every template compiled. Without it
    the first clinicians each worker serves pay about 2 CPU-seconds between them — a cost every extra worker
    process repeats, and the first burst after a deploy waits on."""
    import smart_app.render.report  # noqa: F401  (reportlab and its fonts: ~0.3 s on first import)
    from smart_app.fhir.record import warm_up as warm_record_models

    warm_record_models()
    for name in app.jinja_env.list_templates(filter_func=lambda name: name.endswith(".html")):
        app.jinja_env.get_template(name)

"""`smart-app db`: the app's database outside the web app (migrations, purge, shared-secret records).

Settings as `smart-app serve` reads them (`--config FILE`, then `SMART_APP_*` environment variables): the database
is `DATABASE_URL`, else the SQLite file in the instance folder the web app would use.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from flask import Flask

from smart_app.cli.serve import environment_settings, load_config_file
from smart_app.config import DEFAULTS
from smart_app.store.db import Database
from smart_app.store.maintenance import forget_deployment_secrets
from smart_app.store.migrate import current_revision, head_revision, upgrade
from smart_app.store.purge import Lifetimes, purge

CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Settings file (JSON, TOML or YAML); SMART_APP_* environment variables override it.",
)


def settings_of(config_file: Path | None) -> dict[str, Any]:
    settings: dict[str, Any] = dict(DEFAULTS)
    if config_file:
        settings.update(load_config_file(config_file))
    settings.update(environment_settings(Path.cwd()))
    return settings


def database_of(settings: dict[str, Any]) -> Database:
    url = settings.get("DATABASE_URL")
    if not url:
        instance = Path(settings.get("INSTANCE_PATH") or Flask("smart_app").instance_path)
        instance.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{instance / 'spine-auth.sqlite'}"
    return Database(str(url))


@click.group(name="db")
def db() -> None:
    """The app's database: upgrade the schema, purge expired state, forget recorded secrets."""


@db.command(name="upgrade")
@CONFIG_OPTION
def upgrade_command(config_file: Path | None) -> None:
    """Migrate the schema to the newest revision (safe to run while the app runs, and from several places)."""
    database = database_of(settings_of(config_file))
    try:
        upgrade(database)
        click.echo(json.dumps({"event": "upgraded", "revision": current_revision(database)}))
    finally:
        database.dispose()


@db.command(name="current")
@CONFIG_OPTION
def current_command(config_file: Path | None) -> None:
    """Print the schema revision of the database and the newest one this app knows."""
    database = database_of(settings_of(config_file))
    try:
        click.echo(json.dumps({"current": current_revision(database), "head": head_revision()}))
    finally:
        database.dispose()


@db.command(name="purge")
@CONFIG_OPTION
def purge_command(config_file: Path | None) -> None:
    """Delete expired sessions, launch states, launches with their tokens, attestations and kept drafts now."""
    settings = settings_of(config_file)
    database = database_of(settings)
    try:
        counts = purge(database, Lifetimes.from_settings(settings), now=time.time())
        click.echo(json.dumps({"event": "purged", **counts.__dict__}))
    finally:
        database.dispose()


@db.command(name="forget-secrets")
@CONFIG_OPTION
def forget_secrets_command(config_file: Path | None) -> None:
    """Forget the recorded fingerprints of the shared secrets (after changing SECRET_KEY on every instance)."""
    database = database_of(settings_of(config_file))
    try:
        click.echo(json.dumps({"event": "forgotten", "secrets": forget_deployment_secrets(database)}))
    finally:
        database.dispose()

"""`smart-app serve`: run the web app with werkzeug's threaded server.

Good for the sandbox and demos. In production run the WSGI app (`smart_app:create_app()`) under gunicorn or
waitress behind a TLS-terminating proxy. `PUBLIC_URL` is required: `serve` refuses to start without it.
"""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path
from typing import Any

import click
import yaml
from flask import Config

from smart_app import create_app
from smart_app.config import ConfigError
from smart_app.web.server import make_app_server


class ConfigFileError(click.ClickException):
    exit_code = 2


def load_config_file(path: Path) -> dict[str, Any]:
    """Settings from a JSON, TOML or YAML file (top-level keys are setting names, e.g. EHRS, DATABASE_URL).

    Raises:
        ConfigFileError: unreadable, unparsable or not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            data = json.loads(text)
        elif path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise ConfigFileError(f"{path}: use a .json, .toml, .yaml or .yml file")
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise ConfigFileError(f"{path}: {error}") from error
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: the top level must be a mapping of setting names")
    return data


def environment_settings(root: Path) -> dict[str, Any]:
    """`SMART_APP_*` environment variables, parsed as Flask does (JSON values, `__` for nesting)."""
    config = Config(str(root))
    config.from_prefixed_env(prefix="SMART_APP")
    return dict(config)


def require_public_url(settings: dict[str, Any]) -> None:
    """Refuse to serve without `PUBLIC_URL`: the redirect URI is built from it alone (never from a Host header).

    Raises:
        ConfigFileError: PUBLIC_URL is missing.
    """
    if not settings.get("PUBLIC_URL"):
        raise ConfigFileError(
            "PUBLIC_URL is not set: set SMART_APP_PUBLIC_URL (or PUBLIC_URL in --config) to the app's external "
            "https base URL, e.g. https://spine-auth.example; the OAuth redirect URI is built from it alone"
        )


@click.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Settings file (JSON, TOML or YAML); SMART_APP_* environment variables override it.",
)
def serve(host: str, port: int, config_file: Path | None) -> None:
    """Run the app (werkzeug, threaded). Production: gunicorn or waitress behind TLS, with PUBLIC_URL set."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("urllib3").setLevel(logging.WARNING)  # its DEBUG lines carry full URLs (patient ids)
    settings = load_config_file(config_file) if config_file else {}
    settings.update(environment_settings(Path.cwd()))
    require_public_url(settings)
    try:
        app = create_app(settings)
    except ConfigError as error:
        raise ConfigFileError(f"configuration: {error}") from error
    server = make_app_server(app, host, port)
    click.echo(json.dumps({"event": "listening", "url": f"http://{host}:{server.port}"}), err=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

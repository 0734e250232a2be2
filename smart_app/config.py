"""Documented defaults for the app and the registry of EHRs it may be launched from (the `iss` allowlist).

Override settings with environment variables `SMART_APP_<NAME>` (JSON values are parsed, so
`SMART_APP_EHRS='[...]'` works), with `smart-app serve --config FILE` (JSON, TOML or YAML), or with a mapping
passed to `create_app(test_config)`.

`EHRS` is a list of registrations. Each entry:

    name          unique slug ([a-z0-9-]), used in URLs and logs
    title         shown on the home page (default: name)
    iss           the FHIR base URL the EHR launches with; a launch naming any other iss is refused
    open          true: an open FHIR server, no OAuth, no Authorization header; the patient is chosen in the app
    client_id     our client id at this EHR (not for open servers)
    client_auth   public | client_secret_basic | private_key_jwt (default public)
    client_secret for client_secret_basic
    key_id        for private_key_jwt: the kid of one of our SIGNING_KEYS (default: the first key)
    scopes        scope profile: {"read": [types], "write": {type: "cu"}, "identity": bool,
                  "refresh": "online" | "offline" | "none", "extra": [scopes]} (default: the whole record, order writes)
    quirks        list of: "v1_scopes_only" (always v1 scope syntax), "authorize_post" (authorize by POST),
                  "no_id_token" (the EHR never issues an id_token: a launch without one continues without a user
                  identity, and the page says so; without this quirk such a launch is refused)
    ehr_origins   origins allowed to frame the app (CSP frame-ancestors); default: the origin of iss
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from smart_app.fhir.oauth import ClientAuthMethod, OAuthClient
from smart_app.fhir.scopes import ScopeProfile, ScopeProfileError
from smart_app.fhir.signing_keys import SigningKey

HAPI_PUBLIC_SANDBOX = "https://hapi.fhir.org/baseR4"

DEFAULTS: dict[str, Any] = {
    # Flask
    "SECRET_KEY": None,  # generated once into the instance folder when unset
    "SESSION_COOKIE_NAME": "spine_auth_session",
    # Storage: SQLite in the instance folder unless a URL is given (any SQLAlchemy URL works).
    "DATABASE_URL": None,
    # Fernet keys for tokens at rest (first encrypts, all decrypt: rotation); generated into the instance folder.
    "TOKEN_ENCRYPTION_KEYS": None,
    # Our private_key_jwt keys: a list of private JWKs with "alg" RS384 or ES384 (and optionally "kid");
    # one of each is generated into the instance folder when unset. The public halves are served at
    # /.well-known/jwks.json.
    "SIGNING_KEYS": None,
    # The app's external base URL (e.g. https://spine-auth.example): the redirect_uri is built from it alone, never
    # from the request's Host header. `smart-app serve` refuses to start without it; the sandbox sets it.
    "PUBLIC_URL": None,
    # Registered EHRs (the iss allowlist); see the module docstring.
    "EHRS": [
        {
            "name": "hapi-public",
            "title": "HAPI FHIR public test server (open, synthetic data only)",
            "iss": HAPI_PUBLIC_SANDBOX,
            "open": True,
        }
    ],
    # Request limits: bodies (JSON and forms) larger than this get 413; URLs longer than MAX_URL_LENGTH get 414.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": 1024 * 1024,
    "MAX_URL_LENGTH": 8192,
    # FHIR calls made while a person waits (web pages and the JSON API): one overall deadline per web request
    # (every try, page and backoff included) and fewer retries than the command line's 3. A slow EHR gets a 504
    # page saying so instead of holding the request for minutes.
    "FHIR_INTERACTIVE_DEADLINE_SECONDS": 20,
    "FHIR_INTERACTIVE_RETRIES": 1,
    # Whole-record reads (the summary, the check) running at once in one worker process; the others wait their turn
    # up to RECORD_READ_WAIT_SECONDS, then get 503 "busy" (smart_app/web/record_reads.py: sign-ins and pages are
    # not held behind a burst of record reads, and the EHR sees at most workers x this many at once).
    "RECORD_READS_PER_WORKER": 4,
    "RECORD_READ_WAIT_SECONDS": 30,
    # A whole-record read first waits while sign-in requests run on this machine, at most this long (0 = off), so
    # that a burst of launches is not slowed by the summaries of those already in (smart_app/web/sign_ins_first.py).
    # The board is a small shared-memory file every worker and instance on the machine uses (default: in /dev/shm).
    "SIGN_IN_FIRST_SECONDS": 3,
    "SIGN_IN_BOARD_PATH": None,
    # Launch and session lifetimes (seconds).
    "LAUNCH_STATE_TTL_SECONDS": 600,
    "SESSION_TTL_SECONDS": 12 * 3600,
    "DISCOVERY_CACHE_SECONDS": 3600,
    # Refresh access tokens this long before they expire.
    "TOKEN_REFRESH_SKEW_SECONDS": 60,
    # Default payer when the record's Coverage does not say otherwise.
    "DEFAULT_PAYER": "medicare",
    # Payer PAS endpoints for prior-authorization submission (fields in smart_app/payer_registry.py).
    "PAYERS": [],
    # The launch.html served at /launch.html (default: the one at the project root).
    "LAUNCH_HTML_PATH": None,
    # Deploying on several processes and machines (README "Deploying"). Lifetimes of app-side state (seconds): a
    # purge deletes what is older, run every PURGE_INTERVAL_SECONDS by whichever worker claims it first (0: never
    # from the web app; run `smart-app db purge` from a scheduler instead).
    "LAUNCH_TTL_SECONDS": 12 * 3600,
    "ATTESTATION_TTL_SECONDS": 12 * 3600,
    "KEPT_DRAFT_TTL_SECONDS": 30 * 24 * 3600,
    "PURGE_INTERVAL_SECONDS": 300,
    # Migrate the database to the newest schema when the app starts (false: run `smart-app db upgrade` yourself).
    "MIGRATE_ON_START": True,
    # Rate limits (limits' notation, e.g. "120/minute;2000/hour"), counted in RATE_LIMIT_STORAGE_URL: "memory://"
    # (per process) or "redis://host:6379/0" (shared by every instance). Per client address behind
    # TRUSTED_PROXY_HOPS proxies (X-Forwarded-For), and per browser session. Over the limit: 429 with Retry-After.
    "RATE_LIMIT_ENABLED": True,
    "RATE_LIMIT_PER_ADDRESS": "6000/minute",
    "RATE_LIMIT_PER_SESSION": "300/minute",
    "RATE_LIMIT_STORAGE_URL": "memory://",
    "TRUSTED_PROXY_HOPS": 0,
    # Test hooks: "INSTANCE_PATH" (where generated secrets and the SQLite file go) and "CLOCK" (a zero-argument
    # callable returning epoch seconds) may be passed to create_app; they are not read from the environment.
}

KNOWN_QUIRKS = frozenset({"v1_scopes_only", "authorize_post", "no_id_token"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ENTRY_KEYS = frozenset(
    {"name", "title", "iss", "open", "client_id", "client_auth", "client_secret", "key_id", "scopes", "quirks"}
    | {"ehr_origins"}
)


class ConfigError(ValueError):
    """The configuration is invalid; the message names the entry and the field."""


def check_public_url(value: object) -> str | None:
    """`PUBLIC_URL` normalised (no trailing slash), or None when unset.

    Raises:
        ConfigError: not an absolute http(s) URL without query or fragment.
    """
    if value in (None, ""):
        return None
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        valid = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid or parts is None or parts.query or parts.fragment:
        raise ConfigError(f"PUBLIC_URL must be the app's absolute http(s) base URL, got {value!r}")
    return str(value).rstrip("/")


@dataclass(frozen=True)
class EhrRegistration:
    """One EHR (or open FHIR server) the app may be launched from."""

    name: str
    title: str
    iss: str
    open: bool = False
    client_id: str | None = None
    client_auth: ClientAuthMethod = "public"
    client_secret: str | None = field(default=None, repr=False)
    key_id: str | None = None
    scope_profile: ScopeProfile = field(default_factory=ScopeProfile)
    quirks: frozenset[str] = frozenset()
    ehr_origins: tuple[str, ...] = ()

    def oauth_client(self, signing_keys: Sequence[SigningKey]) -> OAuthClient:
        """Our OAuth client at this EHR, with the signing key its registration names.

        Raises:
            ConfigError: an open server, or no signing key with the configured kid.
        """
        if self.open or self.client_id is None:
            raise ConfigError(f"EHR {self.name}: an open server has no OAuth client")
        key = None
        if self.client_auth == "private_key_jwt":
            key = next((k for k in signing_keys if self.key_id in (None, k.kid)), None)
            if key is None:
                raise ConfigError(f"EHR {self.name}: no signing key with kid {self.key_id!r}")
        return OAuthClient(
            client_id=self.client_id, auth_method=self.client_auth, client_secret=self.client_secret, signing_key=key
        )


def normalize_iss(iss: str) -> str:
    """Compare FHIR bases without a trailing slash; scheme and host are case-insensitive."""
    parts = urlsplit(iss.strip())
    netloc = parts.netloc.lower()
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def parse_registration(entry: Mapping[str, Any]) -> EhrRegistration:
    """Validate one `EHRS` entry.

    Raises:
        ConfigError: a missing or malformed field, named with the entry.
    """
    if not isinstance(entry, Mapping):
        raise ConfigError("each EHRS entry must be a mapping")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"EHRS entry name must be a slug of a-z, 0-9 and '-': {name!r}")
    where = f"EHRS[{name}]"
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown fields {', '.join(sorted(unknown))}")
    iss = entry.get("iss")
    if not isinstance(iss, str) or urlsplit(iss).scheme not in ("http", "https") or not urlsplit(iss).hostname:
        raise ConfigError(f"{where}: iss must be an absolute http(s) URL")
    is_open = bool(entry.get("open", False))
    client_id = entry.get("client_id")
    client_auth = entry.get("client_auth", "public")
    if client_auth not in ("public", "client_secret_basic", "private_key_jwt"):
        raise ConfigError(f"{where}: client_auth must be public, client_secret_basic or private_key_jwt")
    if not is_open and (not isinstance(client_id, str) or not client_id):
        raise ConfigError(f"{where}: client_id is required unless open is true")
    if client_auth == "client_secret_basic" and not entry.get("client_secret"):
        raise ConfigError(f"{where}: client_secret_basic needs client_secret")
    quirks = frozenset(entry.get("quirks", ()))
    if quirks - KNOWN_QUIRKS:
        raise ConfigError(f"{where}: unknown quirks {', '.join(sorted(quirks - KNOWN_QUIRKS))}")
    try:
        profile = ScopeProfile.from_mapping(entry.get("scopes") or {})
    except ScopeProfileError as error:
        raise ConfigError(f"{where}.scopes: {error}") from error
    origins = entry.get("ehr_origins") or [origin_of(iss)]
    if isinstance(origins, str) or not all(_is_origin(o) for o in origins):
        raise ConfigError(f"{where}: ehr_origins must be a list of origins such as https://ehr.example")
    return EhrRegistration(
        name=name,
        title=str(entry.get("title") or name),
        iss=iss.rstrip("/"),
        open=is_open,
        client_id=client_id if isinstance(client_id, str) else None,
        client_auth=cast(ClientAuthMethod, client_auth),
        client_secret=entry.get("client_secret"),
        key_id=entry.get("key_id"),
        scope_profile=profile,
        quirks=quirks,
        ehr_origins=tuple(origin_of(o) for o in origins),
    )


def _is_origin(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.path in ("", "/")


class EhrRegistry:
    """The registered EHRs, looked up by iss (the launch allowlist) or by name."""

    def __init__(self, registrations: Iterable[EhrRegistration]) -> None:
        self._by_name: dict[str, EhrRegistration] = {}
        self._by_iss: dict[str, EhrRegistration] = {}
        for registration in registrations:
            if registration.name in self._by_name:
                raise ConfigError(f"EHRS: duplicate name {registration.name}")
            key = normalize_iss(registration.iss)
            if key in self._by_iss:
                raise ConfigError(f"EHRS: {registration.name} and {self._by_iss[key].name} share iss {key}")
            self._by_name[registration.name] = registration
            self._by_iss[key] = registration

    @classmethod
    def from_config(cls, entries: object) -> EhrRegistry:
        if not isinstance(entries, list | tuple):
            raise ConfigError("EHRS must be a list of registrations")
        return cls(parse_registration(entry) for entry in entries)

    def __iter__(self) -> Iterator[EhrRegistration]:
        return iter(self._by_name.values())

    def by_iss(self, iss: str) -> EhrRegistration | None:
        """The registration for `iss`, or None (also for a string that is not a parsable URL)."""
        try:
            return self._by_iss.get(normalize_iss(iss))
        except ValueError:
            return None

    def by_name(self, name: str) -> EhrRegistration | None:
        return self._by_name.get(name)

    def frame_ancestors(self) -> list[str]:
        """Origins of every registered EHR UI, for CSP frame-ancestors (open servers embed no apps)."""
        return sorted({origin for registration in self if not registration.open for origin in registration.ehr_origins})


# --- prior-auth packet (issue 10) ---------------------------------------------------------------------------------
# Our practice as the requesting provider on every packet: {"name", "npi", "tin", "address_lines": [...], "city",
# "state", "postal_code", "phone", "fax"}. Empty fields are filled from the EHR's Organization of the practice
# (the patient's managingOrganization) and otherwise listed as open items on the packet.
# Set with SMART_APP_PRACTICE='{"npi": "…", …}' or the config file.
DEFAULTS["PRACTICE"] = {}

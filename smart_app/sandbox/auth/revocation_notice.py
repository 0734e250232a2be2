"""Revocation notices to the resource server: the sandbox FHIR server caches introspection answers (see
sandbox/fhir-server/lib/introspection.mjs), so when an access token is revoked here the FHIR server is told at
once, before the revoking request is answered, and refuses the token from its next request on.

The notice names SHA-256 hashes of the tokens (the FHIR server's cache keys), never the tokens. It goes to the FHIR
server's loopback admin endpoint; an engine without that endpoint (HAPI caches for one second and answers 404) is
noted once and not asked again."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

NOTICE_PATH = "/admin/introspection/revoke"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TIMEOUT = (2.0, 5.0)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def notice_url_for(fhir_base: str) -> str | None:
    """The revocation notice endpoint of a sandbox FHIR server on loopback (admin endpoints answer loopback only)."""
    parts = urlsplit(fhir_base)
    if parts.hostname not in LOOPBACK_HOSTS:
        return None
    return f"{parts.scheme}://{parts.netloc}{NOTICE_PATH}"


class RevocationNotifier:
    def __init__(self, url: str | None) -> None:
        self._url = url
        self._session = requests.Session()
        self._lock = threading.Lock()
        self.sent = 0

    def notify(self, access_tokens: Iterable[str]) -> None:
        """Tell the FHIR server these access tokens are revoked; a failure is logged, never raised (the FHIR
        server's cache still ends at the token's expiry or its one-minute cap)."""
        url = self._url
        hashes = [token_hash(token) for token in access_tokens]
        if url is None or not hashes:
            return
        try:
            response = self._session.post(url, json={"tokenHashes": hashes}, timeout=TIMEOUT)
        except requests.RequestException as error:
            log.warning("Revocation notice to the FHIR server failed: %s", type(error).__name__)
            return
        if response.status_code in (404, 405):
            log.info("The FHIR server takes no revocation notices (HTTP %s); not sending more", response.status_code)
            self._url = None
        elif response.status_code != 200:
            log.warning("Revocation notice to the FHIR server answered HTTP %s", response.status_code)
        else:
            with self._lock:
                self.sent += len(hashes)

    def close(self) -> None:
        self._session.close()

"""A `requests.Session` that reads the process environment's proxy and CA settings once per origin.

requests re-reads `os.environ` on every request (`merge_environment_settings`: HTTP(S)_PROXY, NO_PROXY,
REQUESTS_CA_BUNDLE): about 0.5-1 ms of CPU per call, on every token and FHIR request of a launch. A running
process's environment does not change, so `EnvironmentOnceSession` keeps what it found (per scheme and host, for
the whole process: FHIR clients make a session per request) and merges it exactly as requests does.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

import requests
from requests.sessions import merge_setting as untyped_merge_setting
from requests.utils import get_environ_proxies

MAX_ORIGINS = 256
merge_setting = cast(Callable[[Any, Any], Any], untyped_merge_setting)


_ProxyKey = tuple[str, str, str | None]
_environment_proxies: dict[_ProxyKey, dict[str, str]] = {}  # process-wide: sessions come and go per request
_guard = threading.Lock()
_CA_BUNDLE = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")


def environment_proxies(url: str, no_proxy: str | None) -> dict[str, str]:
    """requests' `get_environ_proxies(url)`, looked up once per scheme and host in this process."""
    parts = urlsplit(url)
    key = (parts.scheme, parts.netloc, no_proxy)
    with _guard:
        found = _environment_proxies.get(key)
    if found is None:
        found = dict(get_environ_proxies(url, no_proxy=no_proxy))
        with _guard:
            if len(_environment_proxies) < MAX_ORIGINS:
                _environment_proxies[key] = found
    return found


def forget_environment() -> None:
    """Read the environment again on the next request (tests that change it)."""
    global _CA_BUNDLE
    with _guard:
        _environment_proxies.clear()
        _CA_BUNDLE = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")


class EnvironmentOnceSession(requests.Session):
    """`requests.Session` with the environment's proxies (per origin) and CA bundle looked up once per process."""

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if self.trust_env:
            no_proxy = proxies.get("no_proxy") if proxies is not None else None
            if proxies is not None:
                for scheme, proxy in environment_proxies(str(url), no_proxy).items():
                    proxies.setdefault(scheme, proxy)
            if verify is True or verify is None:
                verify = _CA_BUNDLE or verify
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }

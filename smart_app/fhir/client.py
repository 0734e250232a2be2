"""The FHIR REST client: one `requests.Session`, JSON only, timeouts, retries, typed errors, same-origin paging.

    client = FhirClient("https://ehr.example/fhir", token_source=session_tokens.current)
    result = client.search("Condition", {"patient": "Patient/123"})
    result.resources, result.warnings, result.complete

`token_source` is called for every request (it refreshes the token when needed); with `token_source=None` the
server is open and no Authorization header is ever sent (not even one a caller's session or ~/.netrc would add).
The token is only ever attached to URLs of the FHIR base's origin. Redirects are not followed: a FHIR API that
redirects is reported as an error rather than trusted with the token.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter

from smart_app.fhir.errors import (
    FhirError,
    FhirMalformedResponse,
    FhirTimeout,
    FhirTransportError,
    FhirUnauthorized,
    error_for_status,
)
from smart_app.fhir.http_session import EnvironmentOnceSession
from smart_app.fhir.operation_outcome import is_operation_outcome, summarize_outcome
from smart_app.fhir.paging import bundle_total, next_link, read_page, same_origin
from smart_app.fhir.retry import IDEMPOTENT_METHODS, RetryPolicy, bundle_is_replay_safe, parse_retry_after

logger = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
TokenSource = Callable[[], str]
SearchParams = Mapping[str, str | int | Sequence[str]] | Sequence[tuple[str, str | int]]

_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass
class SearchResult:
    """Every page of one search. `complete` is False when paging stopped early (see `warnings`).

    `unusable` lists entries without a usable resource as `{"reference": "Condition page 2 entry 3", "reason"}`.
    """

    resource_type: str
    resources: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unusable: list[dict[str, str]] = field(default_factory=list)
    page_count: int = 0
    total: int | None = None
    complete: bool = True
    error: FhirError | None = None


@dataclass(frozen=True)
class WriteResult:
    """The answer to a create or update: `created` is False when a conditional create matched an existing one."""

    status: int
    resource: dict[str, Any] | None
    location: str | None
    etag: str | None
    last_modified: str | None
    outcome: dict[str, Any] | None

    @property
    def created(self) -> bool:
        return self.status == 201


class _NoNetrcAuth(requests.auth.AuthBase):
    """Installed as the session's auth so requests never looks up ~/.netrc credentials for the FHIR host."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class _RequestCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self) -> None:
        with self._lock:
            self.value += 1


def _path_only(url: str) -> str:
    """The URL without its query: search parameters (patient ids) stay out of the logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _new_session(pool_size: int) -> requests.Session:
    session = EnvironmentOnceSession()  # the environment's proxies and CA bundle, read once per process
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class FhirClient:
    """A FHIR R4 REST client for one server (and one user's token). Safe to share between threads.

    A `session` passed in is used as is, except that its `auth` is replaced (no ~/.netrc lookups); without one,
    the client makes its own with a connection pool sized for the record fetch's workers (close it with
    `close()` or a `with` block).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token_source: TokenSource | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5, 30),
        retries: int = 3,
        max_pages: int = 200,
        page_size: int = 100,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        deadline_seconds: float | None = None,
    ) -> None:
        if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).hostname:
            raise ValueError(f"FHIR base must be an absolute http(s) URL, got {base_url!r}")
        if max_pages < 1 or page_size < 1:
            raise ValueError("max_pages and page_size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.token_source = token_source
        self.timeout = timeout
        self.max_pages = max_pages
        self.page_size = page_size
        self.retry_policy = retry_policy or RetryPolicy(retries=retries)
        self._sleep = sleep
        self.deadline_seconds = deadline_seconds
        # An overall deadline for everything this client sends (every try, every page, every wait), counted from
        # now: a web request builds one client per request, so a slow EHR cannot hold it longer than this.
        self._deadline = time.monotonic() + deadline_seconds if deadline_seconds is not None else None
        self._owns_session = session is None
        self._session = session or _new_session(pool_size=16)
        self._session.auth = _NoNetrcAuth()
        self._counter = _RequestCounter()

    def close(self) -> None:
        """Close the connection pool if this client created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- bookkeeping ---------------------------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """HTTP requests sent by this client (each retry counts)."""
        return self._counter.value

    def counting(self) -> FhirClient:
        """A client sharing this one's session and settings, with its own request counter from zero."""
        twin = copy.copy(self)
        twin._counter = _RequestCounter()
        twin._owns_session = False  # closing the twin must not close the pool it shares
        return twin

    # --- reads ---------------------------------------------------------------------------------------------

    def capabilities(self) -> dict[str, Any]:
        """The server's CapabilityStatement (`GET [base]/metadata`)."""
        return self._get_resource(f"{self.base_url}/metadata", expected_type="CapabilityStatement")

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        """`GET [base]/[type]/[id]`. Raises FhirNotFound for 404/410."""
        _check_type(resource_type)
        _check_id(resource_id)
        return self._get_resource(f"{self.base_url}/{resource_type}/{resource_id}", expected_type=resource_type)

    def search(self, resource_type: str, params: SearchParams | None = None, *, no_cache: bool = False) -> SearchResult:
        """Search and follow `next` links (same origin only, up to `max_pages`).

        `_count` defaults to `page_size`. `no_cache=True` sends `Cache-Control: no-cache` on every page, for a
        search that must see a resource just written (HAPI reuses identical searches for 60 s).
        """
        _check_type(resource_type)
        first_page = self.get_bundle(self.search_url(resource_type, params), no_cache=no_cache)
        return self.collect_pages(first_page, label=resource_type, no_cache=no_cache)

    def search_url(self, resource_type: str, params: SearchParams | None = None, *, relative: bool = False) -> str:
        """The search URL (absolute, or `Type?query` for a batch entry) with `_count` added when absent."""
        _check_type(resource_type)
        pairs = _param_pairs(params)
        if not any(name == "_count" for name, _ in pairs):
            pairs.append(("_count", str(self.page_size)))
        query = urlencode(pairs, safe="/:,|")
        path = f"{resource_type}?{query}"
        return path if relative else f"{self.base_url}/{path}"

    def get_bundle(self, url: str, *, no_cache: bool = False) -> dict[str, Any]:
        """GET a Bundle by absolute URL of the FHIR base's origin (a search or a `next` link, used verbatim)."""
        if not same_origin(url, self.base_url):
            raise FhirError(
                "refusing to fetch a URL outside the FHIR server's origin",
                method="GET",
                url=_path_only(url),
            )
        headers = {"Cache-Control": "no-cache"} if no_cache else None
        return self._get_resource(url, expected_type="Bundle", headers=headers)

    def collect_pages(
        self,
        first_page: dict[str, Any],
        *,
        label: str,
        no_cache: bool = False,
        max_pages: int | None = None,
        keep_partial: bool = False,
    ) -> SearchResult:
        """Read a first searchset page and every `next` page after it (verbatim, same origin, capped).

        With `keep_partial`, a later page that fails (other than 401) ends paging with a warning and the pages
        already read are returned (`complete` False, `error` set) instead of raising.
        """
        cap = max_pages or self.max_pages
        result = SearchResult(resource_type=label, total=bundle_total(first_page))
        page: dict[str, Any] | None = first_page
        seen_urls: set[str] = set()
        while page is not None:
            result.page_count += 1
            self._absorb_page(result, page)
            url = next_link(page, base_url=self.base_url)
            page = None
            if url is None:
                break
            if not same_origin(url, self.base_url):
                _stop(
                    result,
                    f"the next link points to another origin ({_path_only(url)}); not followed, so the token "
                    f"stays with {self.base_url}",
                )
            elif url in seen_urls:
                _stop(result, "the next link repeats an earlier one")
            elif result.page_count >= cap:
                _stop(result, f"the cap of {cap} pages was reached ({len(result.resources)} resources read)")
            else:
                seen_urls.add(url)
                try:
                    page = self.get_bundle(url, no_cache=no_cache)
                except FhirUnauthorized:
                    raise
                except FhirError as exc:
                    if not keep_partial:
                        raise
                    result.error = exc
                    _stop(result, f"page {result.page_count + 1} failed: {exc.brief()}")
        return result

    # --- writes --------------------------------------------------------------------------------------------

    def batch(self, entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """POST a batch Bundle; returns the batch-response. Retried only when every entry is replay-safe."""
        bundle = {"resourceType": "Bundle", "type": "batch", "entry": list(entries)}
        response = self._send("POST", self.base_url, body=bundle, replay_safe=bundle_is_replay_safe(bundle["entry"]))
        return self._expect_resource("POST", self.base_url, response, expected_type="Bundle")

    def transaction(
        self,
        bundle: dict[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        replay_safe: bool | None = None,
    ) -> dict[str, Any]:
        """POST a transaction Bundle; returns the transaction-response.

        It is retried on 502/503/504 or a lost connection only when replaying cannot write twice: by default when
        every entry is a read, PUT, DELETE or conditional create (`request.ifNoneExist`); pass `replay_safe` to
        decide yourself. 429 is always retried (the server did not process it).
        """
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
            raise ValueError("transaction() needs a Bundle of type 'transaction'")
        entries = bundle.get("entry") or []
        safe = bundle_is_replay_safe(entries) if replay_safe is None else replay_safe
        response = self._send("POST", self.base_url, body=bundle, headers=headers, replay_safe=safe)
        return self._expect_resource("POST", self.base_url, response, expected_type="Bundle")

    def create(self, resource: dict[str, Any], *, if_none_exist: str | None = None) -> WriteResult:
        """POST a resource; with `if_none_exist` (e.g. `identifier=sys|val`) a conditional, replay-safe create."""
        resource_type = _resource_type_of(resource)
        url = f"{self.base_url}/{resource_type}"
        headers = {"Prefer": "return=representation"}
        if if_none_exist:
            headers["If-None-Exist"] = if_none_exist
        response = self._send("POST", url, body=resource, headers=headers, replay_safe=bool(if_none_exist))
        return self._write_result("POST", url, response, resource_type)

    def update(self, resource: dict[str, Any], *, if_match: str | None = None) -> WriteResult:
        """PUT a resource by its id; `if_match` is a version id (`3`) or an ETag (`W/"3"`)."""
        resource_type = _resource_type_of(resource)
        resource_id = resource.get("id")
        if not isinstance(resource_id, str):
            raise ValueError("update() needs a resource with an id")
        _check_id(resource_id)
        url = f"{self.base_url}/{resource_type}/{resource_id}"
        headers = {"Prefer": "return=representation"}
        if if_match:
            headers["If-Match"] = if_match if if_match.startswith(('W/"', '"')) else f'W/"{if_match}"'
        response = self._send("PUT", url, body=resource, headers=headers, replay_safe=True)
        return self._write_result("PUT", url, response, resource_type)

    # --- internals -----------------------------------------------------------------------------------------

    def _absorb_page(self, result: SearchResult, page: dict[str, Any]) -> None:
        content = read_page(page)
        result.resources.extend(content.resources)
        page_name = f"{result.resource_type} page {result.page_count}"
        for where, why in content.unusable:
            result.unusable.append({"reference": f"{page_name} {where}", "reason": why})
        for outcome in content.outcomes:
            result.outcomes.append(outcome)
            summary = summarize_outcome(outcome) or "an OperationOutcome without issues"
            result.warnings.append(f"{result.resource_type}: the server reported {summary}")

    def _get_resource(
        self, url: str, *, expected_type: str, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        response = self._send("GET", url, headers=headers, replay_safe=True)
        return self._expect_resource("GET", url, response, expected_type=expected_type)

    def _expect_resource(
        self, method: str, url: str, response: requests.Response, *, expected_type: str
    ) -> dict[str, Any]:
        body = _json_body(method, url, response)
        if not isinstance(body, dict) or body.get("resourceType") != expected_type:
            found = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
            raise FhirMalformedResponse(
                f"{method} {url}: expected a {expected_type}, got {found!r}",
                method=method,
                url=url,
                status=response.status_code,
                outcome=body if is_operation_outcome(body) else None,
            )
        return body

    def _write_result(self, method: str, url: str, response: requests.Response, resource_type: str) -> WriteResult:
        body = _json_body(method, url, response) if response.content.strip() else None
        return WriteResult(
            status=response.status_code,
            resource=body if isinstance(body, dict) and body.get("resourceType") == resource_type else None,
            location=response.headers.get("Location") or response.headers.get("Content-Location"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            outcome=body if is_operation_outcome(body) else None,
        )

    def _headers(self, url: str, extra: Mapping[str, str] | None, has_body: bool) -> dict[str, str | None]:
        headers: dict[str, str | None] = {"Accept": FHIR_JSON}
        if has_body:
            headers["Content-Type"] = FHIR_JSON
        if extra:
            headers.update(extra)
        # None removes any Authorization a caller-provided session carries by default.
        headers["Authorization"] = None
        if self.token_source is not None and same_origin(url, self.base_url):
            headers["Authorization"] = f"Bearer {self.token_source()}"
        return headers

    def _send(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        replay_safe: bool,
    ) -> requests.Response:
        """Send with retries (see `retry.py`); returns a 2xx response or raises the typed error."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
        safe = replay_safe or method in IDEMPOTENT_METHODS
        policy = self.retry_policy
        attempt = 0
        while True:
            request_headers = self._headers(url, headers, data is not None)
            timeout = self._attempt_timeout(method, url, attempt)
            try:
                self._counter.add()
                response = self._session.request(
                    method, url, data=data, headers=request_headers, timeout=timeout, allow_redirects=False
                )
            except requests.exceptions.RequestException as exc:
                never_sent = isinstance(exc, requests.exceptions.ConnectTimeout)
                wait = policy.backoff(attempt)
                if attempt < policy.retries and (safe or never_sent) and self._can_wait(wait):
                    self._wait(wait, method, url, type(exc).__name__, attempt)
                    attempt += 1
                    continue
                if isinstance(exc, requests.exceptions.Timeout) and self._deadline_passed():
                    raise self._deadline_error(method, url, attempt + 1) from exc
                raise _transport_error(method, url, exc, attempt + 1) from exc
            status = response.status_code
            if 200 <= status < 300:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            waitable = retry_after is None or retry_after <= policy.max_retry_after
            wait = policy.backoff(attempt) if retry_after is None else retry_after
            retry = attempt < policy.retries and waitable and policy.should_retry_status(status, replay_safe=safe)
            if retry and self._can_wait(wait):
                self._wait(wait, method, url, f"HTTP {status}", attempt)
                attempt += 1
                continue
            raise _status_error(method, url, response, retry_after)

    def _remaining(self) -> float | None:
        """Seconds left before the overall deadline (None: no deadline)."""
        return None if self._deadline is None else self._deadline - time.monotonic()

    def _deadline_passed(self) -> bool:
        remaining = self._remaining()
        return remaining is not None and remaining <= 0.05

    def _can_wait(self, seconds: float) -> bool:
        """True when waiting `seconds` still leaves time for another try before the deadline."""
        remaining = self._remaining()
        return remaining is None or seconds + 0.5 < remaining

    def _attempt_timeout(self, method: str, url: str, attempt: int) -> tuple[float, float]:
        """This try's (connect, read) timeouts, shortened to what is left of the deadline.

        Raises:
            FhirTimeout: the deadline has already passed.
        """
        remaining = self._remaining()
        if remaining is None:
            return self.timeout
        if remaining <= 0.05:
            raise self._deadline_error(method, url, attempt)
        return (min(self.timeout[0], remaining), min(self.timeout[1], remaining))

    def _deadline_error(self, method: str, url: str, tries: int) -> FhirTimeout:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        limit = f"{self.deadline_seconds:g}"
        return FhirTimeout(
            f"{method} {_path_only(url)}: no answer within the {limit} s limit after {tries} attempt(s)",
            method=method,
            url=url,
            diagnostics=f"{origin} did not answer within {limit} seconds ({tries} attempt(s))",
        )

    def _wait(self, seconds: float, method: str, url: str, cause: str, attempt: int) -> None:
        logger.info(
            "FHIR %s %s: %s, retry %d of %d in %.2f s",
            method,
            _path_only(url),
            cause,
            attempt + 1,
            self.retry_policy.retries,
            seconds,
        )
        self._sleep(seconds)


def _stop(result: SearchResult, reason: str) -> None:
    result.complete = False
    result.warnings.append(f"{result.resource_type}: paging stopped after {result.page_count} page(s): {reason}")


def _transport_error(method: str, url: str, exc: Exception, tries: int) -> FhirTransportError:
    error_class = FhirTimeout if isinstance(exc, requests.exceptions.Timeout) else FhirTransportError
    what = "timed out" if error_class is FhirTimeout else "could not reach the server"
    reason = _transport_reason(exc)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    return error_class(
        f"{method} {url} {what} after {tries} attempt(s) ({reason})",
        method=method,
        url=url,
        diagnostics=f"{what} at {origin} after {tries} attempt(s): {reason}",
    )


_TRANSPORT_REASONS: tuple[tuple[str, str], ...] = (
    ("connection refused", "connection refused (nothing listens there)"),
    ("name or service not known", "host name not found"),
    ("nodename nor servname", "host name not found"),
    ("temporary failure in name resolution", "host name not found"),
    ("certificate verify failed", "TLS certificate not trusted"),
    ("connection reset", "connection reset by the server"),
    ("remote end closed connection", "the server closed the connection without answering"),
    ("network is unreachable", "network unreachable"),
)


def _transport_reason(exc: Exception) -> str:
    """A short, plain reason from requests/urllib3's nested exception text (never the URL's query)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.exceptions.Timeout):
        return "read timeout"
    text = str(exc).lower()
    for needle, reason in _TRANSPORT_REASONS:
        if needle in text:
            return reason
    return type(exc).__name__


def _status_error(method: str, url: str, response: requests.Response, retry_after: float | None) -> FhirError:
    outcome: dict[str, Any] | None = None
    diagnostics = ""
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if is_operation_outcome(body):
        outcome = body
    elif response.content:
        content_type = response.headers.get("Content-Type", "unknown type")
        diagnostics = f"non-FHIR error body ({content_type}, {len(response.content)} bytes)"
    return error_for_status(
        method=method,
        url=url,
        status=response.status_code,
        reason=response.reason or "",
        outcome=outcome,
        diagnostics=diagnostics,
        retry_after=retry_after,
    )


def _json_body(method: str, url: str, response: requests.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as exc:
        content_type = response.headers.get("Content-Type", "unknown type")
        raise FhirMalformedResponse(
            f"{method} {url}: HTTP {response.status_code} body is not JSON ({content_type})",
            method=method,
            url=url,
            status=response.status_code,
        ) from exc


def _param_pairs(params: SearchParams | None) -> list[tuple[str, str]]:
    if params is None:
        return []
    if isinstance(params, Mapping):
        pairs: list[tuple[str, str]] = []
        for name, value in params.items():
            if isinstance(value, str | int):
                pairs.append((name, str(value)))
            else:
                pairs.extend((name, str(item)) for item in value)
        return pairs
    return [(name, str(value)) for name, value in params]


def _check_type(resource_type: str) -> None:
    if not _RESOURCE_TYPE.match(resource_type):
        raise ValueError(f"not a FHIR resource type: {resource_type!r}")


def _check_id(resource_id: str) -> None:
    if not _FHIR_ID.match(resource_id):
        raise ValueError(f"not a FHIR id: {resource_id!r}")


def _resource_type_of(resource: Mapping[str, Any]) -> str:
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise ValueError("the resource has no resourceType")
    _check_type(resource_type)
    return resource_type

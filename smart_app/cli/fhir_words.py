"""What went wrong with a FHIR server, in words a command-line user can act on (`check`, `order`, `seed`).

- `patient_id_of("Patient/123")` → `123`: `--patient` takes the id alone or the `Patient/<id>` reference form.
- `usable_token(token)`: a token that cannot be an HTTP header value (a pasted line break, a space, a non-ASCII
  character) is refused before anything is sent, instead of failing deep in the HTTP library four times.
- `explain(error, fhir_base, …)`: a FHIR client error becomes the exit-2 or exit-3 message. A URL that answers
  like a web server but has no CapabilityStatement at `[base]/metadata` "is not a FHIR server" (not an unknown
  patient); TLS failures say whether the certificate is not trusted or the address does not speak TLS.
"""

from __future__ import annotations

import re

import requests

from smart_app.fhir.client import FhirClient
from smart_app.fhir.errors import (
    FhirError,
    FhirForbidden,
    FhirHttpError,
    FhirMalformedResponse,
    FhirNotFound,
    FhirTransportError,
    FhirUnauthorized,
)

# Visible ASCII: what an HTTP header value can carry unencoded (RFC 6750 tokens are a subset).
TOKEN_CHARACTERS = frozenset(chr(code) for code in range(0x21, 0x7F))
_VERIFY_DETAIL = re.compile(r"certificate verify failed:\s*([^(\]]+?)\s*(?:\(|\]|$)", re.IGNORECASE)


_CONNECTION_WORDS: tuple[tuple[str, str], ...] = (
    ("connection refused", "connection refused (nothing listens at that address and port)"),
    ("name or service not known", "host name not found"),
    ("temporary failure in name resolution", "host name not found"),
    ("nodename nor servname", "host name not found"),
    ("network is unreachable", "network unreachable"),
    ("connection reset", "the connection was reset by the server"),
    ("remote end closed connection", "the server closed the connection without answering"),
)


class FhirProblem(Exception):
    """A one-line description; `bad_input` picks exit 2 (the user's input is wrong) over exit 3 (the server)."""

    def __init__(self, message: str, *, bad_input: bool) -> None:
        super().__init__(message)
        self.bad_input = bad_input


def patient_id_of(value: str) -> str:
    """The patient id of `--patient`: `123`, `Patient/123` (or a URL ending in `/Patient/123`) → `123`."""
    text = value.strip()
    match = re.search(r"(?:^|/)Patient/([^/]+?)(?:/_history/[^/]+)?/?$", text)
    return match.group(1) if match else text


def usable_token(token: str | None, where: str = "SMART_APP_FHIR_TOKEN") -> str | None:
    """The token, trimmed; None when empty.

    Raises:
        FhirProblem: it holds a character a header cannot carry (space, line break, non-ASCII), named in words.
    """
    if token is None or not token.strip():
        return None
    token = token.strip()
    bad = sorted({char for char in token if char not in TOKEN_CHARACTERS})
    if bad:
        names = ", ".join(_character_name(char) for char in bad[:3])
        raise FhirProblem(
            f"{where} is not a usable bearer token: it holds {names}, which an HTTP Authorization header cannot "
            "carry (copy the token again, on one line)",
            bad_input=True,
        )
    return token


def explain(
    error: FhirError, fhir_base: str, *, patient_id: str | None = None, token: str | None = None
) -> FhirProblem:
    """The problem to report for `error`, raised while talking to `fhir_base`."""
    if isinstance(error, FhirTransportError):
        return FhirProblem(f"cannot reach the FHIR server at {fhir_base}: {transport_words(error)}", bad_input=False)
    if isinstance(error, FhirUnauthorized):
        need = "a token (set SMART_APP_FHIR_TOKEN)" if token is None else "a valid token (this one was refused)"
        return FhirProblem(f"the FHIR server at {fhir_base} requires {need}: {error.brief()}", bad_input=False)
    if isinstance(error, FhirForbidden):
        return FhirProblem(
            f"the FHIR server at {fhir_base} refused: the token does not allow this ({error.brief()})", bad_input=False
        )
    answered_oddly = isinstance(error, FhirMalformedResponse) or (
        isinstance(error, FhirHttpError) and error.status is not None and error.status < 500
    )
    if answered_oddly and not_fhir(fhir_base, token):
        return not_a_fhir_server(fhir_base)
    if isinstance(error, FhirNotFound) and patient_id is not None:
        return FhirProblem(f"unknown patient id {patient_id!r} on the FHIR server ({error.brief()})", bad_input=True)
    return FhirProblem(f"FHIR server failed: {error.brief()}", bad_input=False)


def not_a_fhir_server(fhir_base: str) -> FhirProblem:
    base = fhir_base.rstrip("/")
    return FhirProblem(f"{base} is not a FHIR server: no CapabilityStatement at {base}/metadata", bad_input=True)


def not_fhir(fhir_base: str, token: str | None = None) -> bool:
    """Whether the server at `fhir_base` answers but has no CapabilityStatement at `[base]/metadata` (one try).
    A server error or no answer at all proves nothing: False."""
    try:
        with FhirClient(fhir_base, token_source=(lambda: token) if token else None, retries=0) as client:
            client.capabilities()
    except FhirMalformedResponse:
        return True
    except FhirHttpError as error:
        return error.status is not None and error.status < 500 and error.status not in (401, 403, 429)
    except (FhirError, ValueError):
        return False
    return False


def transport_words(error: BaseException) -> str:
    """A transport failure (TLS, headers, connection) in words, from the exception chain."""
    chain = _chain(error)
    text = " ".join(str(item) for item in chain)
    if any(isinstance(item, requests.exceptions.SSLError) for item in chain) or "SSL" in text:
        detail = _VERIFY_DETAIL.search(text)
        if detail or "certificate verify failed" in text.lower():
            reason = detail.group(1).strip() if detail else "certificate verify failed"
            return (
                f"the server's TLS certificate is not trusted ({reason}); if it is your own server, point "
                "REQUESTS_CA_BUNDLE at the CA certificate that signed it"
            )
        if "wrong version number" in text.lower() or "record layer failure" in text.lower():
            return "the address does not speak TLS (is it http:// rather than https://?)"
        if "hostname mismatch" in text.lower() or "doesn't match" in text.lower():
            return "the server's TLS certificate is for another host name"
        return f"the TLS handshake failed ({_short(text)})"
    if any(isinstance(item, requests.exceptions.InvalidHeader) for item in chain):
        return "a request header is not valid (a token with a line break or space?)"
    lowered = text.lower()
    for needle, words in _CONNECTION_WORDS:
        if needle in lowered:
            return words
    if any(isinstance(item, requests.exceptions.Timeout) for item in chain):
        return "no answer in time"
    return error.diagnostics if isinstance(error, FhirError) and error.diagnostics else _short(text)


def _chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in found and len(found) < 10:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _short(text: str) -> str:
    return " ".join(text.split())[:200]


def _character_name(char: str) -> str:
    names = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", " ": "a space"}
    if char in names:
        return names[char]
    return f"the character {char!r}" if char.isprintable() else f"the control character U+{ord(char):04X}"

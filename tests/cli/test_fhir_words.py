"""Issue 9 item 9: the command line against real servers. `smart-app seed` works with the token `smart-app sandbox`
prints; a URL that is not a FHIR server says so; `--patient Patient/<id>` is accepted; TLS and header problems are
described in words. Exit codes stay as ../shared/contracts/CLI.md has them (2 bad input, 3 the server)."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smart_app.cli import main
from smart_app.cli.fhir_words import patient_id_of
from smart_app.cli.sandbox import CLI_TOKEN_SCOPE
from smart_app.sandbox.seed import seed_patients, seed_server

PATIENT = seed_patients(["lumbar-rfa-initial-right-ready"])[0]
REQUEST = ["--procedure", "radiofrequency-ablation", "--levels", "L4-L5,L5-S1", "--side", "right",
           "--as-of", "2026-11-15", "--format", "json"]  # fmt: skip


def cli(*args: str, token: str = "", tmp_path: Path | None = None) -> Result:
    env = {"SMART_APP_FHIR_TOKEN": token, "SMART_APP_FHIR_USER": ""}
    if tmp_path is not None:
        env["SMART_APP_DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.db'}"
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def one_line(result: Result) -> str:
    assert result.stdout == "" and result.stderr.count("\n") == 1, (result.stdout, result.stderr)
    return result.stderr.strip()


def test_patient_reference_forms() -> None:
    assert patient_id_of("123") == "123"
    assert patient_id_of("Patient/123") == "123"
    assert patient_id_of("http://ehr.example/fhir/Patient/a-1/_history/2") == "a-1"
    assert patient_id_of(" Patient/abc ") == "abc"


@pytest.mark.sandbox
def test_seed_works_with_the_token_the_sandbox_prints(empty_fhir_server: Any, auth_server: Any) -> None:
    token = auth_server.issue_token(CLI_TOKEN_SCOPE, lifetime=3600)
    empty_fhir_server.configure(require_auth=True)
    result = cli("seed", "--fhir-base", empty_fhir_server.base_url, "--only", PATIENT.name, token=token)
    assert result.exit_code == 0, result.stderr
    assert f"Patient/{PATIENT.id}" in result.stdout
    checked = cli("check", "--fhir-base", empty_fhir_server.base_url, "--patient", PATIENT.id, *REQUEST, token=token)
    assert checked.exit_code == 0, checked.stderr
    assert token not in result.stdout + result.stderr


@pytest.mark.sandbox
def test_a_token_that_cannot_write_the_seed_says_what_it_lacks(empty_fhir_server: Any, auth_server: Any) -> None:
    token = auth_server.issue_token("system/*.rs", lifetime=600)
    empty_fhir_server.configure(require_auth=True)
    result = cli("seed", "--fhir-base", empty_fhir_server.base_url, "--only", PATIENT.name, token=token)
    assert result.exit_code == 3
    assert "HTTP 403" in result.stderr and "system/*.cu" in result.stderr


@pytest.mark.sandbox
def test_a_url_that_is_not_a_fhir_server_says_so(auth_server: Any, tmp_path: Path) -> None:
    base = auth_server.base_url  # a real server, but an authorization server, not FHIR
    expected = f"{base} is not a FHIR server: no CapabilityStatement at {base}/metadata"
    for command in (["check", "--fhir-base", base, "--patient", PATIENT.id, *REQUEST],
                    ["order", "--fhir-base", base, "--patient", PATIENT.id, *REQUEST],
                    ["seed", "--fhir-base", base, "--only", PATIENT.name]):  # fmt: skip
        result = cli(*command, tmp_path=tmp_path)
        assert result.exit_code == 2, result.stderr
        assert expected in one_line(result)
        assert "unknown patient id" not in result.stderr


@pytest.mark.sandbox
def test_an_unknown_patient_on_a_real_fhir_server_is_still_an_unknown_patient(empty_fhir_server: Any) -> None:
    result = cli("check", "--fhir-base", empty_fhir_server.base_url, "--patient", "Patient/nobody", *REQUEST)
    assert result.exit_code == 2
    assert "unknown patient id 'nobody'" in one_line(result)


@pytest.mark.sandbox
def test_patient_reference_form_is_accepted_by_check_and_order(empty_fhir_server: Any, tmp_path: Path) -> None:
    seed_server(empty_fhir_server.base_url, only=[PATIENT.name])
    base = empty_fhir_server.base_url
    plain = cli("check", "--fhir-base", base, "--patient", PATIENT.id, *REQUEST)
    prefixed = cli("check", "--fhir-base", base, "--patient", f"Patient/{PATIENT.id}", *REQUEST)
    assert prefixed.exit_code == 0, prefixed.stderr
    assert json.loads(prefixed.stdout)["verdict"] == json.loads(plain.stdout)["verdict"] == "ready"
    ordered = cli("order", "--fhir-base", base, "--patient", f"Patient/{PATIENT.id}", *REQUEST, tmp_path=tmp_path)
    assert ordered.exit_code == 0, ordered.stderr
    document = json.loads(ordered.stdout)
    assert document["kept_locally"] is False
    assert document["check"]["patient"]["reference"] == f"Patient/{PATIENT.id}"


def test_bundle_mode_takes_the_reference_form_too(tmp_path: Path) -> None:
    from smart_app.sandbox.seed import seed_bundles

    _name, bundle = seed_bundles([PATIENT.name])[1]
    path = tmp_path / "record.json"
    path.write_text(json.dumps(bundle))
    result = cli("check", "--bundle", str(path), "--patient", f"Patient/{PATIENT.id}", *REQUEST)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["patient"]["reference"] == f"Patient/{PATIENT.id}"


@pytest.mark.sandbox
def test_a_token_with_a_line_break_is_described_before_anything_is_sent(empty_fhir_server: Any) -> None:
    empty_fhir_server.reset_stats()
    base = empty_fhir_server.base_url
    result = cli("check", "--fhir-base", base, "--patient", PATIENT.id, *REQUEST, token="abc\ndef")
    assert result.exit_code == 2
    assert "SMART_APP_FHIR_TOKEN is not a usable bearer token: it holds a line break" in one_line(result)
    seeded = cli("seed", "--fhir-base", base, token="abc def")
    assert seeded.exit_code == 2 and "holds a space" in seeded.stderr
    assert empty_fhir_server.request_count() == 0


@pytest.fixture(scope="module")
def self_signed_https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real HTTPS server on loopback whose certificate nobody trusts (self-signed)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/fhir"
    finally:
        server.shutdown()
        server.server_close()


def test_an_untrusted_tls_certificate_is_described_in_words(
    self_signed_https: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    result = cli("check", "--fhir-base", self_signed_https, "--patient", PATIENT.id, *REQUEST)
    assert result.exit_code == 3
    message = one_line(result)
    assert (
        f"cannot reach the FHIR server at {self_signed_https}: the server's TLS certificate is not trusted" in message
    )
    assert "self-signed certificate" in message and "REQUESTS_CA_BUNDLE" in message


@pytest.mark.sandbox
def test_an_http_server_named_with_https_is_described_in_words(fhir_server: Any) -> None:
    base = fhir_server.base_url.replace("http://", "https://")
    result = cli("check", "--fhir-base", base, "--patient", PATIENT.id, *REQUEST)
    assert result.exit_code == 3
    assert "the address does not speak TLS (is it http:// rather than https://?)" in one_line(result)

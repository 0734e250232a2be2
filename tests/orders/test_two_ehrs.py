"""Issue 14 items 1 and 3, against real sandboxes: two registered EHRs (two sandbox FHIR servers, each with its own
SMART authorization server) hold a patient of the same id, and one app serves both.

Before: a user of EHR B exported EHR A's kept draft (A's patient name and birth date in its report PDF) and, by
withdrawing, discarded it; the export of a kept draft read the record again and failed with 502 when the EHR was
down. After: kept drafts, attestations and audit lookups are keyed by the EHR, each read is checked against the
launch, and a kept draft's exports come from what was kept.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from pypdf import PdfReader

from smart_app.cli.sandbox import register_app
from smart_app.sandbox.auth import start_auth_server
from smart_app.sandbox.fhir_server import start_fhir_server
from smart_app.sandbox.seed.catalog import SeedPatient, seed_patients
from smart_app.sandbox.seed.loader import seed_server
from smart_app.store.audit import events
from smart_app.store.drafts import DraftStore
from tests.conftest import RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET, free_port
from tests.web.conftest import ORDER_PATIENT, Browser, RunningApp, serve_app
from tests.web.test_checklist_support import checklist_url, launch, request_of

pytestmark = pytest.mark.sandbox
NO_ORDER_WRITES = ["patient/ServiceRequest.*", "patient/DocumentReference.*"]
CLIENT_ID = "spine-auth-two-ehrs"


@dataclass
class Ehr:
    name: str
    fhir: Any
    auth: Any

    def stop(self) -> None:
        self.auth.stop()
        self.fhir.stop()


def start_ehr(name: str, log_dir: Path) -> Ehr:
    """A sandbox FHIR server and its authorization server on free ports."""
    fhir_port, auth_port = free_port(), free_port()
    fhir = start_fhir_server(
        port=fhir_port,
        auth_base=f"http://127.0.0.1:{auth_port}",
        introspection_client=(RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET),
        log_path=log_dir / f"{name}.log",
        startup_timeout=60.0,  # the machine is shared: node may take a while to listen
    )
    auth = start_auth_server(
        port=auth_port, fhir_base=fhir.base_url, resource_servers={RESOURCE_SERVER_ID: RESOURCE_SERVER_SECRET}
    )
    return Ehr(name, fhir, auth)


def serve_for(ehrs: list[Ehr], tmp_path: Path) -> RunningApp:
    entries = [
        {"name": ehr.name, "title": f"EHR {ehr.name}", "iss": ehr.fhir.base_url, "client_id": CLIENT_ID,
         "client_auth": "public", "ehr_origins": [ehr.auth.base_url]}
        for ehr in ehrs
    ]  # fmt: skip
    app = serve_app(tmp_path, entries, CLIENT_ID)
    for ehr in ehrs:
        register_app(ehr.auth, app.url, client_id=CLIENT_ID, client_auth="public", client_secret=None, name="two")
    return app


def seed_renamed(ehr: Ehr, patient: SeedPatient, family: str, birth_date: str) -> None:
    """The seed patient on this EHR, under the same id but another name and birth date."""
    seed_server(ehr.fhir.base_url, only=[patient.name])
    url = f"{ehr.fhir.base_url}/Patient/{patient.id}"
    resource = requests.get(url, timeout=10).json()
    resource["name"] = [{"use": "official", "family": family, "given": ["Alex"]}]
    resource["birthDate"] = birth_date
    answer = requests.put(url, json=resource, headers={"Content-Type": "application/fhir+json"}, timeout=10)
    assert answer.status_code == 200, answer.text


def pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture(scope="module")
def two_ehrs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ehr, Ehr, RunningApp, SeedPatient]]:
    logs = tmp_path_factory.mktemp("two-ehrs")
    first, second = start_ehr("ehr-a", logs), start_ehr("ehr-b", logs)
    app = serve_for([first, second], logs / "app")
    patient = seed_patients([ORDER_PATIENT])[0]
    seed_renamed(first, patient, "Aardvark", "1951-03-04")
    seed_renamed(second, patient, "Zebulon", "1977-09-10")
    try:
        yield first, second, app, patient
    finally:
        app.stop()
        first.stop()
        second.stop()


def test_a_user_of_ehr_b_can_neither_export_nor_withdraw_ehr_as_kept_draft(
    two_ehrs: tuple[Ehr, Ehr, RunningApp, SeedPatient],
) -> None:
    ehr_a, ehr_b, app, patient = two_ehrs
    fields = request_of(patient, as_of="2026-12-01")
    ehr_a.auth.set_switches(drop_scopes=NO_ORDER_WRITES)
    try:
        with Browser() as alice:
            launch_a = launch(alice, app, ehr_a.auth, patient)
            saved = alice.post(f"{app.url}/s/{launch_a}/api/orders", json=fields).json()
    finally:
        ehr_a.auth.reset_switches()
    assert saved["kept_locally"] is True
    key = saved["order_key"]
    store = DraftStore(app.services.database, app.services.cipher)
    assert store.get(key, ehr=ehr_a.fhir.base_url) is not None

    with Browser() as bob:
        launch_b = launch(bob, app, ehr_b.auth, patient)  # same patient id, other EHR
        page = bob.get(checklist_url(app, launch_b, fields))
        assert page.status_code == 200 and "data-kept-draft" not in page.text
        draft = bob.get(f"{app.url}/s/{launch_b}/export/draft-order.json", params=fields)
        assert draft.status_code == 404
        assert "Aardvark" not in draft.text
        report = bob.get(f"{app.url}/s/{launch_b}/export/report.pdf", params=fields)
        assert report.status_code == 200
        text = pdf_text(report.content)
        assert "Zebulon" in text and "1977-09-10" in text
        assert "Aardvark" not in text and "1951-03-04" not in text
        withdrawn = bob.post(f"{app.url}/s/{launch_b}/api/orders/withdraw", json=fields)
        assert withdrawn.status_code == 200
        assert "The draft kept in the app was discarded." not in withdrawn.json()["notes"]

    # A's kept draft is still there, and A's user still gets it (with A's patient in its report).
    assert store.get(key, ehr=ehr_a.fhir.base_url) is not None
    with Browser() as alice:
        launch_a = launch(alice, app, ehr_a.auth, patient)
        draft = alice.get(f"{app.url}/s/{launch_a}/export/draft-order.json", params=fields)
        assert draft.status_code == 200
        report_doc = next(
            entry["resource"] for entry in draft.json()["entry"]
            if entry["resource"]["resourceType"] == "DocumentReference"
            and entry["resource"]["content"][0]["attachment"]["contentType"] == "application/pdf"
        )  # fmt: skip
        assert "Aardvark" in pdf_text(base64.b64decode(report_doc["content"][0]["attachment"]["data"]))

    with app.services.database.session() as db:
        kept_a = [item.detail for item in events(db, event="order.kept", ehr_name="ehr-a")]
        kept_b = events(db, event="order.kept", ehr_name="ehr-b")
        withdrawn_b = [item.detail for item in events(db, event="order.withdrawn", ehr_name="ehr-b")]
    assert kept_a == [f"order {key}: nothing written; kept locally"]
    assert kept_b == []
    assert withdrawn_b and all("Aardvark" not in detail for detail in withdrawn_b)


def test_attestations_of_one_ehr_never_answer_in_another(
    two_ehrs: tuple[Ehr, Ehr, RunningApp, SeedPatient],
) -> None:
    from smart_app.store.attestations import AttestationStore

    ehr_a, ehr_b, app, _patient = two_ehrs
    store = AttestationStore(app.services.database, app.services.cipher)
    store.attest(ehr=ehr_a.fhir.base_url, launch_id="L-shared", request_key="k", criterion_id="GEN-07",
                 status="met", note="ODI in the scanned letter", attested_by=None, now=_now())  # fmt: skip
    assert [item.criterion_id for item in store.for_request("L-shared", "k", ehr=ehr_a.fhir.base_url)] == ["GEN-07"]
    assert store.for_request("L-shared", "k", ehr=ehr_b.fhir.base_url) == []
    assert store.withdraw("L-shared", "k", "GEN-07", ehr=ehr_b.fhir.base_url) is False
    with pytest.raises(ValueError, match="another EHR"):
        store.attest(ehr=ehr_b.fhir.base_url, launch_id="L-shared", request_key="k", criterion_id="GEN-07",
                     status="not-met", note="x", attested_by=None, now=_now())  # fmt: skip


def test_a_kept_drafts_exports_work_while_the_ehr_is_down(tmp_path: Path) -> None:
    ehr = start_ehr("ehr-down", tmp_path)
    app = serve_for([ehr], tmp_path / "app")
    try:
        patient = seed_patients([ORDER_PATIENT])[0]
        seed_renamed(ehr, patient, "Quimby", "1960-01-02")
        fields = request_of(patient, as_of="2026-12-02")
        ehr.auth.set_switches(drop_scopes=NO_ORDER_WRITES)
        with Browser() as browser:
            launch_id = launch(browser, app, ehr.auth, patient)
            saved = browser.post(f"{app.url}/s/{launch_id}/api/orders", json=fields).json()
            assert saved["kept_locally"] is True
            ehr.fhir.stop()  # the EHR is down from here on
            with pytest.raises(requests.ConnectionError):
                requests.get(f"{ehr.fhir.base_url}/metadata", timeout=5)
            draft = browser.get(f"{app.url}/s/{launch_id}/export/draft-order.json", params=fields)
            assert draft.status_code == 200, draft.text
            assert draft.json()["type"] == "transaction"
            report = browser.get(f"{app.url}/s/{launch_id}/export/report.pdf", params=fields)
            assert report.status_code == 200, report.text[:300]
            assert report.headers["Content-Type"] == "application/pdf"
            assert "Quimby" in pdf_text(report.content)
            # A request with nothing kept still needs the EHR, and says so (502), not a crash.
            other = browser.get(f"{app.url}/s/{launch_id}/export/report.pdf", params={**fields, "as_of": "2026-12-03"})
            assert other.status_code == 502
    finally:
        app.stop()
        ehr.stop()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

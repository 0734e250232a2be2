"""Attesting criteria the record cannot prove: kept server-side per launch and request, re-applied as answers,
shown as `origin: attested` with the note and the launch's fhirUser, and withdrawable."""

from __future__ import annotations

import html as html_text
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from smart_app.sandbox.constants import SANDBOX_PRACTITIONER_ID
from smart_app.sandbox.seed.catalog import SeedPatient
from smart_app.store.attestations import AttestationRow, AttestationStore, answers_of
from smart_app.store.crypto import TokenCipher
from smart_app.store.db import Database
from smart_app.store.launches import get_launch
from tests.web.conftest import NEEDS_DOCUMENTATION, Browser, RunningApp
from tests.web.test_checklist_support import (
    checklist_url,
    expected_check,
    form_action,
    form_fields,
    launch,
    request_of,
    shown_criteria,
    shown_verdict,
)

NOTE = "ODI 38 % recorded on paper intake form, scanned 2026-10-20"


def unknown_criteria(html: str) -> list[str]:
    return [criterion for criterion, (status, _) in shown_criteria(html).items() if status == "unknown"]


def attest(browser: Browser, page: Any, criterion: str, status: str, note: str) -> Any:
    marker = f'data-attest="{criterion}"'
    fields = {**form_fields(page.text, marker), "status": status, "note": note}
    return browser.post(urljoin(page.url, form_action(page.text, marker)), data=fields, allow_redirects=False)


@pytest.mark.sandbox
def test_attesting_unknown_criteria_makes_them_attested_and_can_change_the_verdict(
    app_server: RunningApp, auth_server: Any, fhir_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[NEEDS_DOCUMENTATION]
    launch_id = launch(browser, app_server, auth_server, patient)
    fields = request_of(patient)
    page = browser.get(checklist_url(app_server, launch_id, fields))
    assert shown_verdict(page.text) == "needs-documentation"
    unknown = unknown_criteria(page.text)
    assert unknown

    for criterion in unknown:
        answered = attest(browser, page, criterion, "met", NOTE)
        assert answered.status_code == 303
        assert answered.headers["Location"].endswith(f"#criterion-{criterion}")
        page = browser.get(urljoin(page.url, answered.headers["Location"]))
        assert page.status_code == 200

    assert _fhir_user(app_server, launch_id).endswith(f"/Practitioner/{SANDBOX_PRACTITIONER_ID}")
    clinician = _clinician(fhir_server)  # the fhirUser by name and NPI, never its URL
    shown = shown_criteria(page.text)
    for criterion in unknown:
        assert shown[criterion] == ("met", "attested")
    expected = expected_check(
        fhir_server,
        patient,
        fields,
        answers={
            c: {"status": "met", "note": f"{NOTE} (attested by {clinician}, {_attested_at(app_server, launch_id, c)})"}
            for c in unknown
        },
    )
    assert shown_verdict(page.text) == expected["verdict"] == "ready"
    text = html_text.unescape(page.text)
    assert NOTE in text
    assert f'data-attested-by="{clinician}"' in page.text and 'data-attested-by="http' not in page.text

    # The API sees the same attestations (same launch, same request).
    api = browser.get(f"{app_server.url}/s/{launch_id}/api/check", params=fields)
    assert api.json() == expected

    # Withdraw one: it is unknown again and the verdict goes back.
    first = unknown[0]
    marker = f'data-criterion="{first}"'
    start = page.text.index(marker)
    withdraw_at = page.text.index("Withdraw attestation", start)
    form_start = page.text.rindex("<form", start, withdraw_at)
    withdraw_fields = form_fields(page.text[form_start:], "<form")
    withdrawn = browser.post(
        f"{app_server.url}/s/{launch_id}/checklist/attest/withdraw", data=withdraw_fields, allow_redirects=False
    )
    assert withdrawn.status_code == 303
    page = browser.get(urljoin(page.url, withdrawn.headers["Location"]))
    assert shown_criteria(page.text)[first] == ("unknown", "record")
    assert shown_verdict(page.text) == "needs-documentation"


@pytest.mark.sandbox
def test_attestations_belong_to_one_request_and_one_launch(
    app_server: RunningApp, auth_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[NEEDS_DOCUMENTATION]
    launch_id = launch(browser, app_server, auth_server, patient)
    fields = request_of(patient)
    page = browser.get(checklist_url(app_server, launch_id, fields))
    criterion = unknown_criteria(page.text)[0]
    assert attest(browser, page, criterion, "met", NOTE).status_code == 303

    other_request = browser.get(checklist_url(app_server, launch_id, {**fields, "side": "left"}))
    assert shown_criteria(other_request.text)[criterion] == ("unknown", "record")
    other_launch = launch(browser, app_server, auth_server, patient)
    assert shown_criteria(browser.get(checklist_url(app_server, other_launch, fields)).text)[criterion][0] == "unknown"
    with app_server.services.database.session() as db:
        row = db.query(AttestationRow).filter_by(launch_id=launch_id, criterion_id=criterion).one()
        assert NOTE not in row.note  # encrypted at rest


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("status", "note", "message"),
    [
        ("met", "  ", "A note is required"),
        ("maybe", NOTE, "Choose met or not met"),
        ("met", "x" * 2001, "too long"),
    ],
)
def test_an_attestation_needs_a_status_and_a_note(
    status: str,
    note: str,
    message: str,
    app_server: RunningApp,
    auth_server: Any,
    seeded: dict[str, SeedPatient],
    browser: Browser,
) -> None:
    patient = seeded[NEEDS_DOCUMENTATION]
    launch_id = launch(browser, app_server, auth_server, patient)
    page = browser.get(checklist_url(app_server, launch_id, request_of(patient)))
    criterion = unknown_criteria(page.text)[0]
    refused = attest(browser, page, criterion, status, note)
    assert refused.status_code == 400
    assert message in refused.text
    assert f'id="attest-error-{criterion}"' in refused.text
    assert shown_criteria(refused.text)[criterion] == ("unknown", "record")


@pytest.mark.sandbox
def test_only_unknown_criteria_can_be_attested_and_the_form_needs_its_token(
    app_server: RunningApp, auth_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[NEEDS_DOCUMENTATION]
    launch_id = launch(browser, app_server, auth_server, patient)
    page = browser.get(checklist_url(app_server, launch_id, request_of(patient)))
    criterion = unknown_criteria(page.text)[0]
    fields = form_fields(page.text, f'data-attest="{criterion}"')
    met = next(c for c, (status, _) in shown_criteria(page.text).items() if status == "met")
    url = f"{app_server.url}/s/{launch_id}/checklist/attest"
    not_unknown = browser.post(url, data={**fields, "criterion": met, "status": "not-met", "note": NOTE})
    assert not_unknown.status_code == 400
    assert "Only criteria the record cannot prove" in not_unknown.text
    forged = browser.post(url, data={**fields, "csrf_token": "x", "status": "met", "note": NOTE})
    assert forged.status_code == 403


def _clinician(fhir_server: Any) -> str:
    practitioner = requests.get(f"{fhir_server.base_url}/Practitioner/{SANDBOX_PRACTITIONER_ID}", timeout=10).json()
    npi = next(i["value"] for i in practitioner["identifier"] if i["system"].endswith("us-npi"))
    return f"Dr. Casey Sandoval, MD (NPI {npi})"


def _fhir_user(app: RunningApp, launch_id: str) -> str:
    with app.services.database.session() as db:
        found = get_launch(db, launch_id)
        assert found is not None and found.fhir_user
        return found.fhir_user


def _attested_at(app: RunningApp, launch_id: str, criterion: str) -> str:
    with app.services.database.session() as db:
        return str(db.query(AttestationRow).filter_by(launch_id=launch_id, criterion_id=criterion).one().attested_at)


def test_the_store_replaces_withdraws_and_forgets_per_launch(database: Database, cipher: TokenCipher) -> None:
    store = AttestationStore(database, cipher)
    when = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    common = {
        "ehr": "http://ehr/fhir",
        "launch_id": "L1",
        "request_key": "k1",
        "attested_by": "Practitioner/7",
        "now": when,
    }
    store.attest(criterion_id="GEN-07", status="met", note="first", **common)
    store.attest(criterion_id="GEN-07", status="not-met", note=" second ", **common)
    store.attest(criterion_id="GEN-03", status="met", note="pt notes", **common)
    store.attest(**{**common, "launch_id": "L2"}, criterion_id="GEN-07", status="met", note="other launch")
    kept = store.for_request("L1", "k1", ehr="http://ehr/fhir")
    assert [(a.criterion_id, a.status, a.note) for a in kept] == [
        ("GEN-03", "met", "pt notes"),
        ("GEN-07", "not-met", "second"),
    ]
    assert answers_of(kept)["GEN-07"] == {
        "status": "not-met",
        "note": "second (attested by Practitioner/7, 2026-11-21T09:30:00+00:00)",
    }
    assert store.for_request("L1", "other-request", ehr="http://ehr/fhir") == []
    assert store.withdraw("L1", "k1", "GEN-03", ehr="http://ehr/fhir") is True
    assert store.withdraw("L1", "k1", "GEN-03", ehr="http://ehr/fhir") is False
    assert store.forget_launch("L1") == 1
    assert store.for_request("L1", "k1", ehr="http://ehr/fhir") == []
    assert [a.note for a in store.for_request("L2", "k1", ehr="http://ehr/fhir")] == ["other launch"]
    with pytest.raises(ValueError, match="met or not-met"):
        store.attest(criterion_id="GEN-01", status="unknown", note="x", **common)
    with pytest.raises(ValueError, match="needs a note"):
        store.attest(criterion_id="GEN-01", status="met", note="  ", **common)
    with pytest.raises(ValueError, match="no cipher"):
        AttestationStore(database).for_request("L2", "k1", ehr="http://ehr/fhir")

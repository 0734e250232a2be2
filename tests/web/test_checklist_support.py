"""Helpers shared by the checklist, orders and browser-checklist tests (this module holds no tests).

The expected answer of every page is computed the way the CLI would: the same record read straight from the
sandbox FHIR server, checked with `run_check`, so the tests compare the app with the workflow, not with strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

from jsonschema import Draft202012Validator, FormatChecker

from smart_app.core.model import CheckRequest
from smart_app.fhir.client import FhirClient
from smart_app.fhir.record import fetch_patient_record
from smart_app.sandbox.seed.catalog import SeedPatient
from smart_app.workflow.check import run_check
from tests.conftest import CHECK_RESULT_SCHEMA
from tests.web.conftest import Browser, RunningApp, hidden_inputs
from tests.web.flows import ehr_launch


def request_of(patient: SeedPatient, **changes: str) -> dict[str, str]:
    """The seed patient's request as checklist query fields (payer left to the record's Coverage)."""
    fields = {key: str(value) for key, value in patient.request.items()}
    fields.update(changes)
    return {key: value for key, value in fields.items() if value != ""}


def launch(browser: Browser, app: RunningApp, auth_server: Any, patient: SeedPatient) -> str:
    """An EHR launch for the patient; returns the launch id."""
    page = ehr_launch(browser, app, auth_server, patient.id)
    assert page.status_code == 200, page.text
    return app.launch_id_of(page.url)


def checklist_url(app: RunningApp, launch_id: str, fields: Mapping[str, str], *, run: bool = True) -> str:
    query = {**fields, "run": "1"} if run else dict(fields)
    return f"{app.url}/s/{launch_id}/checklist?" + urlencode(query)


def expected_check(fhir_server: Any, patient: SeedPatient, fields: Mapping[str, str], answers: Any = None) -> dict:
    """What `run_check` says for the same request on the same record, read straight from the sandbox."""
    record = fetch_patient_record(FhirClient(fhir_server.base_url), patient.id)
    options = {key: value for key, value in fields.items() if key not in ("as_of", "payer")}
    request = CheckRequest.build(**options, payer=fields.get("payer") or "medicare")
    return run_check(
        record.resources,
        request,
        as_of=date.fromisoformat(fields["as_of"]),
        answers=answers,
        skipped=record.skipped,
        unreadable=record.unreadable,
        payer_from_record=not fields.get("payer"),
        patient_id=patient.id,
    )


def validate_check_result(document: Any) -> None:
    schema = json.loads(CHECK_RESULT_SCHEMA.read_text())
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(document)


def shown_verdict(html: str) -> str:
    match = re.search(r'data-verdict="([a-z-]+)"', html)
    assert match, "no verdict on the page"
    return match.group(1)


def shown_criteria(html: str) -> dict[str, tuple[str, str]]:
    """criterion id → (status, origin) as the page marks them."""
    found = re.findall(r'data-criterion="([A-Z0-9-]+)"\s+data-status="([a-z-]+)" data-origin="([a-z]*)"', html)
    return {criterion: (status, origin) for criterion, status, origin in found}


def form_fields(html: str, marker: str) -> dict[str, str]:
    """The hidden inputs of the form carrying `marker` (a data attribute such as `data-save-order`)."""
    start = html.index(marker)
    end = html.index("</form>", start)
    return hidden_inputs(html[start:end])


def form_action(html: str, marker: str) -> str:
    start = html.rindex("<form", 0, html.index(marker) + len(marker))
    match = re.search(r'action="([^"]+)"', html[start:])
    assert match
    return match.group(1)


class PageStructure(HTMLParser):
    """Headings in document order, and every form control with whether a label names it."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.labelled_ids: set[str] = set()
        self.controls: list[tuple[str, str]] = []  # (tag or input type, id)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "label" and attributes.get("for"):
            self.labelled_ids.add(str(attributes["for"]))
        if tag in ("select", "textarea") or (tag == "input" and attributes.get("type") not in ("hidden", "submit")):
            self.controls.append((str(attributes.get("type") or tag), str(attributes.get("id") or "")))

    @classmethod
    def of(cls, html: str) -> PageStructure:
        parser = cls()
        parser.feed(html)
        return parser

    def unlabelled(self) -> list[tuple[str, str]]:
        return [control for control in self.controls if not control[1] or control[1] not in self.labelled_ids]

    def skipped_heading_levels(self) -> list[tuple[int, int]]:
        """Pairs (previous, next) where a heading goes down more than one level (h2 → h4)."""
        pairs = zip(self.headings, self.headings[1:], strict=False)
        return [(before, after) for before, after in pairs if after > before + 1]

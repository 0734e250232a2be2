"""The report PDF is rendered once per (check result, identity, clinician) and reused; the save still writes it."""

from __future__ import annotations

import base64
import copy

import pytest

from smart_app.core.documents import OrderContext
from smart_app.fhir.client import FhirClient
from smart_app.workflow import order as order_module
from smart_app.workflow.order import render_report, save_draft_order
from smart_app.workflow.report_cache import ReportCache
from tests.orders.samples import rfa_check_result


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> ReportCache:
    cache = ReportCache(8)
    monkeypatch.setattr(order_module, "REPORTS", cache)
    return cache


def test_the_same_check_result_renders_once_and_a_changed_one_again(
    reports: ReportCache, context: OrderContext
) -> None:
    first = render_report(rfa_check_result(), context)
    reordered = dict(reversed(list(rfa_check_result().items())))
    assert render_report(reordered, context) == first
    assert reports.renders == 1

    changed = copy.deepcopy(rfa_check_result())
    changed["as_of"] = "2026-11-20"
    other = render_report(changed, context)
    assert reports.renders == 2 and other != first and other.startswith(b"%PDF-")


def test_the_kept_pdf_is_the_one_rendering_would_give(context: OrderContext) -> None:
    uncached = ReportCache(0)
    cached = ReportCache(4)
    from smart_app.render.report import render_checklist_report
    from smart_app.workflow.order import patient_identity

    patient = rfa_check_result()["patient"]
    identity = patient_identity(context.resources, patient["reference"], patient.get("display", ""))
    fresh = uncached.pdf(rfa_check_result(), identity, "Dr A", render_checklist_report)
    assert cached.pdf(rfa_check_result(), identity, "Dr A", render_checklist_report) == fresh
    assert cached.pdf(rfa_check_result(), identity, "Dr A", render_checklist_report) == fresh
    assert cached.renders == 1
    assert cached.pdf(rfa_check_result(), identity, "Dr B", render_checklist_report) != fresh  # the clinician
    assert uncached.pdf(rfa_check_result(), identity, "Dr A", render_checklist_report) == fresh
    assert uncached.renders == 2


@pytest.mark.sandbox
def test_saving_twice_renders_once_and_the_draft_carries_the_report(
    reports: ReportCache, ehr: FhirClient, context: OrderContext
) -> None:
    first = save_draft_order(ehr, rfa_check_result(), context, None)
    again = save_draft_order(ehr, rfa_check_result(), context, None)
    assert reports.renders == 1
    assert {item["action"] for item in again.written} == {"unchanged"}
    report_refs = [
        item["reference"]
        for item in first.written
        if item["reference"].startswith("DocumentReference/")
        and ehr.read(*item["reference"].split("/"))["content"][0]["attachment"].get("contentType") == "application/pdf"
    ]
    assert len(report_refs) == 1
    stored = ehr.read(*report_refs[0].split("/"))["content"][0]["attachment"]["data"]
    assert base64.b64decode(stored) == render_report(rfa_check_result(), context)

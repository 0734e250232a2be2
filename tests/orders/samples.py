"""Hand-written check results (valid check-result/v1) and records for the order tests, until and besides the real
check: the public case `lumbar-rfa-initial-ready` as the checker would report it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from tests.conftest import CASES_DIR

RFA_CASE = "lumbar-rfa-initial-ready"
RFA_PATIENT = "Patient/7523bfbd-ad0d-521f-9da7-0932001cdefb"
RECORDED = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)
PRACTITIONER = "Practitioner/5a1d9c0e-7d2b-5f4e-8c3a-1b2d3e4f5a6b"

_RFA_CHECK: dict[str, Any] = {
    "schema": "check-result/v1",
    "patient": {"reference": RFA_PATIENT, "display": "Maria Lopez"},
    "as_of": "2026-11-15",
    "request": {
        "procedure": "radiofrequency-ablation",
        "intent": "therapeutic",
        "region": "lumbar",
        "levels": ["L4-L5", "L5-S1"],
        "side": "bilateral",
        "guidance": "fluoroscopy",
        "sedation": "none",
        "technique": "thermal",
        "setting": "physician",
        "payer": "medicare",
    },
    "pathway": "rfa-initial",
    "policy": {
        "id": "medicare-facet-lcd",
        "version": "2024-01",
        "title": "Facet Joint Interventions for Pain Management",
        "citation": "LCD L38773",
    },
    "verdict": "ready",
    "criteria": [
        {
            "id": "GEN-02",
            "text": "Axial pain for at least 3 months",
            "status": "met",
            "origin": "record",
            "source": "LCD L38773 §Covered Indications 1",
            "evidence": [
                {"reference": "Condition/62f054e6-182e-5b5d-ae4d-977c0e71ebad", "summary": "M47.816 since 2026-03-01"}
            ],
        },
        {
            "id": "RFA-01",
            "text": "Two diagnostic medial branch blocks with at least 80% relief",
            "status": "met",
            "origin": "record",
            "source": "LCD L38773 §RFA 1",
            "evidence": [
                {"reference": "Procedure/ac2b610a-885c-5462-a8a9-3e27e2d2b23e", "summary": "MBB #1, 90% relief"},
                {"reference": "Procedure/869f5c2d-d562-5487-9b38-ced9f705c89e", "summary": "MBB #2, 85% relief"},
            ],
        },
        {
            "id": "GEN-13",
            "text": "Baseline disability score",
            "status": "met",
            "origin": "record",
            "source": "CGS 2023 news",
            "evidence": [
                {"reference": "Observation/3285e504-c40b-5c48-adf9-31fa486a847e", "summary": "ODI 42%"},
                {"reference": "Patient/7523bfbd-ad0d-521f-9da7-0932001cdefb"},
            ],
        },
    ],
    "coding": {
        "lines": [
            {
                "code": "64635",
                "system": "http://www.ama-assn.org/go/cpt",
                "display": "Lumbar/sacral facet RF ablation, first joint",
                "modifiers": ["50"],
                "units": 1,
                "levels": ["L4-L5"],
                "diagnoses": ["M47.816"],
            },
            {
                "code": "64636",
                "system": "http://www.ama-assn.org/go/cpt",
                "add_on": True,
                "display": "Lumbar/sacral facet RF ablation, each added joint",
                "modifiers": ["50"],
                "units": 1,
                "levels": ["L5-S1"],
                "diagnoses": ["M47.816"],
            },
        ],
        "alternatives": [],
        "warnings": [],
    },
    "warnings": [{"code": "W-SAMPLE", "message": "A hand-written check result for tests."}],
}


def rfa_check_result() -> dict[str, Any]:
    return copy.deepcopy(_RFA_CHECK)


def rfa_record() -> list[dict[str, Any]]:
    """The resources of the public case's bundle (tests only read ../shared)."""
    bundle = json.loads((CASES_DIR / f"{RFA_CASE}.bundle.json").read_text())
    return [entry["resource"] for entry in bundle["entry"]]


def rfa_bundle() -> dict[str, Any]:
    return json.loads((CASES_DIR / f"{RFA_CASE}.bundle.json").read_text())

"""Benchmark: our record fetch vs a naive sequential one, against the sandbox FHIR server with injected latency.

    .venv/bin/python scripts/bench_fetch.py [--delay-ms 50] [--resources 2000]

Starts the sandbox FHIR server on a free loopback port, loads one patient with about 2,000 resources spread over
every type the record reads, sets the server's per-request delay, then in the same run times:
- ours: `fetch_patient_record` (one batch, then every type's `next` pages concurrently, `_count` = 100);
- naive: the way fhirclient reads a record: one search per type with the server's default page size, pages one
  after another, each resource parsed into its R4B model;
and prints both wall times, request counts (ours, and the server's own count) and the ratio; then ours at 0 ms.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from smart_app.fhir.client import FhirClient
from smart_app.fhir.paging import next_link
from smart_app.fhir.record import RECORD_SEARCHES, fetch_patient_record

# How a generated record is spread over the types (sums to 1.0); used only when the seed package has no
# `build_large_record` yet.
_SPREAD = {
    "Observation": 0.45,
    "Condition": 0.06,
    "Procedure": 0.08,
    "ImagingStudy": 0.03,
    "DiagnosticReport": 0.07,
    "DocumentReference": 0.07,
    "MedicationRequest": 0.11,
    "MedicationStatement": 0.05,
    "Coverage": 0.001,
    "ServiceRequest": 0.079,
}
_CHUNK = 250


@dataclass
class Timing:
    label: str
    seconds: float
    cpu_seconds: float
    requests: int
    server_requests: int
    resources: int


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay-ms", type=int, default=50, help="injected latency per FHIR request")
    parser.add_argument("--resources", type=int, default=2000, help="size of the generated record")
    args = parser.parse_args(argv)

    from smart_app.sandbox.fhir_server import start_fhir_server

    handle = start_fhir_server()
    try:
        handle.reset()
        handle.configure(delay_ms=0)
        patient_id, loaded = load_large_record(handle.base_url, args.resources)
        print(f"sandbox {handle.base_url}: patient {patient_id} with {loaded} resources (Patient included)")

        handle.configure(delay_ms=args.delay_ms)
        fetch_patient_record(FhirClient(handle.base_url), patient_id)  # warm caches (imports, R4B schemas, server)
        ours = time_it(handle, "ours", lambda: ours_fetch(handle.base_url, patient_id))
        naive = time_it(handle, "naive", lambda: naive_fetch(handle.base_url, patient_id))
        handle.configure(delay_ms=0)
        ours_zero = time_it(handle, "ours @0ms", lambda: ours_fetch(handle.base_url, patient_id))
        naive_zero = time_it(handle, "naive @0ms", lambda: naive_fetch(handle.base_url, patient_id))
    finally:
        handle.stop()

    print(f"\n{'fetch':<12}{'delay':>7}{'wall s':>9}{'cpu s':>8}{'requests':>10}{'server':>8}{'resources':>11}")
    for timing, delay in ((ours, args.delay_ms), (naive, args.delay_ms), (ours_zero, 0), (naive_zero, 0)):
        print(
            f"{timing.label:<12}{delay:>5}ms{timing.seconds:>9.2f}{timing.cpu_seconds:>8.2f}"
            f"{timing.requests:>10}{timing.server_requests:>8}{timing.resources:>11}"
        )
    print(
        f"\nat {args.delay_ms} ms: ours is {naive.seconds / ours.seconds:.1f}x faster "
        f"with {naive.requests / max(ours.requests, 1):.1f}x fewer requests ({ours.requests} vs {naive.requests})"
    )
    if ours.resources != naive.resources:
        print(f"MISMATCH: ours read {ours.resources} resources, naive {naive.resources}", file=sys.stderr)
        return 1
    return 0


def time_it(handle: Any, label: str, fetch: Callable[[], tuple[int, int]]) -> Timing:
    handle.reset_stats()
    wall, cpu = time.perf_counter(), time.process_time()
    requests_sent, resources = fetch()
    return Timing(
        label,
        time.perf_counter() - wall,
        time.process_time() - cpu,
        requests_sent,
        handle.request_count(),
        resources,
    )


def ours_fetch(base_url: str, patient_id: str) -> tuple[int, int]:
    record = fetch_patient_record(FhirClient(base_url), patient_id)
    if record.unreadable or record.skipped:
        raise RuntimeError(f"fetch incomplete: {record.unreadable} {record.skipped[:3]}")
    return record.request_count, len(record.resources)


def naive_fetch(base_url: str, patient_id: str) -> tuple[int, int]:
    """fhirclient-style: one search per type, default page size, each page after the previous, models parsed."""
    from fhir.resources.R4B import get_fhir_model_class

    session = requests.Session()
    headers = {"Accept": "application/fhir+json"}
    sent = 0

    def get(url: str) -> dict[str, Any]:
        nonlocal sent
        sent += 1
        response = session.get(url, headers=headers, timeout=(5, 60))
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    patient = get(f"{base_url}/Patient/{patient_id}")
    get_fhir_model_class("Patient").model_validate(patient)
    count = 1
    for resource_type, param in RECORD_SEARCHES.items():
        url: str | None = f"{base_url}/{resource_type}?{param}=Patient/{patient_id}"
        while url:
            page = get(url)
            for entry in page.get("entry", []):
                resource = entry["resource"]
                get_fhir_model_class(resource["resourceType"]).model_validate(resource)
                count += 1
            url = next_link(page, base_url=base_url)
    return sent, count


def load_large_record(base_url: str, size: int) -> tuple[str, int]:
    """Load the seed package's large record when it exists, else a generated one; returns (patient id, count)."""
    client = FhirClient(base_url, timeout=(5, 120))
    try:
        from smart_app.sandbox.seed import build_large_record  # type: ignore[attr-defined]
    except ImportError:
        build_large_record = None
    if build_large_record is not None:
        bundle = build_large_record()
        response = client.transaction(bundle)
        patient_id = _created_patient_id(response)
        return patient_id, len(bundle.get("entry", []))
    return _load_generated(client, size)


def _created_patient_id(response: dict[str, Any]) -> str:
    for entry in response.get("entry", []):
        location = (entry.get("response") or {}).get("location", "")
        parts = location.split("/")
        if "Patient" in parts and parts.index("Patient") + 1 < len(parts):
            return str(parts[parts.index("Patient") + 1])
    raise RuntimeError("the large record's transaction created no Patient")


def _load_generated(client: FhirClient, size: int) -> tuple[str, int]:
    created = client.create(
        {
            "resourceType": "Patient",
            "name": [{"family": "Benchmark", "given": ["Large"]}],
            "gender": "female",
            "birthDate": "1961-04-12",
        }
    )
    if created.resource is None:
        raise RuntimeError("the sandbox did not return the created Patient")
    patient_id = str(created.resource["id"])
    resources = [
        r for resource_type, share in _SPREAD.items() for r in _generate(resource_type, share, size, patient_id)
    ]
    for start in range(0, len(resources), _CHUNK):
        chunk = resources[start : start + _CHUNK]
        client.transaction(
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [
                    {
                        "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                        "resource": r,
                        "request": {"method": "POST", "url": r["resourceType"]},
                    }
                    for r in chunk
                ],
            },
            replay_safe=False,
        )
    return patient_id, len(resources) + 1


def _generate(resource_type: str, share: float, size: int, patient_id: str) -> list[dict[str, Any]]:
    count = max(1, round(share * size))
    subject = {"reference": f"Patient/{patient_id}"}
    made: list[dict[str, Any]] = []
    for i in range(count):
        day = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
        text = {"text": f"{resource_type} {i}"}
        resource: dict[str, Any] = {"resourceType": resource_type}
        if resource_type == "Observation":
            resource |= {
                "status": "final",
                "code": text,
                "subject": subject,
                "effectiveDateTime": day,
                "valueInteger": i % 11,
            }
        elif resource_type == "Condition":
            resource |= {"code": text, "subject": subject, "recordedDate": day}
        elif resource_type == "Procedure":
            resource |= {"status": "completed", "code": text, "subject": subject, "performedDateTime": day}
        elif resource_type == "ImagingStudy":
            resource |= {"status": "available", "subject": subject, "started": f"{day}T09:00:00Z"}
        elif resource_type == "DiagnosticReport":
            resource |= {"status": "final", "code": text, "subject": subject, "effectiveDateTime": day}
        elif resource_type == "DocumentReference":
            resource |= {
                "status": "current",
                "subject": subject,
                "type": text,
                "content": [{"attachment": {"contentType": "text/plain", "title": f"note {i}"}}],
            }
        elif resource_type in ("MedicationRequest", "MedicationStatement"):
            resource |= {
                "status": "active" if resource_type == "MedicationStatement" else "completed",
                "medicationCodeableConcept": text,
                "subject": subject,
            }
            if resource_type == "MedicationRequest":
                resource["intent"] = "order"
        elif resource_type == "Coverage":
            resource |= {"status": "active", "beneficiary": subject, "payor": [{"display": "Benchmark Health Plan"}]}
        elif resource_type == "ServiceRequest":
            resource |= {"status": "completed", "intent": "order", "code": text, "subject": subject}
        made.append(resource)
    return made


if __name__ == "__main__":
    raise SystemExit(main())

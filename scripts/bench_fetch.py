"""Benchmark: our record fetch vs a naive sequential one, against the sandbox FHIR server with injected latency.

    .venv/bin/python scripts/bench_fetch.py [--engine node|hapi] [--delay-ms 50] [--resources 2000] [--repeat 3]

Starts the sandbox FHIR server on a free loopback port, loads one patient with about 2,000 resources spread over
every type the record reads (`smart_app.sandbox.seed.build_large_record`), sets the server's per-request delay,
then in the same run times:
- ours: `fetch_patient_record` (one batch, then every type's `next` pages concurrently, `_count` = 200);
- naive: the way fhirclient reads a record: one search per type with the server's default page size, pages one
  after another, each resource parsed into its R4B model;
- everything: where the server offers it (HAPI), `Patient/{id}/$everything` with `_type` limited to the types the
  record reads and `_count` = 200, its pages followed one after another;
and prints the wall times (median of --repeat runs), CPU times, request counts (ours, and the server's own
count) and the ratio; then both again at 0 ms.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from smart_app.fhir.client import FhirClient
from smart_app.fhir.paging import next_link
from smart_app.fhir.record import RECORD_PAGE_SIZE, RECORD_SEARCHES, fetch_patient_record
from smart_app.sandbox.fhir_server import FhirServerHandle, start_fhir_server
from smart_app.sandbox.hapi_server import rss_megabytes, start_hapi_server
from smart_app.sandbox.seed import build_large_record


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
    parser.add_argument("--resources", type=int, default=2000, help="size of the large record")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is shown")
    parser.add_argument("--engine", choices=("node", "hapi"), default="node", help="the sandbox FHIR server to run")
    args = parser.parse_args(argv)
    repeat = max(1, args.repeat)

    started = time.perf_counter()
    handle = start_hapi_server() if args.engine == "hapi" else start_fhir_server()
    print(f"{args.engine} server up in {time.perf_counter() - started:.1f} s, {_rss(handle)}")
    everything: list[Timing] = []
    try:
        handle.reset()
        handle.configure(delay_ms=0)
        patient_id, loaded = load_large_record(handle.base_url, args.resources)
        print(f"sandbox {handle.base_url}: patient {patient_id} with {loaded} resources (Patient included)")

        handle.configure(delay_ms=args.delay_ms)
        fetch_patient_record(FhirClient(handle.base_url), patient_id)  # warm caches (imports, R4B schemas, server)
        ours = time_it(handle, "ours", lambda: ours_fetch(handle.base_url, patient_id), repeat)
        naive = time_it(handle, "naive", lambda: naive_fetch(handle.base_url, patient_id), repeat)
        if offers_everything(handle.base_url, patient_id):
            everything.append(
                time_it(handle, "everything", lambda: everything_fetch(handle.base_url, patient_id), repeat)
            )
        handle.configure(delay_ms=0)
        ours_zero = time_it(handle, "ours", lambda: ours_fetch(handle.base_url, patient_id), repeat)
        naive_zero = time_it(handle, "naive", lambda: naive_fetch(handle.base_url, patient_id), repeat)
        if everything:
            everything.append(
                time_it(handle, "everything", lambda: everything_fetch(handle.base_url, patient_id), repeat)
            )
        print(f"{args.engine} server after the runs: {_rss(handle)}")
    finally:
        handle.stop()

    print(f"\nmedian of {repeat} run(s); ours: batch + concurrent pages, _count={RECORD_PAGE_SIZE}; naive: sequential")
    print(f"{'fetch':<12}{'delay':>7}{'wall s':>9}{'cpu s':>8}{'requests':>10}{'server':>8}{'resources':>11}")
    rows = [(ours, args.delay_ms), (naive, args.delay_ms), (ours_zero, 0), (naive_zero, 0)]
    rows += list(zip(everything, (args.delay_ms, 0), strict=False))
    for timing, delay in rows:
        print(
            f"{timing.label:<12}{delay:>5}ms{timing.seconds:>9.2f}{timing.cpu_seconds:>8.2f}"
            f"{timing.requests:>10}{timing.server_requests:>8}{timing.resources:>11}"
        )
    print(
        f"\nat {args.delay_ms} ms: ours is {naive.seconds / ours.seconds:.1f}x faster "
        f"with {naive.requests / max(ours.requests, 1):.1f}x fewer requests ({ours.requests} vs {naive.requests})"
    )
    if everything:
        print(
            f"at {args.delay_ms} ms: $everything takes {everything[0].seconds:.2f} s in {everything[0].requests} "
            f"requests, ours {ours.seconds:.2f} s in {ours.requests}"
        )
    else:
        print("this server does not offer Patient/$everything")
    if ours.resources != naive.resources or any(run.resources != ours.resources for run in everything):
        print(f"MISMATCH: ours read {ours.resources} resources, naive {naive.resources}", file=sys.stderr)
        return 1
    return 0


def time_it(handle: Any, label: str, fetch: Callable[[], tuple[int, int]], repeat: int) -> Timing:
    """The run with the median wall time among `repeat` runs."""
    runs = []
    for _ in range(repeat):
        handle.reset_stats()
        wall, cpu = time.perf_counter(), time.process_time()
        requests_sent, resources = fetch()
        seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
        runs.append(Timing(label, seconds, cpu_seconds, requests_sent, handle.request_count(), resources))
    return sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]


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


def offers_everything(base_url: str, patient_id: str) -> bool:
    answer = requests.get(f"{base_url}/Patient/{patient_id}/$everything", params={"_count": "1"}, timeout=(5, 120))
    return answer.status_code == 200


def everything_fetch(base_url: str, patient_id: str) -> tuple[int, int]:
    """`Patient/$everything` limited to the record's types, pages followed in turn; resources counted once."""
    session = requests.Session()
    types = ",".join(["Patient", *RECORD_SEARCHES])
    url: str | None = f"{base_url}/Patient/{patient_id}/$everything?_type={types}&_count={RECORD_PAGE_SIZE}"
    sent, seen = 0, set()
    while url:
        response = session.get(url, headers={"Accept": "application/fhir+json"}, timeout=(5, 120))
        sent += 1
        response.raise_for_status()
        page = response.json()
        seen.update(f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in page.get("entry", []))
        url = next_link(page, base_url=base_url)
    return sent, len(seen)


def _rss(handle: FhirServerHandle) -> str:
    rss = rss_megabytes(handle.process.pid)
    return "RSS unknown" if rss is None else f"RSS {rss:.0f} MiB"


def load_large_record(base_url: str, size: int) -> tuple[str, int]:
    """Load the seed package's large record in one transaction; returns (patient id, entries loaded)."""
    client = FhirClient(base_url, timeout=(5, 120))
    bundle = build_large_record(size)
    answer = client.transaction(bundle)
    return _created_patient_id(answer), len(bundle["entry"])


def _created_patient_id(answer: dict[str, Any]) -> str:
    for entry in answer.get("entry", []):
        parts = str((entry.get("response") or {}).get("location", "")).split("/_history")[0].split("/")
        if len(parts) >= 2 and parts[-2] == "Patient":
            return parts[-1]
    raise RuntimeError("the large record's transaction created no Patient")


if __name__ == "__main__":
    raise SystemExit(main())

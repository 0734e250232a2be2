"""Benchmark: building the prior-auth packet (model, PDF, PAS Bundle, DTR QuestionnaireResponse, zip).

    .venv/bin/python scripts/bench_packet.py [--repeat 10]

Times, in CPU seconds (`time.process_time`), after one warm-up run (rules and fonts loaded):
- the largest seeded patient (most resources among `smart_app.sandbox.seed.seed_bundles()`), the sandbox user's
  Practitioner and Organization as the parties;
- the 2,000-resource benchmark record (`build_large_record`).
Each is split into the packet model (facts, letter, sources), the PDF, the PAS Bundle + QR, and the zip. The check
itself is not counted (scripts/bench_check.py times it). Target: ≤ 300 ms for a typical patient.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from smart_app.core.bundles import record_from_bundle
from smart_app.core.model import CheckRequest
from smart_app.core.packet.model import PacketOptions, Practice, build_packet
from smart_app.core.packet.pas import pas_request
from smart_app.render.packet_pdf import render_packet_pdf
from smart_app.sandbox.seed import build_large_record, seed_bundles, seed_patients
from smart_app.sandbox.seed.sandbox_user import sandbox_user_resources
from smart_app.workflow.check import run_check
from smart_app.workflow.packet import build_packet_files

PRACTICE = Practice.from_mapping({"name": "Bench Spine Clinic", "npi": "1234567893", "tin": "123456789"})


def cpu(run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.process_time()
    value = run()
    return time.process_time() - start, value


def bench(label: str, bundle: dict[str, Any], request: CheckRequest, as_of: date, repeat: int) -> None:
    record = record_from_bundle(bundle)
    resources = list(record.resources)
    result = run_check(resources, request, as_of=as_of, payer_from_record=True, patient_id=record.patient_id)
    organization, practitioner, _role = sandbox_user_resources()
    options = PacketOptions(service_start=as_of)
    created = datetime.now(UTC)

    def model() -> Any:
        return build_packet(result, resources, options, practice=PRACTICE, created=created, payer_title="Medicare",
                            practitioner=practitioner, organization=organization)  # fmt: skip

    def whole() -> Any:
        files = build_packet_files(result, resources, options, practice=PRACTICE, created=created,
                                   practitioner=practitioner, organization=organization)  # fmt: skip
        return files.zip_bytes()

    whole()  # warm-up: rules, fonts
    parts: dict[str, list[float]] = {"model": [], "pdf": [], "pas+qr": [], "total (zip)": []}
    for _ in range(repeat):
        seconds, packet = cpu(model)
        parts["model"].append(seconds)
        seconds, pdf = cpu(lambda p=packet: render_packet_pdf(p))
        parts["pdf"].append(seconds)
        parts["pas+qr"].append(cpu(lambda p=packet, d=pdf: pas_request(p, pdf=d))[0])
        parts["total (zip)"].append(cpu(whole)[0])
    print(f"{label}: {len(resources)} resources, verdict {result['verdict']}, {len(pdf) // 1024} KiB PDF")
    for name, times in parts.items():
        print(f"  {name:<12} median {statistics.median(times) * 1000:7.1f} ms CPU, max {max(times) * 1000:7.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    bundles = dict(seed_bundles())
    patients = {item.name: item for item in seed_patients()}
    largest = max((name for name in bundles if name in patients), key=lambda name: len(bundles[name]["entry"]))
    seeded = patients[largest]
    fields = dict(seeded.request)
    as_of = date.fromisoformat(fields.pop("as_of"))
    fields.pop("payer", None)
    bench(f"largest seeded patient ({largest})", bundles[largest], CheckRequest.build(**fields), as_of, args.repeat)
    large = build_large_record(2000)
    request = CheckRequest.build(procedure="medial-branch-block", levels="L4-L5,L5-S1", side="bilateral",
                                 intent="diagnostic")  # fmt: skip
    bench("2,000-resource record", large, request, date(2026, 11, 15), args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

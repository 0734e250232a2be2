"""Benchmark: CPU time of one check on a large record (about 2,000 resources).

    .venv/bin/python scripts/bench_check.py [--resources 2000] [--repeat 20]

Builds one patient's transaction Bundle with `smart_app.sandbox.seed.build_large_record` and times, in CPU seconds
(`time.process_time`):
- cold: the first check in this process, rules and coding table loaded and validated on the way;
- warm: each later check (bundle flattening, fact extraction, the checklist and coding), median and maximum over
  --repeat runs, for a medial branch block, an RFA and a pars injection request;
- cli: `smart-app check --bundle FILE --format json` as a separate process (interpreter start, imports, reading and
  parsing the file, the check, printing), the child's user+system CPU.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from smart_app.core.model import CheckRequest
from smart_app.sandbox.seed import build_large_record
from smart_app.workflow.check import check_bundle

AS_OF = date(2026, 11, 15)
REQUESTS = {
    "medial-branch-block": {"levels": "L4-L5,L5-S1", "intent": "diagnostic"},
    "radiofrequency-ablation": {"levels": "L4-L5,L5-S1"},
    "pars-injection": {"levels": "L5"},
}


def cpu_seconds_of(run: Any) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=2000, help="size of the large record")
    parser.add_argument("--repeat", type=int, default=20, help="warm runs per request")
    args = parser.parse_args(argv)
    bundle = build_large_record(args.resources)
    print(f"record: {len(bundle['entry'])} resources (Patient included)")

    requests = {
        name: CheckRequest.build(procedure=name, side="bilateral", **fields)  # type: ignore[arg-type]
        for name, fields in REQUESTS.items()
    }
    first: dict[str, Any] = {}
    cold = cpu_seconds_of(lambda: first.update(check_bundle(bundle, requests["medial-branch-block"], as_of=AS_OF)))
    print(f"cold  medial-branch-block: {cold * 1000:7.1f} ms CPU  (verdict {first['verdict']}, rules loaded)")
    for name, request in requests.items():
        times = [cpu_seconds_of(lambda r=request: check_bundle(bundle, r, as_of=AS_OF)) for _ in range(args.repeat)]
        median, worst = statistics.median(times), max(times)
        print(f"warm  {name:<23} median {median * 1000:7.1f} ms CPU, max {worst * 1000:7.1f} ms ({args.repeat} runs)")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.bundle.json"
        path.write_text(json.dumps(bundle))
        command = [str(Path(sys.executable).parent / "smart-app"), "check", "--bundle", str(path), "--format", "json"]
        command += ["--procedure", "medial-branch-block", "--intent", "diagnostic", "--levels", "L4-L5,L5-S1"]
        command += ["--side", "bilateral", "--as-of", AS_OF.isoformat()]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"cli   smart-app check (whole process): {child * 1000:7.1f} ms CPU, exit {done.returncode}")
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Load benchmark (issue 13): concurrent clinicians each doing launch → check → save against the sandbox EHR.

    .venv/bin/python scripts/bench_load.py [--clinicians 50,200] [--delay-ms 50] [--setups sqlite,postgresql]
        [--launch-only] [--rounds K] [--profile N] [--workers W --threads T] [--app-setting NAME=VALUE]
        [--json FILE]

`--launch-only`: each clinician only launches (the goal is stated for launches). `--rounds K`: every round K times
(bursts are noisy), each reported, then the median of their p95. `--profile N`: instead of rounds, N flows (or with
`--launch-only`, N launches) one after another, reporting the CPU milliseconds of each step in each process.
`--app-setting NAME=VALUE` (repeatable): one more `SMART_APP_NAME` for every instance, to compare settings (e.g.
`SIGN_IN_FIRST_SECONDS=0`).

Everything runs on 127.0.0.1: the sandbox FHIR server (bearer tokens required, every token introspected, with
`--delay-ms` injected latency per FHIR request) and the sandbox SMART authorization server, loaded with the seed
patients; then for each setup the app under gunicorn, configured only through `SMART_APP_*` variables:

- `sqlite`: one gunicorn instance, one worker process (gthread), SQLite file, rate limits counted in memory;
- `postgresql`: two gunicorn instances of one worker each (one per core), one throwaway PostgreSQL cluster and one
  Redis (Debian's, started here on free ports as the tests do), requests alternating between the instances request
  by request (every URL of the app, whichever instance's origin it carries).

The clinicians are a Node child process (scripts/loadgen/clinicians.mjs): each a browser of its own (cookie jar,
keep-alive connections) doing the EHR launch (sandbox launch → /launch → authorize → /callback → the patient
page), the summary fragment when the page names one (`data-summary-src`), the checklist with the check run, and
"Save draft order" (each clinician its own order, so every save writes a transaction Bundle to the EHR). It stands
in for browsers on other machines, so it is kept cheap (a few ms of CPU per launch) and its CPU is reported.
All clinicians of a round start together; each does one flow (no retries, no loops). Before the rounds a warm-up
runs until every gunicorn worker has done real work. Reported per round: the load average before it, flows per
second, p50/p95/p99 of every step, errors by step and side (app or sandbox), how many summary record reads began
and ended before 95 % of the launches were in (the start read from the app's `Server-Timing` waits: reads that
competed with sign-ins), and CPU ms per flow of every process
(each app instance, the sandbox's auth server and FHIR server, PostgreSQL, Redis, the load generator), which,
unlike latency, hardly depends on what else the machine is doing. The goal (issue 13): 50 concurrent launches with
p95 ≤ 1 s and zero errors.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from scripts.loadgen import processes, report  # noqa: E402
from scripts.loadgen.driver import Loadgen, LoadgenRun  # noqa: E402
from scripts.loadgen.setups import (  # noqa: E402
    PATIENTS,
    SandboxProxy,
    Setup,
    postgres_sessions,
    start_sandbox,
    start_setup,
)
from smart_app.sandbox.seed.catalog import seed_patients  # noqa: E402

REQUEST_TIMEOUT_MS = 60_000  # per request, as a browser would give up
LOADGEN = "load generator (node)"


class PlannedDays:
    """Planned dates for the checks, after the seeded records (their checks are `ready`, as a clinician would save
    them), handed out so that every flow of the run saves an order of its own (patient × date never repeats)."""

    def __init__(self, first: date = date(2026, 11, 15)) -> None:
        self.next = first

    def take(self, days: int) -> date:
        first, self.next = self.next, self.next + timedelta(days=days)
        return first


def loadgen_job(
    sandbox: SandboxProxy,
    setup: Setup,
    patients: list[Any],
    clinicians: int,
    days: PlannedDays,
    *,
    launch_only: bool = False,
    sequential: bool = False,
    probes: bool = False,
) -> dict[str, Any]:
    """The load generator's job: clinician i launches patient i mod 4; its app requests after the launch go to
    instance i mod n (the load balancer)."""
    first = days.take(math.ceil(clinicians / len(patients)))
    return {
        "ehr_base": sandbox.base_url,
        "instances": setup.instances,
        "client_id": setup.client_id,
        "launch_only": launch_only,
        "sequential": sequential,
        "probes": probes,
        "timeout_ms": REQUEST_TIMEOUT_MS,
        "clinicians": [
            {
                "patient": patients[i % len(patients)].id,
                "fields": {key: str(value) for key, value in patients[i % len(patients)].request.items()},
                "as_of": (first + timedelta(days=i // len(patients))).isoformat(),
                "home": i,
            }
            for i in range(clinicians)
        ],
    }


def app_roles(setup: Setup) -> dict[str, int]:
    """Each app instance (its gunicorn master and workers) by name."""
    if len(setup.processes) == 1:
        return {"app": setup.processes[0].pid}
    return {f"app {index}": process.pid for index, process in enumerate(setup.processes, start=1)}


def cpu_sample(sandbox: SandboxProxy, setup: Setup, loadgen_pid: int | None = None) -> dict[str, float]:
    """CPU seconds used so far by every process of the benchmark, by role."""
    table = processes.process_table()
    sample = {role: processes.tree_cpu(table, pid) for role, pid in app_roles(setup).items()}
    sample.update(processes.sandbox_cpu(table, sandbox.process.pid))
    sample.update({role: processes.tree_cpu(table, pid) for role, pid in setup.services.items()})
    if loadgen_pid is not None:
        sample[LOADGEN] = processes.tree_cpu(table, loadgen_pid)
    return sample


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_round(
    loadgen: Loadgen,
    sandbox: SandboxProxy,
    setup: Setup,
    patients: list[Any],
    clinicians: int,
    days: PlannedDays,
    launch_only: bool = False,
    round_number: int = 1,
) -> dict[str, Any]:
    """One burst: every clinician starts at once; CPU is sampled right before the start and right after the last."""
    load_before = [round(value, 2) for value in os.getloadavg()]
    sessions_before = postgres_sessions(setup)
    samples: dict[str, dict[str, float]] = {}

    def sample(moment: str) -> None:
        samples[moment] = {**cpu_sample(sandbox, setup), "bench (python)": self_cpu()}

    job = loadgen_job(sandbox, setup, patients, clinicians, days, launch_only=launch_only)
    run = loadgen.run(job, on_ready=lambda pid: sample("before"), on_done=lambda: sample("after"))
    cpu = report.cpu_ms_per_flow(samples["before"], samples["after"], clinicians)
    cpu.pop("total")
    cpu[LOADGEN] = round(run.cpu_ms / clinicians, 1)
    cpu["total"] = round(sum(cpu.values()), 1)
    errors = [r["error"] for r in run.results if r["error"]]
    app = sum(ms for role, ms in cpu.items() if role.startswith("app"))
    sandbox_ms = cpu[processes.SANDBOX_AUTH] + cpu[processes.SANDBOX_FHIR]
    return {
        "setup": setup.name,
        "mode": "launch-only" if launch_only else "launch → check → save",
        "clinicians": clinicians,
        "round": round_number,
        "wall_s": round(run.wall_s, 2),
        "flows_per_s": round((clinicians - len(errors)) / run.wall_s, 2),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "load_average_before": load_before,
        "cpu_ms_per_flow": cpu,
        "app_cpu_s_per_flow": round(app / 1000, 3),
        "sandbox_cpu_s_per_flow": round(sandbox_ms / 1000, 3),
        "requests_per_flow": round(run.requests / clinicians, 1),
        "connections_per_flow": round(run.connections / clinicians, 1),
        "postgres_connections_per_flow": (
            round((postgres_sessions(setup) - sessions_before) / clinicians, 1) if setup.database_url else None
        ),
        "summaries_before_sign_ins_end": report.summaries_before_sign_ins_end(run.results),
        **report.step_percentiles(run.results),
    }


def warm_up(
    loadgen: Loadgen,
    sandbox: SandboxProxy,
    setup: Setup,
    patients: list[Any],
    days: PlannedDays,
    max_waves: int = 6,
) -> dict[str, Any]:
    """Whole flows in concurrent waves (2 per worker, at least 4) until every gunicorn worker of every instance has
    used at least half the app CPU of a whole flow (more than a launch costs), so none starts the measured round
    cold (imports, caches, connection pools); the sandbox is warm after the first wave."""
    table = processes.process_table()
    workers = [pid for process in setup.processes for pid in processes.children(table, process.pid)]
    start = {pid: processes.tree_cpu(table, pid) for pid in workers}
    flows_per_wave = max(4, 2 * len(workers))
    waves: list[dict[str, Any]] = []
    used: dict[int, float] = {}
    while len(waves) < max_waves:
        waves.append(run_round(loadgen, sandbox, setup, patients, flows_per_wave, days))
        table = processes.process_table()
        used = {pid: processes.tree_cpu(table, pid) - start[pid] for pid in workers}
        app_ms_per_flow = 1000 * waves[-1]["app_cpu_s_per_flow"]
        if all(1000 * cpu >= app_ms_per_flow / 2 for cpu in used.values()):
            break
    threshold = 1000 * waves[-1]["app_cpu_s_per_flow"] / 2
    return {
        "waves": len(waves),
        "flows": flows_per_wave * len(waves),
        "errors": sum(wave["errors"] for wave in waves),
        "error_kinds": sorted({kind for wave in waves for kind in wave["error_kinds"]}),
        "worker_cpu_ms": {str(pid): round(1000 * cpu) for pid, cpu in used.items()},
        "cold_workers": [str(pid) for pid, cpu in used.items() if 1000 * cpu < threshold],
        "cpu_ms_per_flow": waves[-1]["cpu_ms_per_flow"],
    }


def profile_steps(
    loadgen: Loadgen,
    sandbox: SandboxProxy,
    setup: Setup,
    patients: list[Any],
    flows: int,
    days: PlannedDays,
    launch_only: bool = False,
) -> dict[str, Any]:
    """CPU ms per step of every process, from `flows` flows one after another: nothing else of the benchmark runs,
    so every CPU tick of its processes between two steps belongs to that step. The load generator waits at each
    step while the processes are sampled."""
    spent: dict[str, list[dict[str, float]]] = {}
    last: dict[str, float] = {}
    loadgen_pid: list[int] = []

    def probe(step: str) -> None:
        now = cpu_sample(sandbox, setup, loadgen_pid[0])
        if step != "start":
            spent.setdefault(step, []).append({role: now[role] - last.get(role, 0.0) for role in now})
        last.clear()
        last.update(now)

    job = loadgen_job(sandbox, setup, patients, flows, days, launch_only=launch_only, sequential=True, probes=True)
    run: LoadgenRun = loadgen.run(job, on_ready=loadgen_pid.append, on_probe=probe)
    per_step = {}
    for step, deltas in spent.items():
        roles = deltas[0].keys()
        split = {role: round(1000 * sum(d[role] for d in deltas) / len(deltas), 1) for role in roles}
        split["total"] = round(sum(split.values()), 1)
        per_step[step] = split
    roles = next(iter(per_step.values()), {}).keys()
    per_flow = {role: round(sum(split[role] for split in per_step.values()), 1) for role in roles}
    errors = [r["error"] for r in run.results if r["error"]]
    return {
        "setup": setup.name,
        "flows": flows,
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "cpu_ms_per_step": per_step,
        "cpu_ms_per_flow": per_flow,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clinicians", default="50,200", help="concurrent clinicians per round (comma-separated)")
    parser.add_argument("--delay-ms", type=int, default=50, help="injected latency per FHIR request")
    parser.add_argument("--setups", default="sqlite,postgresql", help="sqlite (one process), postgresql (two)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--launch-only", action="store_true", help="each clinician only launches (the goal is stated for launches)"
    )
    parser.add_argument("--rounds", type=int, default=1, metavar="K", help="every round K times; median of the p95")
    parser.add_argument(
        "--profile", type=int, metavar="N", help="instead: N flows one after another, CPU ms per step and process"
    )
    parser.add_argument("--workers", type=int, help="gunicorn workers per instance (default: the setup's)")
    parser.add_argument("--threads", type=int, help="gunicorn threads per worker (default: the setup's)")
    parser.add_argument(
        "--app-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one more app setting for every instance (SMART_APP_NAME; JSON values as the app reads them)",
    )
    args = parser.parse_args(argv)
    settings = dict(setting.split("=", 1) for setting in args.app_setting)
    counts = [int(n) for n in args.clinicians.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    sandbox = start_sandbox(args.delay_ms, work)
    all_results: list[dict[str, Any]] = []
    goal: dict[str, list[dict[str, Any]]] = {}
    days = PlannedDays()
    try:
        patients = seed_patients(PATIENTS)
        print(f"sandbox: FHIR {sandbox.fhir_base} ({args.delay_ms} ms per request, tokens required)", flush=True)
        for name in args.setups.split(","):
            setup = start_setup(name, sandbox, work, workers=args.workers, threads=args.threads, settings=settings)
            loadgen = Loadgen()
            try:
                warm = warm_up(loadgen, sandbox, setup, patients, days)
                print(
                    f"\n[{name}] warm-up: {warm['waves']} waves, {warm['flows']} flows, {warm['errors']} errors "
                    f"{warm['error_kinds'] or ''}; CPU ms per worker {warm['worker_cpu_ms']}"
                    + (f", still cold: {warm['cold_workers']}" if warm["cold_workers"] else "")
                    + f"; last wave, CPU ms per flow: {report.cpu_line(warm['cpu_ms_per_flow'])}",
                    flush=True,
                )
                if args.profile:
                    profile = profile_steps(loadgen, sandbox, setup, patients, args.profile, days, args.launch_only)
                    all_results.append(profile)
                    report.print_profile(profile)
                    continue
                for clinicians in counts:
                    rounds = []
                    for number in range(1, args.rounds + 1):
                        summary = run_round(
                            loadgen, sandbox, setup, patients, clinicians, days, args.launch_only, number
                        )
                        rounds.append(summary)
                        report.print_round(summary)
                    all_results += rounds
                    if args.rounds > 1:
                        medians = report.median_p95(rounds)
                        all_results.append({"setup": name, "clinicians": clinicians, "median_p95": medians})
                        line = ", ".join(f"{step} {p95:.3f} s" for step, p95 in medians.items())
                        print(f"[{name}] {clinicians} clinicians, median p95 of {args.rounds} rounds: {line}")
                    if clinicians == report.GOAL_CLINICIANS:
                        goal[f"{name}, {setup.size}"] = rounds
            finally:
                loadgen.close()
                setup.stop()
    finally:
        sandbox.stop()
    if args.json:
        args.json.write_text(json.dumps(all_results, indent=2))
    for name, rounds in goal.items():
        met = "met" if report.goal_met(rounds) else "NOT met"
        print(f"goal (50 concurrent launches, p95 ≤ 1 s, 0 errors; median of {len(rounds)} rounds) on {name}: {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

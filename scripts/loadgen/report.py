"""What a benchmark round reports: percentiles per step, CPU milliseconds per flow by process, and the lines printed."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any

# The steps a clinician's flow reports, in order ("summary" only when the patient page names a summary fragment).
STEPS = ("launch", "summary", "launch+summary", "check", "save", "flow")
GOAL_CLINICIANS, GOAL_P95_S = 50, 1.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def step_percentiles(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """p50/p95/p99/mean in seconds of every step that at least one clinician reached."""
    summary = {}
    for step in STEPS:
        values = [r["timings"][step] for r in results if step in r["timings"]]
        if values:
            summary[step] = {
                "p50": round(percentile(values, 0.50), 3),
                "p95": round(percentile(values, 0.95), 3),
                "p99": round(percentile(values, 0.99), 3),
                "mean": round(statistics.fmean(values), 3),
                "count": len(values),
            }
    return summary


def summaries_before_sign_ins_end(results: list[dict[str, Any]]) -> dict[str, int] | None:
    """How many record reads of summaries began, and how many were done, before 95 % of the launches were in
    (everyone starts together, so a step's end is its time since the start): the reads that took CPU from sign-ins
    still under way. The start is the request's arrival plus the waits the app reports in `Server-Timing`."""
    launches = [r["timings"]["launch"] for r in results if "launch" in r["timings"]]
    ends = [r["timings"]["launch+summary"] for r in results if "launch+summary" in r["timings"]]
    if not launches or not ends:
        return None
    p95 = percentile(launches, 0.95)
    starts = [r["timings"]["summary_read_start"] for r in results if "summary_read_start" in r["timings"]]
    return {"began": sum(1 for start in starts if start < p95), "done": sum(1 for end in ends if end < p95)}


def cpu_ms_per_flow(before: Mapping[str, float], after: Mapping[str, float], flows: int) -> dict[str, float]:
    """CPU ms per flow of each process (seconds sampled before and after), and their total."""
    split = {role: round(1000 * (after[role] - before.get(role, 0.0)) / flows, 1) for role in after}
    split["total"] = round(sum(split.values()), 1)
    return split


def median_p95(rounds: list[dict[str, Any]]) -> dict[str, float]:
    """Per step, the median of the rounds' p95 (single bursts are noisy)."""
    medians = {}
    for step in STEPS:
        values = [r[step]["p95"] for r in rounds if step in r]
        if values:
            medians[step] = round(statistics.median(values), 3)
    return medians


def goal_met(rounds: list[dict[str, Any]]) -> bool:
    """Issue 13's goal: 50 concurrent launches, p95 ≤ 1 s (the median over the rounds), zero errors."""
    p95 = median_p95(rounds).get("launch", math.inf)
    return sum(r["errors"] for r in rounds) == 0 and p95 <= GOAL_P95_S


def cpu_line(split: Mapping[str, float]) -> str:
    return ", ".join(f"{role} {ms:g}" for role, ms in split.items() if role != "total") + f" | total {split['total']:g}"


def print_round(summary: dict[str, Any]) -> None:
    load = "/".join(f"{value:.1f}" for value in summary["load_average_before"])
    per = "launch" if summary["mode"] == "launch-only" else "flow"
    connections = summary.get("postgres_connections_per_flow")
    print(
        f"[{summary['setup']}] {summary['clinicians']} clinicians, round {summary['round']}: {summary['wall_s']} s, "
        f"{summary['flows_per_s']} flows/s, {summary['errors']} errors {summary['error_kinds'] or ''} "
        f"({summary['mode']}; {summary['requests_per_flow']:g} requests and {summary['connections_per_flow']:g} "
        f"connections per {per}; load average before 1/5/15 min {load}"
        + (f"; new PostgreSQL connections per flow {connections}" if connections is not None else "")
        + ")",
        flush=True,
    )
    print(f"    CPU ms per {per}: {cpu_line(summary['cpu_ms_per_flow'])}", flush=True)
    for step in STEPS:
        if s := summary.get(step):
            print(f"    {step:<14} p50 {s['p50']:.3f} s   p95 {s['p95']:.3f} s   p99 {s['p99']:.3f} s", flush=True)
    if (early := summary.get("summaries_before_sign_ins_end")) is not None:
        print(
            f"    summary record reads before 95 % of the launches were in: {early['began']} began, "
            f"{early['done']} done (of {summary['clinicians']})",
            flush=True,
        )


def print_profile(profile: dict[str, Any]) -> None:
    print(
        f"[{profile['setup']}] profile: {profile['flows']} flows one after another, {profile['errors']} errors "
        f"{profile['error_kinds'] or ''}",
        flush=True,
    )
    for step, split in profile["cpu_ms_per_step"].items():
        print(f"    {step:<8} CPU ms: {cpu_line(split)}", flush=True)
    print(f"    per flow CPU ms: {cpu_line(profile['cpu_ms_per_flow'])}", flush=True)

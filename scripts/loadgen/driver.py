"""Runs the Node load generator (`clinicians.mjs`) as a child process: sends it the job, answers its `ready` and
`probe` handshakes (the moments the caller samples CPU), and returns what it measured."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOADGEN = Path(__file__).with_name("clinicians.mjs")
# e.g. LOADGEN_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to see where the load generator's own CPU goes


class LoadgenError(RuntimeError):
    """The load generator could not run (not a clinician's error: those are in the results)."""


@dataclass
class LoadgenRun:
    results: list[dict[str, Any]]  # per clinician: {"timings": {step: seconds}, "error": str | None}
    wall_s: float
    cpu_ms: float  # the load generator's CPU from the start of the round to its end
    process_cpu_ms: float  # its whole process, Node's start-up included


def run_clinicians(
    job: dict[str, Any],
    *,
    on_ready: Callable[[int], None] = lambda pid: None,
    on_probe: Callable[[str], None] = lambda step: None,
    on_done: Callable[[], None] = lambda: None,
) -> LoadgenRun:
    """Run one job (see clinicians.mjs); `on_ready(pid)` just before the clinicians start, `on_probe(step)` at each
    probe (when `job["probes"]`), `on_done()` as soon as the last one finished, before the process exits."""
    node = shutil.which("node")
    if node is None:
        raise LoadgenError("node is not installed (the load generator needs Node.js 20 or later)")
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [node, *os.environ.get("LOADGEN_NODE_ARGS", "").split(), str(LOADGEN)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(job) + "\n")
            process.stdin.flush()
            done: dict[str, Any] | None = None
            for line in process.stdout:
                event = json.loads(line)
                if event["event"] == "done":
                    on_done()
                    done = event
                    break
                if event["event"] == "ready":
                    on_ready(process.pid)
                else:
                    on_probe(event["step"])
                process.stdin.write("\n")
                process.stdin.flush()
            process.stdin.close()
            returncode = process.wait(timeout=60)
        except BaseException:
            process.kill()
            process.wait()
            raise
        if done is None or returncode != 0:
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace")[-2000:]
            raise LoadgenError(f"the load generator exited {returncode}: {tail}")
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    process_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    return LoadgenRun(done["results"], done["wall_s"], done["cpu_ms"], round(1000 * process_cpu, 1))

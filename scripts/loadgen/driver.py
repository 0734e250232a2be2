"""Runs the Node load generator (`clinicians.mjs`) as a child process: sends it the job, answers its `ready` and
`probe` handshakes (the moments the caller samples CPU), and returns what it measured."""

from __future__ import annotations

import json
import os
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
    requests: int
    connections: int


class Loadgen:
    """One load generator process for many jobs (its JIT warms up with the warm-up, as a browser's would)."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise LoadgenError("node is not installed (the load generator needs Node.js 20 or later)")
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process; closed by close())
        command = [node, *os.environ.get("LOADGEN_NODE_ARGS", "").split(), str(LOADGEN)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def run(
        self,
        job: dict[str, Any],
        *,
        on_ready: Callable[[int], None] = lambda pid: None,
        on_probe: Callable[[str], None] = lambda step: None,
        on_done: Callable[[], None] = lambda: None,
    ) -> LoadgenRun:
        """Run one job (see clinicians.mjs); `on_ready(pid)` just before the clinicians start, `on_probe(step)` at
        each probe (when `job["probes"]`), `on_done()` as soon as the last one finished."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            self.send(json.dumps(job))
            for line in stdout:
                event = json.loads(line)
                if event["event"] == "done":
                    on_done()
                    return LoadgenRun(
                        event["results"], event["wall_s"], event["cpu_ms"], event["requests"], event["connections"]
                    )
                if event["event"] == "ready":
                    on_ready(self.process.pid)
                else:
                    on_probe(event["step"])
                self.send("")
        except (OSError, ValueError) as error:
            raise LoadgenError(f"the load generator failed: {error}; {self.stderr_tail()}") from error
        raise LoadgenError(f"the load generator exited {self.process.wait()}: {self.stderr_tail()}")

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stderr_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-2000:]

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.stderr.close()

    def __enter__(self) -> Loadgen:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

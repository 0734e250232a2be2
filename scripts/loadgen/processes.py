"""CPU time of each process of a benchmark setup, by role, read from /proc.

A role is a process tree (a gunicorn master and its workers; PostgreSQL's postmaster and its backends): the CPU
of every live process in it plus what the tree's processes have reaped (`cutime`/`cstime`: PostgreSQL backends
that exited, a gunicorn worker that was replaced), so a role's CPU never goes backwards while its root lives.
The sandbox's tree is split by program: its Node processes are the FHIR server, the rest (the Python process
that runs the SMART authorization server) the auth server.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TICKS = os.sysconf("SC_CLK_TCK")
SANDBOX_AUTH = "sandbox auth (python)"
SANDBOX_FHIR = "sandbox FHIR (node)"


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    name: str  # the kernel's `comm` (program name, 15 characters at most)
    cpu_s: float  # user + system, its own and its reaped children's


def process_table() -> dict[int, ProcessInfo]:
    """Every process now on the machine (those that vanish while we read are left out)."""
    table: dict[int, ProcessInfo] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
        table[int(entry.name)] = ProcessInfo(int(entry.name), int(fields[1]), name, ticks / TICKS)
    return table


def tree(table: Mapping[int, ProcessInfo], root: int) -> list[ProcessInfo]:
    """`root` and its live descendants."""
    children: dict[int, list[int]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found: list[ProcessInfo] = []
    pending = [root]
    while pending:
        pid = pending.pop()
        if pid in table:
            found.append(table[pid])
            pending.extend(children.get(pid, ()))
    return found


def tree_cpu(table: Mapping[int, ProcessInfo], root: int) -> float:
    return sum(info.cpu_s for info in tree(table, root))


def sandbox_cpu(table: Mapping[int, ProcessInfo], root: int) -> dict[str, float]:
    """The sandbox EHR's process tree split into the FHIR server (Node) and the authorization server (the rest)."""
    split = {SANDBOX_AUTH: 0.0, SANDBOX_FHIR: 0.0}
    for info in tree(table, root):
        if info.name == "node":
            split[SANDBOX_FHIR] += tree_cpu(table, info.pid)
        elif not any(parent.name == "node" for parent in ancestors(table, info, root)):
            split[SANDBOX_AUTH] += info.cpu_s
    return split


def ancestors(table: Mapping[int, ProcessInfo], info: ProcessInfo, root: int) -> Iterable[ProcessInfo]:
    while info.pid != root and info.ppid in table:
        info = table[info.ppid]
        yield info


def children(table: Mapping[int, ProcessInfo], pid: int) -> list[int]:
    return sorted(info.pid for info in table.values() if info.ppid == pid)

"""Load benchmark (issue 13): concurrent clinicians each doing launch → check → save against the sandbox EHR.

    .venv/bin/python scripts/bench_load.py [--clinicians 50,200] [--delay-ms 50] [--setups sqlite,postgresql]
        [--launch-only] [--profile N] [--workers W --threads T] [--json FILE]

`--launch-only`: each clinician only launches (the goal is stated for launches). `--profile N`: instead of rounds,
N flows one after another, reporting the CPU milliseconds of each step in the app and in the sandbox.
Every round also reports CPU-seconds per flow (app processes; sandbox: the Python authorization server and the Node
FHIR server), which, unlike latency, hardly depends on what else the machine is doing.

Everything runs on 127.0.0.1: the sandbox FHIR server (bearer tokens required, every token introspected, with
`--delay-ms` injected latency per FHIR request) and the sandbox SMART authorization server, loaded with the seed
patients; then for each setup the app under gunicorn, configured only through `SMART_APP_*` variables:

- `sqlite`: one gunicorn instance, one worker process (gthread), SQLite file, rate limits counted in memory;
- `postgresql`: two gunicorn instances of one worker each (one per core), one throwaway PostgreSQL cluster and one
  Redis (Debian's, started here on free ports as the tests do), requests alternating between the instances.

A clinician is one cookie-keeping HTTP client: the EHR launch (sandbox launch → /launch → authorize → /callback →
the patient page), the checklist with the check run, and "Save draft order" (each clinician its own order, so
every save writes a transaction Bundle to the EHR). All clinicians of a round start together (a barrier); each
does one flow (bounded: no loops beyond that). Reported per round: flows per second, p50/p95/p99 of the launch,
the check, the save and the whole flow, and errors (any step not answering what a user would see). The goal
(issue 13): 50 concurrent launches with p95 ≤ 1 s and zero errors.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from requests.cookies import MockRequest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from smart_app.cli.sandbox import register_app  # noqa: E402
from smart_app.fhir.signing_keys import generate_signing_key  # noqa: E402
from smart_app.sandbox.auth import start_auth_server  # noqa: E402
from smart_app.sandbox.fhir_server import start_fhir_server  # noqa: E402
from smart_app.sandbox.seed.catalog import seed_patients  # noqa: E402
from smart_app.sandbox.seed.loader import seed_server  # noqa: E402
from smart_app.store.crypto import generate_fernet_key  # noqa: E402
from tests.backing_services import start_postgres, start_redis  # noqa: E402

PATIENTS = (
    "lumbar-mbb-first-left-ready",
    "lumbar-rfa-initial-right-ready",
    "pars-chronic-defect-edema-ready",
    "lumbar-mbb-confirmatory-bilateral-ready",
)
RESOURCE_SERVER = ("sandbox-fhir", "sandbox-fhir-introspection-secret")
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
STEPS = ("launch", "check", "save", "flow")
SQLITE_WORKERS, SQLITE_THREADS = 1, 64  # one instance
POSTGRES_WORKERS, POSTGRES_THREADS = 1, 32  # per instance, two instances: one worker per core


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoopbackSecureCookiePolicy(DefaultCookiePolicy):
    """Secure cookies go to 127.0.0.1 over http, as browsers treat loopback as a secure context."""

    def return_ok_secure(self, cookie: Any, request: Any) -> bool:
        return urlsplit(request.get_full_url()).hostname == "127.0.0.1" or bool(
            super().return_ok_secure(cookie, request)
        )


class Clinician(requests.Session):
    """One browser: keeps cookies (Secure ones too, on loopback) and follows redirects one hop at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.last_port: int | None = None  # where the last request went (to tell app from sandbox in errors)
        self.cookies.set_policy(LoopbackSecureCookiePolicy())

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        self.last_port = urlsplit(prepared.url).port
        mock = MockRequest(prepared)
        self.cookies.add_cookie_header(mock)
        if cookie := mock.get_new_headers().get("Cookie"):
            prepared.headers["Cookie"] = cookie
        return prepared

    def follow(self, response: requests.Response, rewrite: Any = None) -> requests.Response:
        for _ in range(10):
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            target = urljoin(response.url, response.headers["Location"])
            response = self.get(rewrite(target) if rewrite else target, allow_redirects=False, timeout=60)
        raise RuntimeError("too many redirects")


@dataclass
class SandboxProxy:
    """The sandbox EHR running in a child process (so the load generator's threads do not share its GIL)."""

    base_url: str
    fhir_base: str
    connection: Any
    process: Any

    def register(self, app_url: str, client_id: str) -> None:
        self.connection.send(("register", app_url, client_id))
        answer = self.connection.recv()
        if answer != "ok":
            raise RuntimeError(f"sandbox: {answer}")

    def stop(self) -> None:
        self.connection.send(("stop",))
        self.process.join(timeout=30)


def sandbox_process(connection: Any, delay_ms: int, log_dir: str) -> None:
    """Child process: the FHIR server (Node) and the authorization server, seeded; obeys `register` and `stop`."""
    auth_port = free_port()
    fhir = start_fhir_server(
        auth_base=f"http://127.0.0.1:{auth_port}",
        introspection_client=RESOURCE_SERVER,
        log_path=Path(log_dir) / "fhir.log",
        startup_timeout=90,
    )
    auth = start_auth_server(port=auth_port, fhir_base=fhir.base_url, resource_servers=dict([RESOURCE_SERVER]))
    try:
        seed_server(fhir.base_url, only=list(PATIENTS))
        fhir.configure(require_auth=True, delay_ms=delay_ms)
        connection.send((auth.base_url, fhir.base_url))
        while True:
            command = connection.recv()
            if command[0] == "stop":
                return
            _, app_url, client_id = command
            register_app(auth, app_url, client_id=client_id, client_auth="public", client_secret=None, name=client_id)
            connection.send("ok")
    finally:
        auth.stop()
        fhir.stop()


def start_sandbox(delay_ms: int, work: Path) -> SandboxProxy:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=sandbox_process, args=(child, delay_ms, str(work)), daemon=True)
    process.start()
    auth_url, fhir_base = parent.recv()
    return SandboxProxy(auth_url, fhir_base, parent, process)


@dataclass
class Setup:
    name: str
    instances: list[str]  # base URLs; the first is the public URL the EHR knows
    client_id: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stop_extra: list[Any] = field(default_factory=list)
    database_url: str | None = None  # PostgreSQL: to count the connections the app opened

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for stop in self.stop_extra:
            stop()


def start_gunicorn(port: int, workers: int, threads: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """gunicorn as the README deploys it: `-c python:smart_app.gunicorn_conf`, sized by `SMART_APP_*` settings."""
    env = {**env, "SMART_APP_WORKERS": str(workers), "SMART_APP_THREADS": str(threads)}
    env["SMART_APP_BIND"] = f"127.0.0.1:{port}"
    command = [GUNICORN, "-c", "python:smart_app.gunicorn_conf", "--error-logfile", str(log), "--capture-output"]
    command += ["--no-control-socket", "smart_app:create_app()"]
    process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn on {port} did not start")


def deploy(
    name: str, auth: SandboxProxy, work: Path, *, instances: int, workers: int, threads: int, **settings: Any
) -> Setup:
    ports = [free_port() for _ in range(instances)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    client_id = f"bench-{name}-{secrets.token_hex(3)}"
    entry = {"name": "sandbox", "iss": auth.fhir_base, "client_id": client_id, "ehr_origins": [auth.base_url]}
    keys = [generate_signing_key("RS384"), generate_signing_key("ES384")]
    all_settings = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "TOKEN_ENCRYPTION_KEYS": [generate_fernet_key()],
        "SIGNING_KEYS": [key.private_jwk() for key in keys],
        "EHRS": [entry],
        "PUBLIC_URL": urls[0],
        "PURGE_INTERVAL_SECONDS": 300,
        **settings,
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("SMART_APP_")}
    env.update({f"SMART_APP_{k}": v if isinstance(v, str) else json.dumps(v) for k, v in all_settings.items()})
    auth.register(urls[0], client_id)
    setup = Setup(name, urls, client_id)
    try:
        for index, port in enumerate(ports):
            setup.processes.append(start_gunicorn(port, workers, threads, env, work / f"{name}-{index}.log"))
    except BaseException:
        setup.stop()
        raise
    return setup


@dataclass
class Result:
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def one_flow(
    auth: Any,
    setup: Setup,
    patient: Any,
    as_of: date,
    index: int,
    barrier: threading.Barrier,
    launch_only: bool = False,
    probe: Callable[[str], None] = lambda step: None,
) -> Result:
    """launch → check → save for one clinician (or the launch alone); requests after the launch go to instance
    `index % n`."""
    result = Result()
    home = setup.instances[index % len(setup.instances)]

    def on_home(url: str) -> str:  # the load balancer's choice for this clinician's app requests
        return home + url[len(setup.instances[0]) :] if url.startswith(setup.instances[0] + "/s/") else url

    with Clinician() as browser:
        barrier.wait()
        probe("start")
        started = time.perf_counter()
        try:
            query = urlencode({"patient": patient.id, "client_id": setup.client_id})
            first = browser.get(f"{auth.base_url}/ehr/launch?{query}", allow_redirects=False, timeout=60)
            if first.status_code != 302:
                result.error = f"ehr launch: {first.status_code}"
                return result
            location = first.headers["Location"].replace("/launch.html?", "/launch?", 1)
            page = browser.follow(browser.get(location, allow_redirects=False, timeout=60), on_home)
            result.timings["launch"] = time.perf_counter() - started
            probe("launch")
            match = re.search(r"/s/([^/]+)/", page.url)
            if page.status_code != 200 or not match:
                result.error = f"launch: {page.status_code}"
                return result
            if launch_only:
                result.timings["flow"] = result.timings["launch"]
                return result
            fields = {**{k: str(v) for k, v in patient.request.items()}, "as_of": as_of.isoformat(), "run": "1"}
            step = time.perf_counter()
            checklist = browser.get(f"{home}/s/{match.group(1)}/checklist?{urlencode(fields)}", timeout=60)
            result.timings["check"] = time.perf_counter() - step
            probe("check")
            if checklist.status_code != 200 or "data-verdict=" not in checklist.text:
                result.error = f"check: {checklist.status_code}"
                return result
            form_start = checklist.text.index("data-save-order")
            form_html = checklist.text[checklist.text.rindex("<form", 0, form_start) :]
            form_html = form_html[: form_html.index("</form>")]
            action = re.search(r'action="([^"]+)"', form_html)
            data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form_html))
            assert action
            step = time.perf_counter()
            saved = browser.follow(
                browser.post(urljoin(checklist.url, action.group(1)), data=data, allow_redirects=False, timeout=60)
            )
            result.timings["save"] = time.perf_counter() - step
            probe("save")
            if saved.status_code != 200 or "Draft order saved in the EHR" not in saved.text:
                result.error = f"save: {saved.status_code} {headline(saved.text)}"
                return result
            result.timings["flow"] = time.perf_counter() - started
        except Exception as error:  # counted, reported by step and kind
            done = [step for step in STEPS if step in result.timings]
            ports = [int(url.rsplit(":", 1)[1]) for url in setup.instances]
            where = "app" if browser.last_port in ports else "sandbox"
            cause = re.search(r"\[Errno \d+\][^\"')]*|RemoteDisconnected|Read timed out|Connection aborted", str(error))
            where += f": {cause.group(0)}" if cause else ""
            result.error = f"{STEPS[len(done)]}: {type(error).__name__} ({where})"
        return result


def profile_steps(auth: SandboxProxy, setup: Setup, patients: list[Any], flows: int) -> dict[str, Any]:
    """CPU ms per step (app, sandbox), from `flows` flows one after another: nothing else runs, so every CPU tick
    of the app's and the sandbox's processes between two steps belongs to that step."""
    app_pids = [process.pid for process in setup.processes]
    sandbox_pids = [auth.process.pid]
    spent: dict[str, list[float]] = {f"{step} {side}": [] for step in STEPS[:3] for side in ("app", "sandbox")}
    last: list[float] = []

    def probe(step: str) -> None:
        now = [cpu_seconds(app_pids), cpu_seconds(sandbox_pids)]
        if step != "start":
            spent[f"{step} app"].append(now[0] - last[0])
            spent[f"{step} sandbox"].append(now[1] - last[1])
        last[:] = now

    errors = 0
    for i in range(flows):
        barrier = threading.Barrier(1)
        as_of = date(2027, 6, 1) + timedelta(days=i)
        errors += one_flow(auth, setup, patients[i % len(patients)], as_of, 0, barrier, probe=probe).error is not None
    summary = {key: round(1000 * statistics.fmean(values), 1) for key, values in spent.items() if values}
    return {"setup": setup.name, "flows": flows, "errors": errors, "cpu_ms_per_step": summary}


def postgres_sessions(setup: Setup) -> int:
    """Connections PostgreSQL has accepted into the app's database so far (0 without PostgreSQL)."""
    if setup.database_url is None:
        return 0
    import sqlalchemy

    engine = sqlalchemy.create_engine(setup.database_url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            query = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            return int(connection.execute(sqlalchemy.text(query)).scalar_one())
    finally:
        engine.dispose()


def headline(page: str) -> str:
    """The page's heading and the reason given (what the user was told), for an error report; no record content."""
    told = []
    for pattern in (r"<h[12][^>]*>(.*?)</h[12]>", r'<p class="reason">(.*?)</p>'):
        if match := re.search(pattern, page, re.S):
            told.append(re.sub(r"<[^>]+>|\s+", " ", match.group(1)).strip()[:120])
    return ": ".join(told) or "(no heading)"


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) used so far by these processes and their children (gunicorn workers)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
        for each in [pid, *(int(child) for child in children.split())]:
            try:
                fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def run_round(
    auth: Any, setup: Setup, patients: list[Any], clinicians: int, round_index: int, launch_only: bool = False
) -> dict[str, Any]:
    app_pids = [process.pid for process in setup.processes]
    load_before = os.getloadavg()[0]
    sandbox_pids = [auth.process.pid]
    cpu_before = cpu_seconds(app_pids)
    sandbox_cpu_before = cpu_seconds(sandbox_pids)
    sessions_before = postgres_sessions(setup)
    barrier = threading.Barrier(clinicians)
    results: list[Result] = [Result() for _ in range(clinicians)]
    # Planned dates after the seeded records (their checks are `ready`, as a clinician would save them); every
    # clinician, every round: its own order.
    base_day = date(2026, 11, 15) + timedelta(days=90 * round_index)

    def worker(i: int) -> None:
        patient = patients[i % len(patients)]
        as_of = base_day + timedelta(days=i // len(patients))
        results[i] = one_flow(auth, setup, patient, as_of, i, barrier, launch_only)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clinicians)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    wall = time.perf_counter() - started
    errors = [r.error for r in results if r.error]
    summary: dict[str, Any] = {
        "setup": setup.name,
        "mode": "launch-only" if launch_only else "launch → check → save",
        "clinicians": clinicians,
        "wall_s": round(wall, 2),
        "flows_per_s": round((clinicians - len(errors)) / wall, 2),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "app_cpu_s_per_flow": round((cpu_seconds(app_pids) - cpu_before) / clinicians, 3),
        "sandbox_cpu_s_per_flow": round((cpu_seconds(sandbox_pids) - sandbox_cpu_before) / clinicians, 3),
        "load_average_before": round(load_before, 1),
        "postgres_connections_per_flow": (
            round((postgres_sessions(setup) - sessions_before) / clinicians, 1) if setup.database_url else None
        ),
    }
    for step in STEPS:
        values = [r.timings[step] for r in results if step in r.timings]
        summary[step] = {
            "p50": round(percentile(values, 0.50), 3),
            "p95": round(percentile(values, 0.95), 3),
            "p99": round(percentile(values, 0.99), 3),
            "mean": round(statistics.fmean(values), 3) if values else None,
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clinicians", default="50,200", help="concurrent clinicians per round (comma-separated)")
    parser.add_argument("--delay-ms", type=int, default=50, help="injected latency per FHIR request")
    parser.add_argument("--setups", default="sqlite,postgresql", help="sqlite (one process), postgresql (two)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--launch-only", action="store_true", help="each clinician only launches (the goal is stated for launches)"
    )
    parser.add_argument(
        "--profile", type=int, metavar="N", help="instead: N flows one after another, CPU ms per step and side"
    )
    parser.add_argument("--workers", type=int, help="gunicorn workers per instance (default: the setup's)")
    parser.add_argument("--threads", type=int, help="gunicorn threads per worker (default: the setup's)")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.clinicians.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    sandbox = start_sandbox(args.delay_ms, work)
    all_results: list[dict[str, Any]] = []
    try:
        patients = seed_patients(PATIENTS)
        print(f"sandbox: FHIR {sandbox.fhir_base} ({args.delay_ms} ms per request, tokens required)", flush=True)
        for name in args.setups.split(","):
            setup = start_setup(name, sandbox, work, workers=args.workers, threads=args.threads)
            try:
                warm = run_round(sandbox, setup, patients, 4, 0)  # imports, caches, connection pools
                print(
                    f"\n[{name}] warm-up ({warm['clinicians']} flows, cold workers): {warm['errors']} errors, "
                    f"CPU s per flow: app {warm['app_cpu_s_per_flow']}, sandbox {warm['sandbox_cpu_s_per_flow']}",
                    flush=True,
                )
                if args.profile:
                    profile = profile_steps(sandbox, setup, patients, args.profile)
                    all_results.append(profile)
                    print(json.dumps(profile), flush=True)
                    continue
                for round_index, clinicians in enumerate(counts, start=1):
                    summary = run_round(sandbox, setup, patients, clinicians, round_index, args.launch_only)
                    all_results.append(summary)
                    print_round(summary)
            finally:
                setup.stop()
    finally:
        sandbox.stop()
    if args.json:
        args.json.write_text(json.dumps(all_results, indent=2))
    goal = [r for r in all_results if r.get("clinicians") == 50]
    for r in goal:
        met = r["errors"] == 0 and r["launch"]["p95"] <= 1.0
        print(f"goal (50 concurrent launches, p95 ≤ 1 s, 0 errors) on {r['setup']}: {'met' if met else 'NOT met'}")
    return 0


def start_setup(
    name: str, sandbox: SandboxProxy, work: Path, *, workers: int | None = None, threads: int | None = None
) -> Setup:
    if name == "sqlite":
        return deploy(
            name,
            sandbox,
            work,
            instances=1,
            workers=workers or SQLITE_WORKERS,
            threads=threads or SQLITE_THREADS,
            DATABASE_URL=f"sqlite:///{work / 'app.sqlite'}",
        )
    if name == "postgresql":
        postgres = start_postgres(work / "postgres")
        redis = start_redis(work / "redis")
        try:
            setup = deploy(
                name,
                sandbox,
                work,
                instances=2,
                workers=workers or POSTGRES_WORKERS,
                threads=threads or POSTGRES_THREADS,
                DATABASE_URL=postgres.url,
                RATE_LIMIT_STORAGE_URL=redis.url,
            )
        except BaseException:
            postgres.stop()
            redis.stop()
            raise
        setup.stop_extra += [postgres.stop, redis.stop]
        setup.database_url = postgres.url
        return setup
    raise SystemExit(f"unknown setup {name!r}: sqlite or postgresql")


def print_round(summary: dict[str, Any]) -> None:
    print(
        f"[{summary['setup']}] {summary['clinicians']} clinicians: {summary['wall_s']} s, "
        f"{summary['flows_per_s']} flows/s, {summary['errors']} errors {summary['error_kinds'] or ''} "
        f"({summary['mode']}; CPU s per flow: app {summary['app_cpu_s_per_flow']}, sandbox "
        f"{summary['sandbox_cpu_s_per_flow']}; machine load average {summary['load_average_before']}"
        + (
            f"; new PostgreSQL connections per flow {summary['postgres_connections_per_flow']})"
            if summary["postgres_connections_per_flow"] is not None
            else ")"
        ),
        flush=True,
    )
    for step in STEPS:
        s = summary[step]
        if s["mean"] is None:
            continue
        print(f"    {step:<7} p50 {s['p50']:.3f} s   p95 {s['p95']:.3f} s   p99 {s['p99']:.3f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""The load benchmark's clinicians (scripts/loadgen/clinicians.mjs, run by scripts/bench_load.py): against the real
sandbox EHR and app they complete a launch-only flow and a full launch → check → save flow (twice, and on a second
patient), report each step, and classify an unreachable server by step and side. The summary step of the P4/P6
contract (`data-summary-src` on the patient page) is checked against a tiny fake app, since today's page has none:
present → the fragment is fetched with the session's cookies and must carry `data-summary-loaded`; absent → no
summary step."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from scripts.bench_load import PlannedDays, loadgen_job
from scripts.loadgen.driver import Loadgen
from scripts.loadgen.report import summaries_before_sign_ins_end
from scripts.loadgen.setups import Setup
from tests.conftest import free_port
from tests.web.conftest import ORDER_PATIENT, READY, RunningApp, seeded_on, smart_app

pytestmark = pytest.mark.sandbox

LAUNCH_STEPS = {"launch", "flow"}
WITH_SUMMARY = {"launch", "summary", "launch+summary", "flow"}
WITH_SUMMARY_WAITS = WITH_SUMMARY | {"summary_read_start"}  # the app says in Server-Timing how long the read waited


@pytest.fixture(scope="module")
def app_server(fhir_server: Any, auth_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app as a public client of the sandbox, as the benchmark registers it."""
    running = smart_app("public", fhir_server, auth_server, tmp_path_factory.mktemp("loadgen"), "spine-auth-loadgen")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def loadgen() -> Iterator[Loadgen]:
    with Loadgen() as running:
        yield running


def job_for(app: RunningApp, auth_server: Any, patients: list[Any], first_day: date, **options: Any) -> dict[str, Any]:
    setup = Setup("test", [app.url], str(app.client_id))
    sandbox = SimpleNamespace(base_url=auth_server.base_url)
    return loadgen_job(sandbox, setup, patients, len(patients), PlannedDays(first_day), **options)  # type: ignore[arg-type]


def drafts_of(fhir_server: Any, patient_id: str) -> int:
    bundle = requests.get(
        f"{fhir_server.base_url}/ServiceRequest", params={"subject": f"Patient/{patient_id}", "_count": 500}, timeout=30
    ).json()
    return len(bundle.get("entry", []))


def test_launch_only_then_full_flows_against_the_real_sandbox_and_app(
    loadgen: Loadgen, app_server: RunningApp, auth_server: Any, fhir_server: Any
) -> None:
    patients = seeded_on(fhir_server, [READY, ORDER_PATIENT])
    both = [patients[READY], patients[ORDER_PATIENT]]  # a second patient after the first

    launched = loadgen.run(job_for(app_server, auth_server, both, date(2027, 3, 1), launch_only=True, sequential=True))
    assert [r["error"] for r in launched.results] == [None, None]
    for result in launched.results:
        timings = result["timings"]
        assert set(timings) in (LAUNCH_STEPS, WITH_SUMMARY_WAITS)
        assert 0 < timings["launch"] <= timings["flow"]
        if "summary_read_start" in timings:  # between the page and the summary's end
            assert timings["launch"] <= timings["summary_read_start"] <= timings["launch+summary"]
    assert launched.requests >= 2 * 4  # EHR launch, /launch, authorize, /callback at least, for each
    assert launched.cpu_ms > 0

    order_patient = [patients[ORDER_PATIENT]]
    counts = [drafts_of(fhir_server, order_patient[0].id)]
    for day in (date(2027, 3, 10), date(2027, 3, 11)):  # twice: each flow saves an order of its own
        full = loadgen.run(job_for(app_server, auth_server, order_patient, day))
        (result,) = full.results
        assert result["error"] is None
        timings = result["timings"]
        assert {"launch", "check", "save", "flow"} <= set(timings)
        assert timings["flow"] >= timings["launch"] + timings["check"] + timings["save"] - 0.01
        counts.append(drafts_of(fhir_server, order_patient[0].id))
    per_save = counts[1] - counts[0]  # the draft ServiceRequests of one order (one per level)
    assert per_save > 0
    assert counts[2] == counts[0] + 2 * per_save


def test_an_unreachable_sandbox_is_reported_by_step_and_side(
    loadgen: Loadgen, app_server: RunningApp, auth_server: Any, fhir_server: Any
) -> None:
    patients = seeded_on(fhir_server, [READY])
    job = job_for(app_server, auth_server, [patients[READY]], date(2027, 3, 20), launch_only=True)
    job["ehr_base"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    (result,) = loadgen.run(job).results
    assert result["error"] == "launch: RequestError (sandbox: ECONNREFUSED)"
    assert result["timings"] == {}


class FakeApp(BaseHTTPRequestHandler):
    """EHR launch → /launch (sets a Secure session cookie) → /s/abc/, whose page depends on the patient:
    `summary` names a fragment (with an escaped `&` in its URL), `plain` none, `broken` a fragment without
    `data-summary-loaded`, `twice` two fragments. The fragment answers only with the session cookie."""

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        getattr(self.server, "seen", []).append((self.server.server_address[1], url.path))
        query = parse_qs(url.query)
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if url.path == "/ehr/launch":
            self.answer(302, location=f"{base}/launch.html?launch={query['patient'][0]}")
        elif url.path == "/launch":  # the load generator rewrote launch.html → /launch, as the bench always did
            self.answer(302, location=f"/s/abc/?kind={query['launch'][0]}", cookie="session=s1; Path=/; Secure")
        elif url.path == "/s/abc/":
            fragment = '<div data-summary-src="/s/abc/summary?a=1&amp;b=2"></div>'
            kind = query["kind"][0]
            page = {"summary": fragment, "plain": "", "broken": fragment.replace("a=1", "a=0"), "twice": fragment * 2}
            self.answer(200, f"<h1>Patient</h1>{page[kind]}")
        elif url.path == "/s/abc/summary":
            if "session=s1" not in (self.headers.get("Cookie") or ""):
                self.answer(403, "no session")
            elif query == {"a": ["1"], "b": ["2"]}:
                self.answer(200, "<section data-summary-loaded>summary</section>")
            else:
                self.answer(200, "<section>still loading</section>")
        else:
            self.answer(404, "not found")

    def answer(self, status: int, body: str = "", location: str | None = None, cookie: str | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def fake_app() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("kind", "error", "steps"),
    [
        ("summary", None, WITH_SUMMARY),
        ("plain", None, LAUNCH_STEPS),
        ("broken", "summary: 200 without data-summary-loaded", {"launch", "summary", "launch+summary"}),
        ("twice", "summary: 2 elements with data-summary-src", {"launch"}),
    ],
)
def test_summary_step_follows_the_page(
    loadgen: Loadgen, fake_app: str, kind: str, error: str | None, steps: set[str]
) -> None:
    job = {
        "ehr_base": fake_app,
        "instances": [fake_app],
        "client_id": "fake",
        "launch_only": True,
        "clinicians": [{"patient": kind, "fields": {}, "as_of": "2027-01-01", "home": 0}],
    }
    (result,) = loadgen.run(job).results
    assert result["error"] == error
    assert set(result["timings"]) == steps
    if "summary" in steps:
        timings = result["timings"]
        assert timings["launch+summary"] >= timings["launch"] + timings["summary"] - 0.01


def test_the_balancer_alternates_every_app_request_even_after_a_relative_redirect(loadgen: Loadgen) -> None:
    """Two instances: the page (reached by a relative redirect from the first) and its summary land on different
    instances, as a round-robin balancer sends them (before, both stuck to the instance of the relative URL)."""
    seen: list[tuple[int, str]] = []
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), FakeApp) for _ in range(2)]
    threads = []
    for server in servers:
        server.seen = seen  # type: ignore[attr-defined]
        threads.append(threading.Thread(target=server.serve_forever, daemon=True))
        threads[-1].start()
    first, second = (f"http://127.0.0.1:{server.server_address[1]}" for server in servers)
    try:
        job = {
            "ehr_base": first,
            "instances": [first, second],
            "client_id": "fake",
            "launch_only": True,
            "clinicians": [{"patient": "summary", "fields": {}, "as_of": "2027-01-01", "home": 0}],
        }
        (result,) = loadgen.run(job).results
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert result["error"] is None
    port = {path: port for port, path in seen if path != "/ehr/launch"}
    assert port["/launch"] != port["/s/abc/"] != port["/s/abc/summary"]


def test_the_report_counts_summary_reads_that_competed_with_sign_ins() -> None:
    results = [{"timings": {"launch": 1.0 + i / 10}} for i in range(20)]  # p95 of the launches: 2.9 s
    results[0]["timings"].update({"launch+summary": 1.5, "summary_read_start": 1.1})  # began and done early
    results[1]["timings"].update({"launch+summary": 3.5, "summary_read_start": 2.0})  # began early
    results[2]["timings"].update({"launch+summary": 4.0, "summary_read_start": 3.0})  # after
    assert summaries_before_sign_ins_end(results) == {"began": 2, "done": 1}
    assert summaries_before_sign_ins_end([{"timings": {"launch": 1.0}}]) is None

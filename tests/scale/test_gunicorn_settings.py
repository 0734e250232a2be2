"""`gunicorn -c python:smart_app.gunicorn_conf`: workers, threads and bind come from `SMART_APP_*` settings."""

from __future__ import annotations

import http.client
import subprocess
import time
from pathlib import Path

import requests

from smart_app.fhir.signing_keys import generate_signing_key
from smart_app.store.crypto import generate_fernet_key
from tests.conftest import PROJECT_ROOT, free_port
from tests.scale.deployment import GUNICORN, environment_of


def worker_pids(master: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True, check=False).stdout
    return [int(pid) for pid in found.split()]


def test_the_settings_choose_workers_threads_and_the_address(tmp_path: Path) -> None:
    port = free_port()
    env = environment_of(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite'}",
            "SECRET_KEY": generate_fernet_key(),
            "TOKEN_ENCRYPTION_KEYS": [generate_fernet_key()],
            "SIGNING_KEYS": [generate_signing_key("ES384").private_jwk()],
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "WORKERS": "3",
            "THREADS": "4",
            "BIND": f"127.0.0.1:{port}",
        }
    )
    log = tmp_path / "gunicorn.log"
    command = [GUNICORN, "-c", "python:smart_app.gunicorn_conf", "--error-logfile", str(log), "--no-control-socket"]
    process = subprocess.Popen([*command, "smart_app:create_app()"], env=env, cwd=PROJECT_ROOT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(worker_pids(process.pid)) < 3:
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            time.sleep(0.2)
        assert len(worker_pids(process.pid)) == 3
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise AssertionError(log.read_text(errors="replace")[-2000:])
        assert "Using worker: gthread" in log.read_text()
        # An idle keep-alive connection is still open after gunicorn's own 2 s default: the client may reuse it.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for pause in (0, 3.5):
                time.sleep(pause)
                connection.request("GET", "/healthz")
                answer = connection.getresponse()
                answer.read()
                assert answer.status == 200
                assert connection.sock is not None  # the same socket, kept open
        finally:
            connection.close()
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_setting_that_is_not_a_number_stops_gunicorn_with_its_name(tmp_path: Path) -> None:
    env = environment_of({"WORKERS": "many"})
    done = subprocess.run(
        [GUNICORN, "-c", "python:smart_app.gunicorn_conf", "--check-config", "smart_app:create_app()"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "SMART_APP_WORKERS must be a whole number" in done.stdout + done.stderr


def test_warming_a_worker_builds_the_validators_and_compiles_the_templates() -> None:
    from flask import Flask

    from smart_app.fhir import lenient
    from smart_app.fhir.record import RECORD_INCLUDED_TYPES, RECORD_TYPES
    from smart_app.web.services import warm_up

    app = Flask("smart_app")
    verdicts_before = len(lenient.VERDICTS)
    warm_up(app)
    built = {*RECORD_TYPES, *RECORD_INCLUDED_TYPES}
    assert all(lenient._model_class(resource_type) is not None for resource_type in built)
    assert lenient._model_class.cache_info().currsize >= len(built)
    cached = {key[1] for key in app.jinja_env.cache or {}}
    assert {"patient.html", "home.html", "error.html"} <= cached
    assert len(lenient.VERDICTS) == verdicts_before  # the warm-up's made-up resources are not kept

"""gunicorn settings for the app: `gunicorn -c python:smart_app.gunicorn_conf 'smart_app:create_app()'`.

Each is an environment variable with a default that fits the machine (command-line flags still override):

- `SMART_APP_WORKERS`: worker processes; default one per core. A worker runs Python under one GIL, so CPU work
  (record validation, the check, the report PDF) uses one core per worker; more workers than cores only adds
  memory and cold caches.
- `SMART_APP_THREADS`: threads per worker (gthread); default 16. Threads cover the waits on the EHR: a launch
  spends most of its time waiting for FHIR answers, so 16 threads keep a core busy; more only queue on the GIL.
- `SMART_APP_BIND`: default `127.0.0.1:8000` (put a TLS-terminating proxy in front).
- `SMART_APP_WORKER_TIMEOUT`: seconds before a silent worker is restarted; default 120.
- `SMART_APP_KEEPALIVE`: seconds an idle keep-alive connection stays open; default 75, longer than a load
  balancer's or browser's idle timeout (often 60 s): gunicorn's own default, 2 s, closes connections a client is
  about to reuse, and a request sent at that moment fails ("connection aborted", as many did in the benchmark).
"""

from __future__ import annotations

import os
from typing import Any


def _int_setting(name: str, default: int) -> int:
    value = os.environ.get(f"SMART_APP_{name}", "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"SMART_APP_{name} must be a whole number ≥ 1, not {value!r}")
    return int(value)


workers = _int_setting("WORKERS", os.cpu_count() or 1)
threads = _int_setting("THREADS", 16)
worker_class = "gthread"
bind = [os.environ.get("SMART_APP_BIND", "127.0.0.1:8000")]
timeout = _int_setting("WORKER_TIMEOUT", 120)
keepalive = _int_setting("KEEPALIVE", 75)
backlog = 2048


def post_worker_init(worker: Any) -> None:
    """Warm the worker (validators, report renderer, templates) before it accepts requests."""
    from flask import Flask

    from smart_app.web.services import warm_up

    if isinstance(worker.wsgi, Flask):
        warm_up(worker.wsgi)
    import gc

    gc.collect()
    gc.freeze()

"""The periodic purge, run by the web app itself: no scheduler process needed, and N workers on M machines purge
about once per `PURGE_INTERVAL_SECONDS` in all.

Each process looks at most once per interval (a timer in memory); when it looks, it tries to claim the run in the
database (`store.maintenance.claim_run`: one conditional UPDATE, one winner). The winner purges before serving
that request (a few DELETEs on indexed columns). A failed purge is logged and retried at the next interval; the
request is served either way.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from smart_app.store.maintenance import claim_run
from smart_app.store.purge import Lifetimes, purge
from smart_app.web.services import services

logger = logging.getLogger(__name__)

PURGE_JOB = "purge"


def init_app(app: Flask) -> None:
    interval = float(app.config.get("PURGE_INTERVAL_SECONDS") or 0)
    if interval <= 0:
        return
    lifetimes = Lifetimes.from_settings(app.config)
    next_look = [0.0]
    guard = threading.Lock()

    @app.before_request
    def purge_when_due() -> None:
        app_services = services()
        now = app_services.clock()
        with guard:
            if now < next_look[0]:
                return
            next_look[0] = now + interval
        try:
            if claim_run(app_services.database, PURGE_JOB, now=now, every_seconds=interval):
                counts = purge(app_services.database, lifetimes, now=now)
                logger.info("purge: %d expired rows deleted (%s)", counts.total(), counts)
        except Exception as error:  # the request is served anyway; the next interval tries again
            logger.warning("purge failed: %s", type(error).__name__)

"""Every seed scenario, in load order: ready facet pathways, pars, failing facet cases, side and level cases,
the messy record."""

from __future__ import annotations

from smart_app.sandbox.seed.scenarios import facet_failing, facet_ready, messy, pars, sides
from smart_app.sandbox.seed.spec import Scenario

ALL_SCENARIOS: tuple[Scenario, ...] = (
    *facet_ready.SCENARIOS,
    *pars.SCENARIOS,
    *facet_failing.SCENARIOS,
    *sides.SCENARIOS,
    *messy.SCENARIOS,
)

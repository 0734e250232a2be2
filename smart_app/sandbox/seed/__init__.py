"""Seed patients for the sandbox EHR: synthetic spine records written by us, one per pathway and edge case.

- `seed_bundles()`: (name, transaction Bundle) pairs, the sandbox user's bundle first.
- `seed_patients()`: each patient's id, names, scenario, pathway and the request to try.
- `seed_server(fhir_base, *, token=None)`: load them into a FHIR server (idempotent).
- `build_large_record(n)`: one very large record for benchmarks (not part of the seed).

The JSON under `bundles/` and `cases.json` is generated from the scenario code by
`python -m smart_app.sandbox.seed.generate`.
"""

from __future__ import annotations

from smart_app.sandbox.seed.catalog import SeedPatient, acceptance_cases, scenario_names, seed_bundles, seed_patients
from smart_app.sandbox.seed.large import build_large_record
from smart_app.sandbox.seed.loader import SeedLoadError, post_transaction, seed_server

__all__ = [
    "SeedLoadError",
    "SeedPatient",
    "acceptance_cases",
    "build_large_record",
    "post_transaction",
    "scenario_names",
    "seed_bundles",
    "seed_patients",
    "seed_server",
]

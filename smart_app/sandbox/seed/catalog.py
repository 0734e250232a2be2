"""The seed catalog: bundles to load, the patients they hold, and our own acceptance cases.

`seed_bundles()` builds every bundle from the scenario code (the sandbox user's bundle first);
the JSON committed under `bundles/` is the same output written by `python -m smart_app.sandbox.seed.generate`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from smart_app.sandbox.seed.builder import RecordBuilder
from smart_app.sandbox.seed.sandbox_user import SANDBOX_USER_BUNDLE_NAME, sandbox_user_bundle
from smart_app.sandbox.seed.scenarios import ALL_SCENARIOS
from smart_app.sandbox.seed.spec import Scenario

BUNDLE_DIR_NAME = "bundles"


@dataclass(frozen=True)
class SeedPatient:
    """What the sandbox launch page and `smart-app seed --list` show for one seed patient."""

    id: str
    name: str  # the scenario name, also the bundle name and the acceptance case name
    display_name: str
    scenario: str
    pathway: str
    expected_verdict: str
    payer: str
    request: Mapping[str, str]  # the `args` of the acceptance case
    cli_args: tuple[str, ...]  # the same request as `smart-app check` flags

    @property
    def reference(self) -> str:
        return f"Patient/{self.id}"


def bundle_filename(name: str) -> str:
    return f"{name}.bundle.json"


def build_scenario(scenario: Scenario) -> RecordBuilder:
    builder = RecordBuilder(scenario.name, scenario.person, scenario.payer)
    scenario.write(builder)
    return builder


def scenario_names() -> list[str]:
    return [scenario.name for scenario in ALL_SCENARIOS]


def _selected(only: Iterable[str] | None) -> list[Scenario]:
    if only is None:
        return list(ALL_SCENARIOS)
    wanted = list(dict.fromkeys(only))
    known = {scenario.name: scenario for scenario in ALL_SCENARIOS}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise KeyError(f"unknown seed patient {', '.join(unknown)}; see `smart-app seed --list`")
    return [scenario for scenario in ALL_SCENARIOS if scenario.name in wanted]


def seed_bundles(only: Iterable[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(name, transaction Bundle) pairs in load order: the sandbox user's bundle, then one per patient
    (all of them, or those named in `only`; an unknown name raises KeyError)."""
    patients = [(scenario.name, build_scenario(scenario).bundle()) for scenario in _selected(only)]
    return [(SANDBOX_USER_BUNDLE_NAME, sandbox_user_bundle()), *patients]


def _seed_patient(scenario: Scenario, patient_id: str) -> SeedPatient:
    return SeedPatient(
        id=patient_id,
        name=scenario.name,
        display_name=scenario.person.display_name,
        scenario=scenario.label,
        pathway=scenario.pathway,
        expected_verdict=str(scenario.expected["verdict"]),
        payer=scenario.payer.display,
        request=scenario.request.args(),
        cli_args=scenario.request.cli_args(),
    )


def seed_patients(only: Iterable[str] | None = None) -> list[SeedPatient]:
    """Every seed patient (or those named in `only`) with the request to try, in load order."""
    return [_seed_patient(scenario, RecordBuilder.patient_id_for(scenario.name)) for scenario in _selected(only)]


def acceptance_cases() -> list[dict[str, Any]]:
    """Our acceptance cases in the format of ../shared/cases/cases.json; `bundle` is relative to cases.json."""
    cases = []
    for scenario in ALL_SCENARIOS:
        expected = {"verdict": scenario.expected["verdict"], "pathway": scenario.pathway}
        expected.update({key: value for key, value in scenario.expected.items() if key != "verdict"})
        cases.append(
            {
                "name": scenario.name,
                "bundle": f"{BUNDLE_DIR_NAME}/{bundle_filename(scenario.name)}",
                "patient": f"Patient/{RecordBuilder.patient_id_for(scenario.name)}",
                "args": scenario.request.args(),
                "expected": expected,
            }
        )
    return cases

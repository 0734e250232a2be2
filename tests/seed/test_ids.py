"""Ids, dates and business identifiers are deterministic and well formed."""

from __future__ import annotations

import json
import uuid

import pytest

from smart_app.sandbox.constants import SANDBOX_ORGANIZATION_ID, SANDBOX_PRACTITIONER_ID
from smart_app.sandbox.seed import seed_bundles, seed_patients
from smart_app.sandbox.seed.identifiers import commercial_member_id, medicare_mbi, npi_with_check_digit
from smart_app.sandbox.seed.ids import SEED_NAMESPACE, seed_uuid
from smart_app.sandbox.seed.timeline import day, moment
from tests.seed.records import resources


def test_building_twice_gives_identical_json() -> None:
    assert json.dumps(seed_bundles()) == json.dumps(seed_bundles())


def test_namespace_is_the_documented_uuid5() -> None:
    assert uuid.uuid5(uuid.NAMESPACE_URL, "https://spine-auth.example/sandbox/seed") == SEED_NAMESPACE


def test_patient_ids_are_uuid5_of_the_scenario_name() -> None:
    for patient in seed_patients():
        assert patient.id == str(uuid.uuid5(SEED_NAMESPACE, f"{patient.name}/Patient"))


def test_every_generated_id_is_a_version_5_uuid() -> None:
    fixed = {SANDBOX_PRACTITIONER_ID, SANDBOX_ORGANIZATION_ID}
    for _, bundle in seed_bundles():
        for resource in resources(bundle):
            if resource["id"] not in fixed:
                assert uuid.UUID(resource["id"]).version == 5


def test_seed_uuid_refuses_empty_names() -> None:
    with pytest.raises(ValueError):
        seed_uuid("scenario", "")
    assert seed_uuid("a", "b") != seed_uuid("a", "c")


def test_dates_are_absolute_offsets_from_the_anchor() -> None:
    assert day(0) == "2026-11-15"
    assert day(-30) == "2026-10-16"
    assert moment(-1, "07:30") == "2026-11-14T07:30:00-05:00"
    with pytest.raises(ValueError):
        moment(0, "25:00")


def test_npi_check_digit_matches_the_published_example() -> None:
    assert npi_with_check_digit("123456789") == "1234567893"


def test_member_ids_have_the_expected_shapes() -> None:
    mbi = medicare_mbi("some-scenario")
    assert len(mbi) == 11 and mbi[0] in "123456789" and mbi[3].isdigit() and mbi[1].isalpha()
    assert not set(mbi) & set("SLOIBZ")
    assert commercial_member_id("x").startswith("BBH") and len(commercial_member_id("x")) == 12
    assert medicare_mbi("a") != medicare_mbi("b")

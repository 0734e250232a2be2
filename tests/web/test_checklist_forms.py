"""The request as the web reads it (query, form or JSON): canonical values, one message per bad field, a stable
key for attestations. Pure: no app, no server."""

from __future__ import annotations

from datetime import date

import pytest
from werkzeug.datastructures import MultiDict

from smart_app.core.model import CheckRequest
from smart_app.web.forms import FORM_ERROR, attribute_message, read_check_form, values_from_multidict

TODAY = date(2026, 11, 21)
PAYERS = frozenset({"medicare", "aetna", "bcbs-nd"})


def test_a_valid_request_is_the_same_request_the_cli_builds() -> None:
    form = read_check_form(
        {"procedure": "Medial-Branch-Block", "intent": "diagnostic", "levels": ["l5/s1", "L4-5"], "side": "left"},
        today=TODAY,
        payers=PAYERS,
    )
    assert form.valid
    assert form.request == CheckRequest.build(
        procedure="medial-branch-block", intent="diagnostic", levels="L4-L5,L5-S1", side="left"
    )
    assert form.values["levels"] == "L4-L5,L5-S1"
    assert form.as_of == TODAY and form.values["as_of"] == "2026-11-21"
    assert form.payer_from_record
    assert form.query(run="1").startswith("procedure=medial-branch-block&intent=diagnostic&levels=L4-L5%2CL5-S1")


def test_checkboxes_and_free_text_levels_combine() -> None:
    data = MultiDict([("procedure", "pars-injection"), ("side", "bilateral"), ("levels", "L3"), ("level", "L5")])
    form = read_check_form(values_from_multidict(data), today=TODAY, payers=PAYERS)
    assert form.valid
    assert form.request is not None and form.request.levels == ("L3", "L5")
    assert form.request.intent == "diagnostic"


def test_every_bad_field_gets_its_own_message() -> None:
    form = read_check_form(
        {"procedure": "acupuncture", "side": "", "levels": "", "as_of": "tomorrow", "payer": "acme", "sedation": "x"},
        today=TODAY,
        payers=PAYERS,
    )
    assert not form.valid
    assert set(form.errors) == {"procedure", "side", "levels", "as_of", "payer", "sedation"}
    assert "medial-branch-block" in form.errors["procedure"]
    assert "YYYY-MM-DD" in form.errors["as_of"]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"procedure": "facet-injection", "levels": "L4-L5", "side": "left"}, "intent", "Intent (diagnostic"),
        (
            {"procedure": "pars-injection", "levels": "L5", "side": "left", "technique": "cryo"},
            "technique",
            "Technique applies",
        ),
        (
            {"procedure": "radiofrequency-ablation", "intent": "diagnostic", "levels": "L4-L5", "side": "left"},
            "intent",
            "therapeutic; intent diagnostic does not apply",
        ),
        ({"procedure": "medial-branch-block", "intent": "diagnostic", "levels": "L5", "side": "left"}, "levels", ""),
        ({"procedure": "pars-injection", "levels": "S1", "side": "left"}, "levels", "Pars level must be"),
    ],
)
def test_the_cores_rules_about_the_request_land_on_their_field(fields: dict, field: str, words: str) -> None:
    form = read_check_form(fields, today=TODAY, payers=PAYERS)
    assert list(form.errors) == [field]
    assert words in form.errors[field]
    assert "--" not in form.errors[field]


def test_messages_without_a_flag_belong_to_the_form() -> None:
    assert attribute_message("the record holds no Patient") == (FORM_ERROR, "The record holds no Patient.")
    assert attribute_message("--intent is required") == ("intent", "Intent is required.")


def test_non_text_values_and_long_values_are_refused() -> None:
    form = read_check_form(
        {"procedure": ["pars-injection"], "levels": "L5", "side": "x" * 500}, today=TODAY, payers=PAYERS
    )
    assert form.errors["procedure"] == "Give this field as text."
    assert "Too long" in form.errors["side"]


def test_the_key_follows_the_request_and_the_date_not_the_spelling() -> None:
    base = {"procedure": "medial-branch-block", "intent": "diagnostic", "side": "left", "as_of": "2026-11-15"}
    one = read_check_form({**base, "levels": "L4-5,L5/S1"}, today=TODAY, payers=PAYERS)
    same = read_check_form({**base, "levels": ["L5-S1", "L4-L5"]}, today=TODAY, payers=PAYERS)
    other_side = read_check_form({**base, "levels": "L4-L5,L5-S1", "side": "right"}, today=TODAY, payers=PAYERS)
    other_day = read_check_form({**base, "levels": "L4-L5,L5-S1", "as_of": "2026-11-16"}, today=TODAY, payers=PAYERS)
    other_payer = read_check_form({**base, "levels": "L4-L5,L5-S1", "payer": "aetna"}, today=TODAY, payers=PAYERS)
    assert one.key() == same.key()
    assert len({one.key(), other_side.key(), other_day.key(), other_payer.key()}) == 4
    with pytest.raises(ValueError, match="no key"):
        read_check_form({}, today=TODAY, payers=PAYERS).key()

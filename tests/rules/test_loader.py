"""Policies and payer profiles: the packaged files load and validate; broken files are refused with a clear reason;
a new policy and payer need no code."""

from __future__ import annotations

import shutil
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from smart_app.core.checklist import evaluate
from smart_app.core.facts import CoverageFact, extract_facts
from smart_app.core.model import CheckRequest, InvalidRequest
from smart_app.core.operators import OPERATORS
from smart_app.rules.loader import RulesError, RuleSet, load_rules, read_rules

PACKAGED = Path(str(resources.files("smart_app.rules")))


def copy_rules(tmp_path: Path) -> tuple[Path, Path]:
    policies, payers = tmp_path / "policies", tmp_path / "payers"
    shutil.copytree(PACKAGED / "policies", policies)
    shutil.copytree(PACKAGED / "payers", payers)
    return policies, payers


def edit(path: Path, change: Any) -> None:
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def test_the_packaged_rules_load_with_every_criterion_and_payer() -> None:
    rules = load_rules()
    assert sorted(rules.payers) == ["aetna", "bcbs-nd", "medicare"]
    facet = rules.policy_for("medial-branch-block", rules.payer("medicare"))
    assert (facet.id, facet.version, facet.effective) == ("medicare-facet-l38773", "32", date(2026, 7, 23))
    for pathway in facet.pathways:
        for criterion in facet.criteria_for(pathway):
            assert criterion.rule.operator in OPERATORS
            assert criterion.source and criterion.text
    pars = rules.policy_for("pars-injection", rules.payer("medicare"))
    assert pars.outlook is not None and pars.outlook.modifiers[0].rate == 0.70


def test_every_criterion_and_warning_cites_a_public_source_and_says_whose_rule_it_is() -> None:
    rules = load_rules()
    facet = rules.policy_for("medial-branch-block", rules.payer("medicare"))
    pars = rules.policy_for("pars-injection", rules.payer("medicare"))
    for policy, authority in ((facet, "payer"), (pars, "clinical")):
        citations = [c.citation for c in policy.criteria.values()]
        citations += [a.citation for a in policy.advisories] + [n.citation for n in policy.notices]
        assert all(citations), policy.id
        # Internal file names and our row ids stay in `source`; the citation is what a clinician can look up.
        assert not [c for c in citations if "policy-rules" in c or "S1" in c.split() or ".md" in c]
        assert {c.authority for c in policy.criteria.values()} == {authority}
    assert facet.criteria["RFA-01"].citation.startswith("LCD L38773")
    for payer in rules.payers.values():
        for policy in (rules.policy_for("medial-branch-block", payer), rules.policy_for("pars-injection", payer)):
            shown = policy.describe()["citation"]
            assert "policy-rules" not in shown and ".md" not in shown, (payer.id, shown)
    assert "Kajdi" in pars.criteria["PARS-06"].citation


def test_payer_overrides_are_resolved_into_the_rules() -> None:
    rules = load_rules()
    medicare = rules.policy_for("radiofrequency-ablation", rules.payer("medicare"))
    bcbs = rules.policy_for("radiofrequency-ablation", rules.payer("BCBS-ND"))
    assert medicare.criteria["RFA-01"].rule.params["min_relief"] == 80
    assert bcbs.criteria["RFA-01"].rule.params["min_relief"] == 50
    assert bcbs.criteria["RFA-02"].rule.params["min_months_since_last"] == 6
    assert "$" not in repr(bcbs.criteria)  # no unresolved parameter is left


def test_an_unknown_payer_is_bad_input() -> None:
    with pytest.raises(InvalidRequest, match="unknown payer 'acme'; known: aetna, bcbs-nd, medicare"):
        load_rules().payer("acme")


@pytest.mark.parametrize(
    ("names", "payer"),
    [
        (("Medicare Part B",), "medicare"),
        (("Aetna Choice POS II",), "aetna"),
        (("Blue Cross Blue Shield of North Dakota",), "bcbs-nd"),
        (("Acme Health PPO",), None),
    ],
)
def test_coverage_recognition(names: tuple[str, ...], payer: str | None) -> None:
    found = load_rules().recognise([CoverageFact("Coverage/1", names, True, None)])
    assert (found.id if found else None) == payer


def test_the_first_active_coverage_in_order_wins() -> None:
    coverages = [
        CoverageFact("Coverage/old", ("Aetna",), False, 1),
        CoverageFact("Coverage/second", ("Aetna",), True, 2),
        CoverageFact("Coverage/first", ("Medicare",), True, 1),
    ]
    found = load_rules().recognise(coverages)
    assert found is not None and found.id == "medicare"


# --- broken files are refused, naming the file and the key ----------------------------------------------------

FACET = "medicare-facet-l38773.yaml"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("citation"), "'citation' is a required property"),
        (lambda d: d.update(effective="26-07-2026"), "effective"),
        (
            lambda d: d["criteria"]["GEN-11"]["rule"].update(operator="guess"),
            "criteria.GEN-11.rule: unknown operator 'guess'",
        ),
        (
            lambda d: d["criteria"]["GEN-13"]["rule"]["params"].update(most=2),
            "criteria.GEN-13.rule: operator request_count_at_most has no parameter 'most'",
        ),
        (lambda d: d["criteria"]["GEN-13"]["rule"]["params"].pop("max"), "needs parameter 'max'"),
        (
            lambda d: d["criteria"]["GEN-13"]["rule"]["params"].update(max="$most_levels"),
            "$most_levels is not a declared",
        ),
        (
            lambda d: d["criteria"]["GEN-01"]["rule"]["params"]["parts"][1]["params"].update(min="$nope"),
            "criteria.GEN-01.rule.parts[1]: $nope is not a declared parameter",
        ),
        (lambda d: d["pathways"]["rfa-initial"].append("RFA-09"), "rfa-initial: criterion RFA-09 is not defined"),
        (lambda d: d["criteria"]["GEN-01"].pop("source"), "'source' is a required property"),
        (lambda d: d["pathways"].update({"facet-other": []}), "facet-other"),
    ],
)
def test_a_broken_policy_is_refused(tmp_path: Path, change: Any, message: str) -> None:
    policies, payers = copy_rules(tmp_path)
    edit(policies / FACET, change)
    with pytest.raises(RulesError) as caught:
        read_rules(policies, payers)
    assert str(caught.value).startswith(f"policies/{FACET}")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["parameters"]["medicare-facet-l38773"].update(max_levelz=3), "declares no such parameter"),
        (lambda d: d["parameters"].update({"other-policy": {"x": 1}}), "not one of this payer's policies"),
        (lambda d: d["policies"].update(pars="medicare-facet-l38773"), "governs facet requests"),
        (lambda d: d["coding"].update(bilateral="both"), "coding:"),
        (lambda d: d["recognise"].append("(unclosed"), "recognise[1]"),
        (lambda d: d.update(kind="medicaid"), "kind"),
    ],
)
def test_a_broken_payer_is_refused(tmp_path: Path, change: Any, message: str) -> None:
    policies, payers = copy_rules(tmp_path)
    edit(payers / "aetna.yaml", change)
    with pytest.raises(RulesError, match=r"^payers/aetna\.yaml") as caught:
        read_rules(policies, payers)
    assert message in str(caught.value)


def test_not_yaml_duplicate_ids_and_a_missing_default_payer(tmp_path: Path) -> None:
    policies, payers = copy_rules(tmp_path)
    (policies / "broken.yaml").write_text("id: [unclosed\n")
    with pytest.raises(RulesError, match=r"policies/broken\.yaml: not valid YAML"):
        read_rules(policies, payers)
    (policies / "broken.yaml").unlink()
    shutil.copy(payers / "aetna.yaml", payers / "aetna-copy.yaml")
    with pytest.raises(RulesError, match="payer id 'aetna' is used twice"):
        read_rules(policies, payers)
    (payers / "aetna-copy.yaml").unlink()
    (payers / "medicare.yaml").unlink()
    with pytest.raises(RulesError, match="default payer profile 'medicare' is missing"):
        read_rules(policies, payers)


# --- a new policy needs no code ------------------------------------------------------------------------------

NEW_POLICY = """
schema: policy/v1
id: acme-facet-2026
version: "2026.1"
title: Acme Health facet injections
citation: Acme Health medical policy MP-12 (hypothetical, for the test)
effective: "2026-01-01"
authority: payer
family: facet
parameters: {pain: 6, care_days: 30}
shared_criteria: [GEN-01, GEN-03, GEN-11]
pathways:
  facet-diagnostic-first: []
  facet-diagnostic-confirmatory: [DX2-02]
  facet-therapeutic: []
  rfa-initial: []
  rfa-repeat: []
criteria:
  GEN-01:
    text: Axial pain of 6/10 or more
    source: MP-12 1.a
    citation: Acme Health medical policy MP-12, section 1.a
    rule:
      operator: all_of
      params:
        parts:
          - {operator: diagnosis_present, params: {categories: [axial]}}
          - {operator: score_at_least, params: {kind: pain, min: $pain, max_age_months: 6}}
  GEN-03:
    text: 30 days of conservative care
    source: MP-12 1.b
    citation: Acme Health medical policy MP-12, section 1.b
    rule: {operator: conservative_care, params: {kinds: [therapy, analgesic], min_days: $care_days}}
  GEN-11:
    text: Fluoroscopy or CT
    source: MP-12 2
    citation: Acme Health medical policy MP-12, section 2
    rule: {operator: request_in, params: {field: guidance, values: [fluoroscopy, ct]}}
  DX2-02:
    text: First block gave 60 percent relief
    source: MP-12 3
    citation: Acme Health medical policy MP-12, section 3
    rule: {operator: prior_blocks_relief, params: {kinds: [mbb], count: 1, min_relief: 60}}
"""

NEW_PAYER = """
schema: payer/v1
id: acme
title: Acme Health
kind: commercial
source: Acme Health MP-12
citation: Acme Health medical policy MP-12
policies: {facet: acme-facet-2026, pars: spine-auth-pars}
parameters: {acme-facet-2026: {pain: 5}}
coding: {bilateral: rt-lt-lines, kx_on_diagnostic: false}
recognise: ['\\bacme\\b']
"""


def test_a_new_policy_and_payer_are_data_only(tmp_path: Path) -> None:
    policies, payers = copy_rules(tmp_path)
    (policies / "acme-facet-2026.yaml").write_text(NEW_POLICY)
    (payers / "acme.yaml").write_text(NEW_PAYER)
    rules: RuleSet = read_rules(policies, payers)
    payer = rules.recognise([CoverageFact("Coverage/1", ("Acme Health PPO",), True, None)])
    assert payer is not None and payer.id == "acme"
    policy = rules.policy_for("medial-branch-block", payer)
    request = CheckRequest.build(procedure="medial-branch-block", levels="L4-L5", side="left", intent="diagnostic")
    icd, loinc = "http://hl7.org/fhir/sid/icd-10-cm", "http://loinc.org"
    record = [
        {"resourceType": "Patient", "id": "p"},
        {"resourceType": "Condition", "id": "c", "code": {"coding": [{"system": icd, "code": "M47.816"}]}},
        {
            "resourceType": "Observation",
            "id": "o",
            "status": "final",
            "code": {"coding": [{"system": loinc, "code": "72514-3"}]},
            "effectiveDateTime": "2026-10-01",
            "valueInteger": 5,
        },
        {
            "resourceType": "MedicationRequest",
            "id": "m",
            "status": "completed",
            "medicationCodeableConcept": {"text": "naproxen"},
            "authoredOn": "2026-08-01",
        },
    ]
    facts = extract_facts(record, patient_id="p", as_of=date(2026, 11, 15))
    result = evaluate(policy, request, facts, as_of=date(2026, 11, 15))
    assert [(c.id, c.status) for c in result.criteria] == [("GEN-01", "met"), ("GEN-03", "unknown"), ("GEN-11", "met")]
    assert result.policy["id"] == "acme-facet-2026" and "pain=5" in result.policy["citation"]

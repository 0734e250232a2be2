"""The known gaps of HAPI JPA's `$validate`, on top of tests/packet/validation.py's. HAPI's server validator has no
CPT, X12, CMS place-of-service, ICD-10-CM or LOINC content and reports unknown code systems as errors (H6's
command-line validator reports them as warnings), and it does not resolve the version-pinned R4 core profiles
(`…/StructureDefinition/Patient|4.0.1`) that US Core 7 reference targets name. Profile-choice and reference-target
failures are counted as gaps only when every other error of the Bundle is a gap."""

from __future__ import annotations

import re
from typing import Any

from tests.packet.validation import ALTERNATIVE, CHOICE_CASCADE, XVER_GAP

UNAVAILABLE_SYSTEMS = ("http://www.ama-assn.org/go/cpt", "https://codesystem.x12.org/", "http://loinc.org",
                       "https://www.cms.gov/Medicare/Coding/place-of-service-codes/", "http://hl7.org/fhir/sid/icd-10-cm",
                       "http://nucc.org/")  # fmt: skip
CASCADE = (*CHOICE_CASCADE, "Unable to find a profile match for", ALTERNATIVE)
CORE_PINNED = re.compile(
    r"Unable to resolve the profile reference 'http://hl7\.org/fhir/StructureDefinition/\w+\|4\.0\.1'"
)
EMPTY_TARGETS = re.compile(r"Invalid Resource target type\. Found \w+, but expected one of \(\[\]\)")


def _terminology_gap(text: str) -> bool:
    unknown = re.match(r"(CodeSystem is unknown and can't be validated|Unable to expand ValueSet because CodeSystem "
                       r"could not be found): (\S+)", text)  # fmt: skip
    if unknown:
        return unknown.group(2).startswith(UNAVAILABLE_SYSTEMS)
    codes = re.search(r"None of the codings provided are in the value set .*\(codes = ([^)]*)\)", text)
    return bool(codes) and all(code.strip().startswith(UNAVAILABLE_SYSTEMS) for code in codes.group(1).split(","))


def _gap(text: str) -> bool:
    return XVER_GAP in text or _terminology_gap(text) or bool(CORE_PINNED.search(text) or EMPTY_TARGETS.search(text))


def hapi_unexpected_errors(outcome: dict[str, Any]) -> list[str]:
    issues = [i for i in outcome.get("issue", []) if i.get("severity") in ("error", "fatal")]
    described = [(f"{(i.get('expression') or [''])[0]}: {i.get('diagnostics', '')}", str(i.get("diagnostics", "")))
                 for i in issues]  # fmt: skip
    left = [where for where, text in described if not any(m in text for m in CASCADE) and not _gap(text)]
    if left:
        return left + [where for where, text in described if any(m in text for m in CASCADE)]
    return []

"""HAPI FHIR's validator (tools/fhir-validator, built once by `make fhir-validator`) over many files in one JVM,
and the exact list of known gaps we tolerate (../shared/data/README.md): packages PAS names that are not shipped
(here: the R5 cross-version extensions package behind PAS's Claim.encounter slice) and terminology no public
validator has (X12, and CPT/LOINC/ICD-10-CM/CMS POS/NUCC, which the validator reports as warnings)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.conftest import DATA_DIR

PROJECT = Path(__file__).resolve().parents[2]
JAR = PROJECT / "tools/fhir-validator/target/fhir-validator.jar"
IGS = DATA_DIR / "igs"
PACKAGES = ("hl7.fhir.us.core-7.0.0", "hl7.fhir.us.davinci-pas-2.2.1", "hl7.fhir.us.davinci-dtr-2.0.1",
            "hl7.fhir.us.davinci-crd-2.0.1")  # fmt: skip
XVER_GAP = "Unable to resolve profile CanonicalType[http://hl7.org/fhir/5.0/StructureDefinition/extension-"
CHOICE_CASCADE = ("did not match any of the allowed profiles", "Unable to find a match for the specified profile among")
ALTERNATIVE = "profile-claim-update|2.2.1"  # the other Claim choice of the PAS Bundle (an update, which ours is not)


def validate(files: Sequence[Path]) -> dict[str, dict[str, Any]]:
    if not JAR.exists():
        subprocess.run(["make", "-C", str(PROJECT), "fhir-validator"], check=True, capture_output=True)
    args = ["java", "-Xss4m", "-XX:+UseSerialGC", "-jar", str(JAR)]
    for name in PACKAGES:
        args += ["--ig", str(IGS / f"{name}.tgz")]
    args += ["--profiles", str(PROJECT / "fhir_profiles"), *map(str, files)]
    done = subprocess.run(args, check=True, capture_output=True, text=True, timeout=1200)
    return dict(json.loads(done.stdout))


def unexpected_errors(outcome: dict[str, Any]) -> list[str]:
    """Errors that are not known gaps. A profile-choice failure on a Bundle entry counts as a gap only when every
    error of that entry against the profile it claims is itself a gap."""
    issues = [i for i in outcome.get("issue", []) if i.get("severity") in ("error", "fatal")]
    left = []
    for issue in issues:
        text = str(issue.get("diagnostics", ""))
        where = (issue.get("expression") or [""])[0]
        if XVER_GAP in text:
            continue
        if any(marker in text for marker in CHOICE_CASCADE) or ALTERNATIVE in text:
            entry = re.match(r"Bundle\.entry\[\d+\]", where)
            own = [
                other for other in issues
                if entry and (other.get("expression") or [""])[0].startswith(entry.group(0))
                and ALTERNATIVE not in str(other.get("diagnostics"))
                and not any(marker in str(other.get("diagnostics")) for marker in CHOICE_CASCADE)
            ]  # fmt: skip
            if entry and own and all(XVER_GAP in str(other.get("diagnostics")) for other in own):
                continue
        left.append(f"{where}: {text}")
    return left


def warnings_of(outcome: dict[str, Any]) -> list[str]:
    return [str(i.get("diagnostics")) for i in outcome.get("issue", []) if i.get("severity") == "warning"]

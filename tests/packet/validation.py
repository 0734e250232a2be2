"""HAPI FHIR's validator (tools/fhir-validator, built once by `make fhir-validator`) over many files in one JVM,
and the exact list of known gaps we tolerate (../shared/data/README.md): packages PAS names that are not shipped
(here: the R5 cross-version extensions package behind PAS's Claim.encounter slice) and terminology no public
validator has (X12, and CPT/LOINC/ICD-10-CM/CMS POS/NUCC, which the validator reports as warnings). The list
itself lives in smart_app/sandbox/payer/known_gaps.py: the sandbox payer tolerates exactly the same gaps."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smart_app.sandbox.payer.known_gaps import ALTERNATIVE, CHOICE_CASCADE, XVER_GAP, unexpected_errors
from tests.conftest import DATA_DIR

__all__ = ["ALTERNATIVE", "CHOICE_CASCADE", "XVER_GAP", "unexpected_errors", "validate", "warnings_of"]

PROJECT = Path(__file__).resolve().parents[2]
JAR = PROJECT / "tools/fhir-validator/target/fhir-validator.jar"
IGS = DATA_DIR / "igs"
PACKAGES = ("hl7.fhir.us.core-7.0.0", "hl7.fhir.us.davinci-pas-2.2.1", "hl7.fhir.us.davinci-dtr-2.0.1",
            "hl7.fhir.us.davinci-crd-2.0.1")  # fmt: skip


def validate(files: Sequence[Path]) -> dict[str, dict[str, Any]]:
    if not JAR.exists():
        subprocess.run(["make", "-C", str(PROJECT), "fhir-validator"], check=True, capture_output=True)
    args = ["java", "-Xss4m", "-XX:+UseSerialGC", "-jar", str(JAR)]
    for name in PACKAGES:
        args += ["--ig", str(IGS / f"{name}.tgz")]
    args += ["--profiles", str(PROJECT / "fhir_profiles"), *map(str, files)]
    done = subprocess.run(args, check=True, capture_output=True, text=True, timeout=1200)
    return dict(json.loads(done.stdout))


def warnings_of(outcome: dict[str, Any]) -> list[str]:
    return [str(i.get("diagnostics")) for i in outcome.get("issue", []) if i.get("severity") == "warning"]

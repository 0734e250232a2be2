"""CPT and ICD-10 coding of the requested procedure (placeholder: the real coder replaces this module)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from smart_app.core.model import CheckRequest, Diagnosis, Warning


@dataclass
class CodingResult:
    lines: list[dict[str, Any]] = field(default_factory=list)
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": list(self.lines),
            "alternatives": list(self.alternatives),
            "warnings": [warning.to_json() for warning in self.warnings],
        }


def code_request(
    request: CheckRequest,
    diagnoses: Sequence[Diagnosis],
    table: Mapping[str, Any],
    conventions: Mapping[str, Any] | None = None,
) -> CodingResult:
    return CodingResult()

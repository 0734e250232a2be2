"""Lenient reading of resources from an EHR: keep what can be used, say what is wrong, never stop on one bad one.

Every resource is validated with the fhir.resources R4B model of its type. A resource R4B rejects (a dateTime
without a timezone, an unknown element, an extension without url, …) is still kept as raw JSON when it has a
resourceType and an id, with a warning naming its reference and the problem (element paths and messages only,
never the offending values). Unusable ones (not a JSON object, no resourceType or id, another patient's
resource) are skipped with the reason. The checklist reads raw JSON and tolerates odd fields, so a warning is
all an R4B rejection costs.

CPU: R4B validation costs about 0.08 ms per resource (0.16 s for a 2,000-resource record). The record fetch runs
it inside its worker threads as each type's pages arrive, so it overlaps with the other types' network waits.
A launch reads the same record for the summary, the check and the save, so each verdict is kept per process,
keyed by a digest of the resource's canonical JSON (the same content gets the same verdict; a changed resource
a new digest). The cache holds digests and problem texts (element paths and messages), never resource values.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

_MAX_REPORTED_ERRORS = 3
_PATIENT_REFERENCE = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
# The elements that tie a resource to its patient, in the order they are checked.
_PATIENT_ELEMENTS = ("subject", "patient", "beneficiary")


@dataclass(frozen=True)
class Screening:
    """The verdict on one resource: `kept` (possibly with a `warning`), or skipped with `skip_reason`."""

    reference: str
    kept: dict[str, Any] | None
    warning: str | None = None
    skip_reason: str | None = None


def reference_of(resource: Any) -> str:
    """`Type/id` as far as it can be told, for messages."""
    if not isinstance(resource, dict):
        return "(not a resource)"
    resource_type = resource.get("resourceType") if isinstance(resource.get("resourceType"), str) else "?"
    resource_id = resource.get("id") if isinstance(resource.get("id"), str) else "?"
    return f"{resource_type}/{resource_id}"


def screen_resource(raw: Any, *, patient_id: str | None = None) -> Screening:
    """Decide whether `raw` is kept (validated with R4B) or skipped; `patient_id` rejects other patients' data."""
    reference = reference_of(raw)
    if not isinstance(raw, dict):
        return Screening(reference, None, skip_reason="not a JSON object")
    if not isinstance(raw.get("resourceType"), str) or not raw["resourceType"]:
        return Screening(reference, None, skip_reason="no resourceType")
    if not isinstance(raw.get("id"), str) or not raw["id"]:
        return Screening(reference, None, skip_reason="no id")
    if patient_id is not None:
        owner = owning_patient(raw)
        if owner is not None and owner != patient_id:
            return Screening(reference, None, skip_reason=f"belongs to another patient (Patient/{owner})")
    problem = r4b_problem(raw)
    if problem is None:
        return Screening(reference, raw)
    return Screening(reference, raw, warning=f"{reference} kept as raw JSON: R4B rejects it: {problem}")


def owning_patient(resource: dict[str, Any]) -> str | None:
    """The id of the Patient a resource belongs to (its own id for a Patient); None when it cannot be told."""
    if resource.get("resourceType") == "Patient":
        resource_id = resource.get("id")
        return resource_id if isinstance(resource_id, str) else None
    for element in _PATIENT_ELEMENTS:
        value = resource.get(element)
        reference = value.get("reference") if isinstance(value, dict) else None
        if isinstance(reference, str):
            match = _PATIENT_REFERENCE.search(reference.strip())
            if match:
                return match.group(1)
    return None


class VerdictCache:
    """A bounded, thread-safe LRU of R4B verdicts keyed by content digest (`size` 0 keeps nothing)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._verdicts: OrderedDict[bytes, str | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: bytes) -> tuple[bool, str | None]:
        with self._lock:
            if digest not in self._verdicts:
                return False, None
            self._verdicts.move_to_end(digest)
            return True, self._verdicts[digest]

    def put(self, digest: bytes, verdict: str | None) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._verdicts[digest] = verdict
            self._verdicts.move_to_end(digest)
            while len(self._verdicts) > self.size:
                self._verdicts.popitem(last=False)

    def __len__(self) -> int:
        return len(self._verdicts)


# About 100 bytes an entry: 50,000 entries are ~5 MB per process, a few dozen large records. The web app sets
# the size from its `R4B_VERDICT_CACHE_SIZE` setting.
DEFAULT_VERDICT_CACHE_SIZE = 50_000
VERDICTS = VerdictCache(DEFAULT_VERDICT_CACHE_SIZE)


def content_digest(resource: dict[str, Any]) -> bytes:
    """A digest of the resource's canonical JSON (keys sorted), the same for the same content however ordered."""
    canonical = json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).digest()


def r4b_problem(resource: dict[str, Any]) -> str | None:
    """What R4B finds wrong with a resource (paths and messages), or None when it validates (remembered per
    content digest: the same resource read again is not validated again)."""
    digest = content_digest(resource)
    known, verdict = VERDICTS.get(digest)
    if known:
        return verdict
    verdict = _validate(resource)
    VERDICTS.put(digest, verdict)
    return verdict


def warm_models(resource_types: Iterable[str]) -> None:
    """Build the R4B models' validators now (the first validation of a type costs 10-300 ms: fhir.resources
    imports the model and pydantic builds its schema), so a worker's first clinicians do not pay for it."""
    for resource_type in resource_types:
        _validate({"resourceType": resource_type, "id": "warm-up"})


def _validate(resource: dict[str, Any]) -> str | None:
    model = _model_class(resource["resourceType"])
    if model is None:
        return f"{resource['resourceType']} is not an R4B resource type"
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return _describe_validation_error(exc)
    except (TypeError, ValueError) as exc:  # fhir-core raises plain ValueErrors from some validators
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return None


@functools.cache
def _model_class(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return None


def _describe_validation_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    described = []
    for error in errors[:_MAX_REPORTED_ERRORS]:
        path = ".".join(str(part) for part in error.get("loc", ())) or "(resource)"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        described.append(f"{path}: {message}")
    more = len(errors) - _MAX_REPORTED_ERRORS
    return "; ".join(described) + (f" (+{more} more)" if more > 0 else "")

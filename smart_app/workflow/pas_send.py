"""The kept packet's PAS Bundle as it is sent to the payer.

The packet is built as a draft (`core.packet.pas_resources.DRAFT_TAG` on the Bundle and its resources, the
packet's trace number as identifier). At submission only three things change:

* `Bundle.identifier` and the Claim's identifier become the request's claim identifier, which never changes, so a
  retry is the same business transaction for the payer and its notifications find the request
  (`PriorAuthStore.by_claim_identifier`);
* the `draft` tag is removed (wherever it is; a `meta` left empty is dropped);
* the priority chosen on the submit form sets `Claim.priority` and the PAS levelOfServiceCode (U urgent,
  E elective).
"""

from __future__ import annotations

import copy
from typing import Any

from smart_app.core.packet.pas_resources import DRAFT_TAG, SYSTEM_TRACE

PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition"
LEVEL_OF_SERVICE_URL = f"{PAS_SD}/extension-levelOfServiceCode"
X12_LEVEL_OF_SERVICE = "https://codesystem.x12.org/005010/1338"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
CLAIM_IDENTIFIER_SYSTEM = SYSTEM_TRACE


def bundle_to_send(packet_bundle: dict[str, Any], claim_identifier: str, priority: str) -> dict[str, Any]:
    """A copy of `packet_bundle` ready to send (see the module docstring); the kept Bundle is left unchanged.

    Raises:
        ValueError: the Bundle holds no Claim (not a PAS request Bundle).
    """
    bundle = copy.deepcopy(packet_bundle)
    identifier = {"system": CLAIM_IDENTIFIER_SYSTEM, "value": claim_identifier}
    bundle["identifier"] = dict(identifier)
    _drop_draft_tag(bundle)
    claims = [
        entry["resource"]
        for entry in bundle.get("entry") or []
        if isinstance(entry.get("resource"), dict) and entry["resource"].get("resourceType") == "Claim"
    ]
    if not claims:
        raise ValueError("the packet's PAS Bundle holds no Claim")
    for entry in bundle.get("entry") or []:
        if isinstance(entry.get("resource"), dict):
            _drop_draft_tag(entry["resource"])
    claim = claims[0]
    claim["identifier"] = [dict(identifier)]
    expedited = priority == "expedited"
    claim["priority"] = {
        "coding": [{"system": PROCESS_PRIORITY, "code": "stat" if expedited else "normal"}],
    }
    level = (
        {"system": X12_LEVEL_OF_SERVICE, "code": "U", "display": "Urgent"}
        if expedited
        else {"system": X12_LEVEL_OF_SERVICE, "code": "E", "display": "Elective"}
    )
    others = [item for item in claim.get("extension") or [] if item.get("url") != LEVEL_OF_SERVICE_URL]
    claim["extension"] = [{"url": LEVEL_OF_SERVICE_URL, "valueCodeableConcept": {"coding": [level]}}, *others]
    return bundle


def _drop_draft_tag(resource: dict[str, Any]) -> None:
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        return
    tags = [
        tag
        for tag in meta.get("tag") or []
        if tag.get("code") != DRAFT_TAG["code"] or tag.get("system") != DRAFT_TAG["system"]
    ]
    if tags:
        meta["tag"] = tags
    else:
        meta.pop("tag", None)
    if not meta:
        del resource["meta"]

"""Before a transaction goes out: does every reference in it resolve? (`workflow.references` does the pure part.)

The pure check knows the Bundle, the record the check read and what the EHR holds of the order. A `Type/id` it
cannot place (usually the clinician's `Practitioner/…` from fhirUser) is read once from the EHR: 404/410 means it
does not exist and the transaction is not sent; any other answer (a 403 for a read the grant does not cover) leaves
the EHR to judge, as it will.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from smart_app.core.documents import OrderContext
from smart_app.fhir.client import FhirClient
from smart_app.fhir.errors import FhirError, FhirNotFound
from smart_app.workflow.references import UnresolvedReference, relative_reference, unresolved_references

logger = logging.getLogger(__name__)

MAX_LISTED = 3


def check_references(
    client: FhirClient,
    bundle: Mapping[str, Any] | None,
    context: OrderContext,
    existing: Mapping[str, Mapping[str, Any]],
) -> list[UnresolvedReference]:
    """The references of `bundle` that resolve neither in it nor to a resource the EHR holds (empty: send it)."""
    if not bundle:
        return []
    resources = [*context.resources, *existing.values()]
    known = {target for resource in resources if (target := _type_id(resource))}
    candidates = unresolved_references(bundle, existing=known, base_url=client.base_url)
    confirmed: dict[str, bool] = {}
    dangling = []
    for item in candidates:
        target = relative_reference(item.reference, client.base_url)
        if target is not None:
            if target not in confirmed:
                confirmed[target] = _exists(client, target)
            if confirmed[target]:
                continue
        dangling.append(item)
    if dangling:
        logger.warning("transaction not sent: %d reference(s) do not resolve", len(dangling))
    return dangling


def dangling_reason(dangling: list[UnresolvedReference], *, withdrawing: bool = False) -> str:
    """The refusal in words: which references point at nothing."""
    listed = "; ".join(item.describe() for item in dangling[:MAX_LISTED])
    more = f" and {len(dangling) - MAX_LISTED} more" if len(dangling) > MAX_LISTED else ""
    what = "The withdrawal was not sent to the EHR" if withdrawing else "The order was not sent to the EHR"
    kept = "" if withdrawing else " The draft is kept in the app and can be exported."
    return f"{what}: it refers to resources that are neither in it nor in the EHR ({listed}{more}).{kept}"


def _exists(client: FhirClient, target: str) -> bool:
    resource_type, resource_id = target.split("/", 1)
    try:
        client.read(resource_type, resource_id)
    except FhirNotFound:
        return False
    except FhirError:
        return True  # cannot tell (not allowed to read it, the server failed): the EHR will check it
    return True


def _type_id(resource: Mapping[str, Any]) -> str | None:
    if resource.get("resourceType") and resource.get("id"):
        return f"{resource['resourceType']}/{resource['id']}"
    return None

"""Keeping a built packet with its worklist request, from either page that builds one (the clinician's checklist
page and the staff's worklist request page): the packet goes into the database with who built it and when, the
request's history says it was built (or rebuilt), and the audit log gets `prior-auth.packet-built`."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

from smart_app.core import prior_auth as lifecycle
from smart_app.core.documents import order_key
from smart_app.store.prior_auth_packets import KeptPacket, keep_packet, request_id_of_order
from smart_app.store.prior_auth_requests import PriorAuthRequest
from smart_app.web.audit_trail import audit
from smart_app.web.clinician import clinician_of
from smart_app.web.launch_context import LaunchContext
from smart_app.web.prior_auth_services import actor_of, prior_auth
from smart_app.web.services import services
from smart_app.workflow.packet import PacketFiles

CHOICE_FIELDS = (
    "urgency",
    "urgency_reason",
    "place_of_service",
    "service_date",
    "service_end",
    "facility_name",
    "facility_npi",
    "facility_address",
    "resubmission",
)


def keep_files(context: LaunchContext, request_id: str, files: PacketFiles, choices: Mapping[str, str]) -> bool:
    """Keep `files` with the request (replacing an older packet) and the staff's `choices` (the form, shown again
    for a rebuild); True when it replaced one."""
    app_services = services()
    replaced = keep_packet(
        app_services.database,
        request_id,
        files.to_kept(
            built_at=app_services.clock(),
            built_by=builder_of(context),
            choices={name: str(choices.get(name, ""))[:500] for name in CHOICE_FIELDS if choices.get(name)},
        ),
    )
    audit(
        "prior-auth.packet-built",
        subject=f"PriorAuthRequest/{request_id}",
        actor=context.fhir_user,
        detail=f"packet {'rebuilt' if replaced else 'built'} (digest {files.digest[:12]})",
        ehr_name=context.registration.name,
        launch_id=context.launch_id,
    )
    return replaced


def packet_may_change(item: PriorAuthRequest) -> bool:
    """Only a request not yet sent may get a new packet: after submission the kept packet is what was sent."""
    return item.status in (lifecycle.DRAFT, lifecycle.READY)


def builder_of(context: LaunchContext) -> str:
    """Who built the packet, as staff read it: the user's name (and reference), else the acting reference."""
    actor = actor_of(context)
    clinician = clinician_of(context)
    return f"{clinician.name} ({actor})" if clinician.name else actor


def packet_summary(packet: KeptPacket) -> dict[str, Any]:
    """What the kept packet says, for the request page: its manifest (service dates, place of service, urgency,
    submission, verdict, open items). Empty when the zip holds no readable manifest."""
    try:
        with zipfile.ZipFile(io.BytesIO(packet.zip)) as archive:
            manifest = json.loads(archive.read("manifest.json"))
    except (KeyError, ValueError, zipfile.BadZipFile):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def keep_with_worklist_request(
    context: LaunchContext, result: Mapping[str, Any], files: PacketFiles, choices: Mapping[str, str]
) -> str | None:
    """Keep the packet the clinician built when its order is in the worklist and not yet sent (a submitted
    request keeps the packet that was sent); the request id, else None."""
    app_services = services()
    request_id = request_id_of_order(app_services.database, context.registration.name, order_key(result))
    if request_id is None or not packet_may_change(prior_auth().store.get(request_id, now=app_services.clock())):
        return None
    keep_files(context, request_id, files, choices)
    return request_id

"""Keeping a built packet with its worklist request, from either page that builds one (the clinician's checklist
page and the staff's worklist request page): the packet goes into the database with who built it and when, the
request's history says it was built (or rebuilt), and the audit log gets `prior-auth.packet-built`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smart_app.core.documents import order_key
from smart_app.store.prior_auth_packets import KeptPacket, keep_packet, request_id_of_order
from smart_app.web.audit_trail import audit
from smart_app.web.launch_context import LaunchContext
from smart_app.web.prior_auth_services import actor_of
from smart_app.web.services import services
from smart_app.workflow.packet import PacketFiles


def keep_files(context: LaunchContext, request_id: str, files: PacketFiles, *, audited: bool = True) -> bool:
    """Keep `files` with the request (replacing an older packet); True when it replaced one."""
    app_services = services()
    replaced = keep_packet(
        app_services.database,
        request_id,
        KeptPacket(
            built_at=app_services.clock(),
            built_by=actor_of(context),
            digest=files.digest,
            file_name=files.file_name,
            pas_bundle=files.pas_bundle,
            questionnaire_response=files.questionnaire_response,
            pdf=files.pdf,
            zip=files.zip_bytes(),
        ),
    )
    if audited:
        audit(
            "prior-auth.packet-built",
            subject=f"PriorAuthRequest/{request_id}",
            actor=context.fhir_user,
            detail=f"packet {'rebuilt' if replaced else 'built'} (digest {files.digest[:12]})",
            ehr_name=context.registration.name,
            launch_id=context.launch_id,
        )
    return replaced


def keep_with_worklist_request(context: LaunchContext, result: Mapping[str, Any], files: PacketFiles) -> str | None:
    """Keep the packet the clinician built when its order is in the worklist; the request id, else None."""
    request_id = request_id_of_order(services().database, context.registration.name, order_key(result))
    if request_id is None:
        return None
    keep_files(context, request_id, files)
    return request_id

"""`/admin/switches`: read and change the misbehaviour switches (loopback sandbox only, never authenticated)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from .context import sandbox
from .switches import SwitchError

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/switches")
def get_switches() -> Any:
    return jsonify(sandbox().switches.to_json())


@bp.post("/switches")
def set_switches() -> Any:
    """Change the switches named in the JSON body (others keep their value; `null` restores a default)."""
    changes = request.get_json(silent=True)
    if not isinstance(changes, dict):
        return jsonify(error="invalid_request", error_description="send a JSON object of switches"), 400
    try:
        switches = sandbox().update_switches(changes)
    except SwitchError as error:
        return jsonify(error="invalid_switch", error_description=str(error)), 400
    return jsonify(switches.to_json())


@bp.post("/switches/reset")
def reset_switches() -> Any:
    return jsonify(sandbox().reset_switches().to_json())

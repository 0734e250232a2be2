"""Blueprint `vendor`: browser libraries installed by npm (`assets/package.json`, `make install`) and served from
our own origin, so the CSP `script-src 'self'` holds inside an EHR iframe and no CDN sees our users.

Only the files listed here are served; `/vendor/<name>` answers 404 for anything else.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, send_from_directory

from smart_app.web.app import PROJECT_ROOT

bp = Blueprint("vendor", __name__)

NODE_MODULES = PROJECT_ROOT / "assets" / "node_modules"
VENDOR_FILES = {"chart.umd.js": "chart.js/dist/chart.umd.js"}


@bp.get("/vendor/<name>")
def vendor_file(name: str) -> Response:
    path = VENDOR_FILES.get(name)
    if path is None or not (NODE_MODULES / path).is_file():
        abort(404)
    response = send_from_directory(NODE_MODULES, path, mimetype="text/javascript", max_age=3600)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response

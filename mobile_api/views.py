"""The installable member app (PWA) at `/app/`: shell page, web app manifest, service worker, icons.

The shell holds no personal data (it is the same for everyone and cached by the service worker);
the app logs in with a bearer token and talks to `/api/v1/me/...`. A strict Content-Security-Policy
allows only this site's own scripts and styles: no inline script, nothing from elsewhere.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, send_from_directory, url_for
from flask_babel import get_locale

from core.gates import public_endpoint
from mobile_api import icons
from mobile_api.strings import catalogue

HERE = Path(__file__).parent
app_bp = Blueprint("member_app", __name__, url_prefix="/app", template_folder="templates")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; "
       "connect-src 'self'; worker-src 'self'; manifest-src 'self'; frame-src 'none'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
ICON_SIZES = (192, 512)


@app_bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def shell_version() -> str:
    """Changes whenever a file of the shell changes: names the service worker's cache."""
    extra = current_app.extensions["federa"].extra
    if "member_app_version" not in extra:
        digest = hashlib.sha256()
        for path in sorted([*(HERE / "static").iterdir(), *(HERE / "templates" / "mobile_api").iterdir()]):
            digest.update(path.name.encode() + path.read_bytes())
        digest.update(json.dumps(catalogue(), sort_keys=True).encode())
        extra["member_app_version"] = digest.hexdigest()[:12]
    return extra["member_app_version"]


def shell_files() -> list[str]:
    """What the service worker keeps for offline use."""
    return [url_for("member_app.shell"), url_for("member_app.asset", filename="app.js"),
            url_for("member_app.asset", filename="app.css"), url_for("member_app.manifest"),
            url_for("member_app.icon_svg"), url_for("member_app.icon_png", size=192)]


@app_bp.route("/")
@public_endpoint
def shell():
    lang = str(get_locale() or "nl")
    response = Response(render_template("mobile_api/index.html", strings=catalogue(), lang=lang,
                                        version=shell_version()))
    response.headers["Cache-Control"] = "no-cache"
    return response


@app_bp.route("/static/<path:filename>")
@public_endpoint
def asset(filename: str):
    # A route of its own rather than the blueprint's static folder: every plugin endpoint carries a gate mark.
    return send_from_directory(HERE / "static", filename, max_age=0)


@app_bp.route("/manifest.webmanifest")
@public_endpoint
def manifest():
    icons_list = [{"src": url_for("member_app.icon_png", size=s), "sizes": f"{s}x{s}", "type": "image/png",
                   "purpose": "any"} for s in ICON_SIZES]
    icons_list.append({"src": url_for("member_app.icon_maskable"), "sizes": "512x512", "type": "image/png",
                       "purpose": "maskable"})
    icons_list.append({"src": url_for("member_app.icon_svg"), "sizes": "any", "type": "image/svg+xml"})
    data = {
        "id": url_for("member_app.shell"), "name": "Federa", "short_name": "Federa",
        "description": "News, documents and invoices of your club",
        "start_url": url_for("member_app.shell") + "#/feed", "scope": url_for("member_app.shell"),
        "display": "standalone", "orientation": "portrait", "background_color": "#f4f5f7",
        "theme_color": "#1d4ed8", "lang": "nl", "icons": icons_list,
    }
    return Response(json.dumps(data), mimetype="application/manifest+json")


@app_bp.route("/sw.js")
@public_endpoint
def service_worker():
    body = render_template("mobile_api/sw.js", version=shell_version(), files=shell_files(),
                           shell=url_for("member_app.shell"), inbox=url_for("member_app.shell") + "#/inbox")
    response = Response(body, mimetype="text/javascript")
    # Browsers check for a new worker on every visit; never let a cache hold an old one back.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = url_for("member_app.shell")
    return response


def _cached(body: bytes, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@app_bp.route("/icons/icon.svg")
@public_endpoint
def icon_svg():
    return _cached(icons.SVG.encode(), "image/svg+xml")


@app_bp.route("/icons/icon-<int:size>.png")
@public_endpoint
def icon_png(size: int):
    if size not in ICON_SIZES:
        return Response("unknown icon size", status=404, mimetype="text/plain")
    return _cached(icons.png(size), "image/png")


@app_bp.route("/icons/maskable-512.png")
@public_endpoint
def icon_maskable():
    return _cached(icons.png(512, maskable=True), "image/png")

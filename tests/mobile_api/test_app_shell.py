"""The installable app: shell, manifest, service worker, icons; the rich-text allow-list."""
from __future__ import annotations

import json

import pytest

from mobile_api.sanitize import clean_html, plain_text, safe_link


def test_shell_is_public_small_and_locked_down(mclient):
    shell = mclient.get("/app/")
    assert shell.status_code == 200
    csp = shell.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    html = shell.get_data(as_text=True)
    strings = json.loads(html.split('id="app-strings">', 1)[1].split("</script>", 1)[0])
    assert set(strings) == {"nl", "fr", "en"} and strings["en"]["login"] == "Log in"
    assert "<script>" not in html.replace('<script type="application/json" id="app-strings">', "")


def test_manifest_service_worker_and_icons(mclient):
    manifest = mclient.get("/app/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    data = manifest.json
    assert data["display"] == "standalone" and data["scope"] == "/app/" and data["start_url"].startswith("/app/")
    assert {"192x192", "512x512"} <= {i["sizes"] for i in data["icons"]}
    assert any(i.get("purpose") == "maskable" for i in data["icons"])
    for icon in data["icons"]:
        response = mclient.get(icon["src"])
        assert response.status_code == 200 and response.mimetype == icon["type"]
        if icon["type"] == "image/png":
            assert response.data.startswith(b"\x89PNG")
            size = int.from_bytes(response.data[16:20], "big")
            assert f"{size}x{size}" == icon["sizes"]
    worker = mclient.get("/app/sw.js")
    assert worker.mimetype == "text/javascript" and worker.headers["Cache-Control"] == "no-cache"
    body = worker.get_data(as_text=True)
    assert "addEventListener('push'" in body and "notificationclick" in body and '"/app/static/app.js"' in body
    assert mclient.get("/app/icons/icon-64.png").status_code == 404
    assert mclient.get("/app/static/../plugin.py").status_code == 404


@pytest.mark.parametrize("raw, clean", [
    ("<p>Hi <b>there</b></p>", "<p>Hi <b>there</b></p>"),
    ("<script>alert(1)</script>ok", "ok"),
    ('<img src=x onerror="alert(1)">x', "x"),
    ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
    ('<a href="/app/#/feed" onclick="x()">in app</a>',
     '<a href="/app/#/feed" rel="noopener noreferrer" target="_blank">in app</a>'),
    ("<svg><script>alert(1)</script></svg><p>a &lt; b</p>", "<p>a &lt; b</p>"),
    ("<ul><li>one<li>two</ul>", "<ul><li>one<li>two</li></li></ul>"),
    ("<p>unclosed", "<p>unclosed</p>"),
    ("<style>body{}</style><iframe src=x></iframe>text", "text"),
])
def test_rich_text_is_allow_listed(raw, clean):
    assert clean_html(raw) == clean


def test_plain_text_and_links():
    assert plain_text("<b>Big</b> <script>x</script>news &amp; more") == "Big news & more"
    assert safe_link("https://example.org/a") == "https://example.org/a"
    assert safe_link("/app/#/x") == "/app/#/x"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil.example", "http:/x", "\\\\evil", "vbscript:x"):
        assert safe_link(bad) is None, bad

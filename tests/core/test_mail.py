"""E-mail: templates per language with fallback, the outbox folder and its admin pages, SMTP."""
from __future__ import annotations

import email
import email.policy
import socketserver
import threading

import pytest
from flask import Blueprint, current_app

from core import mail
from core.db import db
from core.hookspecs import hookimpl
from core.plugins import Plugin
from tests.conftest import _clean, web_login
from tests.factories import Factory

TEMPLATES = {
    "welcome.nl.txt": "Subject: Welkom {{ name }}\n\nDag {{ name }},\n\nwelkom bij de club.\n",
    "welcome.nl.html": "<p>Dag <b>{{ name }}</b>, welkom bij de club.</p>",
    "welcome.fr.txt": "Subject: Bienvenue {{ name }}\n\nBonjour {{ name }},\n",
    "only_en.en.txt": "Subject: Hello\n\nHi {{ name }}\n",
    "no_subject.nl.txt": "Dag {{ name }}\n",
}


class MailTemplatesPlugin(Plugin):
    """Brings the test mail templates (a blueprint with a template folder)."""

    name = "mailtpl"
    label = "Mail templates"

    def __init__(self, folder):
        self.folder = folder

    @hookimpl
    def register_blueprints(self, app):
        return [Blueprint("mailtpl", __name__, template_folder=str(self.folder))]


@pytest.fixture(scope="module")
def mail_app(make_app, tmp_path_factory):
    folder = tmp_path_factory.mktemp("templates")
    (folder / "mail").mkdir()
    for name, text in TEMPLATES.items():
        (folder / "mail" / name).write_text(text)
    return make_app(plugins=[MailTemplatesPlugin(folder)], PLUGINS=[])


@pytest.fixture
def mctx(mail_app):
    _clean(mail_app)
    with mail_app.app_context():
        for path in mail.outbox_dir().iterdir():
            path.unlink()
        yield mail_app
        db.session.remove()


def outbox() -> list:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(mail.outbox_dir().iterdir())]


def test_without_smtp_mail_goes_to_the_outbox_in_the_recipients_language(mctx):
    mail.send_mail("ann@example.org", "welcome", {"name": "Ann"}, lang="fr")
    mail.send_mail("bert@example.org", "welcome", {"name": "Bert"}, lang="nl")
    first, second = outbox()  # file names sort by time
    assert first["Subject"] == "Bienvenue Ann" and first["To"] == "ann@example.org"
    assert first["Content-Language"] == "fr"
    assert first.get_body(("html",)) is None  # no French HTML: no Dutch HTML in a French mail either
    assert "Bonjour Ann" in first.get_content()
    assert second["Subject"] == "Welkom Bert"
    assert "Dag <b>Bert</b>" in second.get_body(("html",)).get_content()
    assert [p.name for p in mail.outbox_dir().iterdir() if not mail.OUTBOX_NAME.match(p.name)] == []


def test_language_fallback(mctx):
    assert mail.build_message("x@example.org", "welcome", {"name": "X"}, lang="de")["Subject"] == "Welkom X"
    assert mail.build_message("x@example.org", "welcome", {"name": "X"}, lang="fr_BE")["Subject"] == "Bienvenue X"
    assert mail.build_message("x@example.org", "only_en", {"name": "X"}, lang="nl")["Content-Language"] == "en"


def test_html_is_escaped(mctx):
    message = mail.build_message("x@example.org", "welcome", {"name": "<script>alert(1)</script>"}, lang="nl")
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_bad_templates_are_refused_and_nothing_is_sent(mctx):
    with pytest.raises(LookupError):
        mail.send_mail("x@example.org", "does_not_exist", {})
    with pytest.raises(ValueError, match="Subject"):
        mail.send_mail("x@example.org", "no_subject", {"name": "X"})
    assert outbox() == []


class _FakeSMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: records envelope and data of each message."""

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
        self.reply("220 fake.smtp ESMTP")
        envelope: dict = {"rcpt": []}
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.strip().decode(errors="replace")
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-fake.smtp")
                self.reply("250 8BITMIME")
            elif verb == "MAIL":
                envelope = {"from": command.split(":", 1)[1].strip(), "rcpt": []}
                self.reply("250 OK")
            elif verb == "RCPT":
                envelope["rcpt"].append(command.split(":", 1)[1].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 go ahead")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                self.server.received.append({**envelope, "data": b"".join(data)})
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _FakeSMTPHandler)
    server.daemon_threads = True
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_with_smtp_configured_mail_is_sent_there(mctx, smtp_server):
    config = current_app.config
    saved = {k: config.get(k) for k in ("SMTP_HOST", "SMTP_PORT", "SMTP_STARTTLS")}
    config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.server_address[1], SMTP_STARTTLS=False)
    try:
        mail.send_mail("ann@example.org", "welcome", {"name": "Ann"}, lang="nl")
    finally:
        config.update(saved)
    [received] = smtp_server.received
    assert received["rcpt"] == ["<ann@example.org>"]
    parsed = email.message_from_bytes(received["data"], policy=email.policy.default)
    assert parsed["Subject"] == "Welkom Ann"
    assert outbox() == []


def test_unreachable_smtp_server_is_an_error_not_a_lost_mail(mctx, smtp_server):
    config = current_app.config
    port = smtp_server.server_address[1]
    smtp_server.shutdown()
    smtp_server.server_close()
    saved = {k: config.get(k) for k in ("SMTP_HOST", "SMTP_PORT", "SMTP_STARTTLS")}
    config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS=False)
    try:
        with pytest.raises(OSError):
            mail.send_mail("ann@example.org", "welcome", {"name": "Ann"})
    finally:
        config.update(saved)


# --- the outbox pages (platform admins) ---------------------------------------------------------------

def test_platform_admin_reads_the_outbox(mctx):
    Factory(db.session).user("root@example.org", role="platform_admin")
    mail.send_mail("ann@example.org", "welcome", {"name": "<i>Ann</i>"}, lang="nl")
    [name] = [p.name for p in mail.outbox_dir().iterdir()]
    client = mctx.test_client()
    web_login(client, "root@example.org")
    r = client.get("/admin/outbox")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "ann@example.org" in html and f"/admin/outbox/{name}" in html
    r = client.get(f"/admin/outbox/{name}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Dag &lt;i&gt;Ann&lt;/i&gt;" in html  # the text part, escaped
    assert "<i>Ann</i>" not in html  # the HTML part is shown as source, never rendered
    for bad in ("../secret_key", "..%2Fsecret_key", "20250101T000000000000-zzzzzzzz.eml", "nope.eml"):
        assert client.get(f"/admin/outbox/{bad}").status_code == 404


def test_outbox_is_for_platform_admins_only(mctx):
    make = Factory(db.session)
    club = make.club(make.federation())
    make.user("sec@example.org", role="federation_secretariat", org=club.parent)
    client = mctx.test_client()
    assert client.get("/admin/outbox").status_code == 302  # to the login page
    web_login(client, "sec@example.org")
    assert client.get("/admin/outbox").status_code == 404

"""E-mail: SMTP when `FEDERA_SMTP_HOST` is set, otherwise `.eml` files in the outbox folder (viewable in the UI).

Templates per language: `mail/<name>.<lang>.txt` (and optionally `.html`), Jinja; the first line is
`Subject: ...`, then a blank line, then the body. Falls back to Dutch, then English. The template is
rendered in the recipient's language, so `_()` inside it translates to that language too.
"""
from __future__ import annotations

import email
import email.policy
import os
import re
import smtplib
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parsedate_to_datetime
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale
from jinja2 import TemplateNotFound

from core.db import utcnow

FALLBACK_LANGUAGES = ("nl", "en")
# Outbox file names: time stamp (so they sort by time) and a random suffix; nothing else is ever read.
OUTBOX_NAME = re.compile(r"^\d{8}T\d{12}-[0-9a-f]{8}\.eml$")


def outbox_dir() -> Path:
    path = Path(current_app.config["DATA_DIR"]) / "outbox"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _language(lang: str | None) -> str:
    """"nl_BE", "NL-be" -> "nl"."""
    return (lang or "nl").replace("-", "_").split("_", 1)[0].lower()


def _render(template: str, lang: str, ext: str, context: dict) -> tuple[str, str] | None:
    """(language used, rendered text) in `lang` or the first fallback language that has the template."""
    for candidate in dict.fromkeys((lang, *FALLBACK_LANGUAGES)):
        rendered = _render_in(template, candidate, ext, context)
        if rendered is not None:
            return candidate, rendered
    return None


def _render_in(template: str, lang: str, ext: str, context: dict) -> str | None:
    name = f"mail/{template}.{lang}.{ext}"
    try:
        with force_locale(lang):
            return render_template(name, **context)
    except TemplateNotFound as exc:
        if exc.name != name:  # the template exists but includes a missing one: a bug, not a fallback
            raise
        return None


def build_message(to: str, template: str, context: dict, lang: str = "nl") -> EmailMessage:
    found = _render(template, _language(lang), "txt", context)
    if found is None:
        raise LookupError(f"no mail template {template!r}")
    lang, text = found
    first, _, body = text.lstrip().partition("\n")
    if not first.lower().startswith("subject:"):
        raise ValueError(f"mail template {template!r} must start with 'Subject:'")
    message = EmailMessage()
    message["Subject"] = first.split(":", 1)[1].strip()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="federa.local")
    message.set_content(body.lstrip("\n"))
    html = _render_in(template, lang, "html", context)  # same language as the text, or none at all
    if html is not None:
        message.add_alternative(html, subtype="html")
    message["Content-Language"] = lang  # last: set_content/add_alternative move Content-* headers
    return message


def send_message(message: EmailMessage) -> None:
    config = current_app.config
    if config.get("SMTP_HOST"):
        port = int(config.get("SMTP_PORT") or 587)
        smtp_class = smtplib.SMTP_SSL if port == 465 else smtplib.SMTP  # 465 speaks TLS from the start
        with smtp_class(config["SMTP_HOST"], port, timeout=30) as smtp:
            if smtp_class is smtplib.SMTP and config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("SMTP_USER"):
                smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
            smtp.send_message(message)
        return
    name = f"{utcnow().strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.eml"  # sorts by time
    folder = outbox_dir()
    partial = folder / f".{name}.part"
    partial.write_bytes(bytes(message))
    os.replace(partial, folder / name)  # the outbox page never sees half a message


def send_mail(to: str, template: str, context: dict | None = None, lang: str = "nl") -> EmailMessage:
    """Render `template` in `lang` and send it (or write it to the outbox)."""
    message = build_message(to, template, context or {}, lang)
    send_message(message)
    return message


# --- the outbox, as the platform admin's page shows it ----------------------------------------------

@dataclass(frozen=True)
class OutboxMessage:
    name: str
    subject: str
    to: str
    sender: str
    date: object  # datetime or None
    text: str
    html: str | None


def _read(path: Path, with_body: bool) -> OutboxMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    try:
        date = parsedate_to_datetime(parsed["Date"]) if parsed["Date"] else None
    except (TypeError, ValueError):
        date = None
    text, html = "", None
    if with_body:
        part = parsed.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else ""
        html_part = parsed.get_body(preferencelist=("html",))
        html = html_part.get_content() if html_part is not None else None
    return OutboxMessage(name=path.name, subject=str(parsed["Subject"] or ""), to=str(parsed["To"] or ""),
                         sender=str(parsed["From"] or ""), date=date, text=text, html=html)


def list_outbox(limit: int = 200, offset: int = 0) -> tuple[list[OutboxMessage], int]:
    """Newest first: (one page of messages without bodies, total count)."""
    names = sorted((p.name for p in outbox_dir().iterdir() if OUTBOX_NAME.match(p.name)), reverse=True)
    folder = outbox_dir()
    return [_read(folder / name, with_body=False) for name in names[offset:offset + limit]], len(names)


def read_outbox(name: str) -> OutboxMessage | None:
    """One message by file name; None for unknown or malformed names (never a path outside the outbox)."""
    if not OUTBOX_NAME.match(name or ""):
        return None
    path = outbox_dir() / name
    if not path.is_file():
        return None
    return _read(path, with_body=True)

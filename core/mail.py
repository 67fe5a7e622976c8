"""E-mail: SMTP when `FEDERA_SMTP_HOST` is set, otherwise `.eml` files in the outbox folder (viewable in the UI).

Templates per language: `mail/<name>.<lang>.txt` (and optionally `.html`), Jinja; the first line is
`Subject: ...`, then a blank line, then the body. Falls back to Dutch, then English.
"""
from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import current_app, render_template
from jinja2 import TemplateNotFound

from core.db import utcnow

FALLBACK_LANGUAGES = ("nl", "en")


def outbox_dir() -> Path:
    path = Path(current_app.config["DATA_DIR"]) / "outbox"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _render(template: str, lang: str, ext: str, context: dict) -> str | None:
    for candidate in (lang, *FALLBACK_LANGUAGES):
        try:
            return render_template(f"mail/{template}.{candidate}.{ext}", **context)
        except TemplateNotFound:
            continue
    return None


def build_message(to: str, template: str, context: dict, lang: str = "nl") -> EmailMessage:
    text = _render(template, lang, "txt", context)
    if text is None:
        raise LookupError(f"no mail template {template!r}")
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
    html = _render(template, lang, "html", context)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def send_message(message: EmailMessage) -> None:
    config = current_app.config
    if config.get("SMTP_HOST"):
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=30) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("SMTP_USER"):
                smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"] or "")
            smtp.send_message(message)
        return
    name = f"{utcnow().strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.eml"  # sorts by time
    (outbox_dir() / name).write_bytes(bytes(message))


def send_mail(to: str, template: str, context: dict | None = None, lang: str = "nl") -> EmailMessage:
    """Render `template` in `lang` and send it (or write it to the outbox)."""
    message = build_message(to, template, context or {}, lang)
    send_message(message)
    return message

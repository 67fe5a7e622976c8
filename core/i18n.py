"""Language choice for the UI: Dutch first, then French and English.

Order: an explicit `?lang=` (also remembered), the language chosen with the language links
(kept in the session), the logged-in person's preferred language, the browser's languages, Dutch.
"""
from __future__ import annotations

from flask import current_app, g, has_request_context, request, session


def languages() -> list[str]:
    return list(current_app.config["LANGUAGES"])


def remember_language(code: str) -> bool:
    """Keep `code` as this browser's UI language; False when it is not one we offer."""
    if code not in languages():
        return False
    session["lang"] = code
    return True


def select_locale() -> str:
    offered = languages()
    if not has_request_context():
        return offered[0]
    chosen = request.args.get("lang")
    if chosen in offered:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in offered:
        return session["lang"]
    user = getattr(g, "user", None)
    if user is not None and user.person.preferred_language in offered:
        return user.person.preferred_language
    return request.accept_languages.best_match(offered) or offered[0]

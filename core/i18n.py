"""Language choice: Dutch first, then French and English."""
from __future__ import annotations

from flask import current_app, g, request, session


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang") if request else None
    if chosen in languages:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in languages:
        return session["lang"]
    user = getattr(g, "user", None)
    if user is not None and user.person.preferred_language in languages:
        return user.person.preferred_language
    return request.accept_languages.best_match(languages) or languages[0] if request else languages[0]

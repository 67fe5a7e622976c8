"""Language choice: Dutch first for people, English first for machines.

Web pages: an explicit `?lang=` (also remembered), the language chosen with the language links
(kept in the session), the logged-in person's preferred language, the browser's languages, Dutch
(`BABEL_DEFAULT_LOCALE`).

The REST API (`/api/...`) follows only the request's Accept-Language header and answers in English
without one: API clients are programs, whose authors read English and whose users may not share the
token owner's language; a session-remembered web choice must not change what a script receives.
"""
from __future__ import annotations

from flask import current_app, g, has_request_context, request, session

API_PREFIX = "/api/"
API_DEFAULT = "en"


def languages() -> list[str]:
    return list(current_app.config["LANGUAGES"])


def default_language() -> str:
    offered = languages()
    configured = current_app.config.get("BABEL_DEFAULT_LOCALE")
    return configured if configured in offered else offered[0]


def remember_language(code: str) -> bool:
    """Keep `code` as this browser's UI language; False when it is not one we offer."""
    if code not in languages():
        return False
    session["lang"] = code
    return True


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def select_locale() -> str:
    offered = languages()
    if not has_request_context():
        return default_language()
    if is_api_request():
        # English first, so that "*" or equal preferences pick English.
        ranked = [API_DEFAULT, *(code for code in offered if code != API_DEFAULT)] if API_DEFAULT in offered else offered
        return request.accept_languages.best_match(ranked) or (API_DEFAULT if API_DEFAULT in offered else offered[0])
    chosen = request.args.get("lang")
    if chosen in offered:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in offered:
        return session["lang"]
    user = getattr(g, "user", None)
    if user is not None and user.person.preferred_language in offered:
        return user.person.preferred_language
    return request.accept_languages.best_match(offered) or default_language()

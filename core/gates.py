"""The three central gates that keep a disabled module out of an organisation.

1. routes: `route_gate` runs before every request. It maps the endpoint to its plugin; when the
   URL names an organisation (`org_id`), the user must see it (else 404), and the plugin must be
   enabled there (else 404 "module not enabled"). Without an organisation in the URL a view needs
   a logged-in user unless marked `public_endpoint`; `platform_admin_endpoint` narrows it further.
   Plugin endpoints without an organisation must carry one of the marks — checked at start-up.
2. hooks: `call_org_hook` calls an organisation-scoped hook on core and the enabled plugins only.
3. jobs: see `core.jobs.ModuleGateMiddleware`.
"""
from __future__ import annotations

from typing import Callable

from flask import Flask, abort, current_app, g, request
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from core.db import db, set_scope
from core.models import Organisation

PUBLIC = "public"
PLATFORM_ADMIN = "platform_admin"


def public_endpoint(view: Callable) -> Callable:
    """Mark a view as reachable without an organisation in its URL and without login."""
    view._federa_exposure = PUBLIC
    return view


def platform_admin_endpoint(view: Callable) -> Callable:
    """Mark a view without an organisation in its URL as platform-admin only."""
    view._federa_exposure = PLATFORM_ADMIN
    return view


def authenticated_endpoint(view: Callable) -> Callable:
    """Mark a view without an organisation in its URL as open to any logged-in user (e.g. `/me`)."""
    view._federa_exposure = "authenticated"
    return view


def exposure_of(view: Callable, method: str | None = None) -> str | None:
    """The mark on a view function, on a MethodView method (for `method`), or on the MethodView class."""
    exposure = getattr(view, "_federa_exposure", None)
    view_class = getattr(view, "view_class", None)
    if exposure is None and view_class is not None:
        if method is not None:
            exposure = getattr(getattr(view_class, method.lower(), None), "_federa_exposure", None)
        exposure = exposure or getattr(view_class, "_federa_exposure", None)
    return exposure


def _unmarked_methods(view: Callable, methods) -> list[str]:
    if exposure_of(view) is not None:
        return []
    return [m for m in methods if m not in ("HEAD", "OPTIONS") and exposure_of(view, m) is None]


class ModuleNotEnabled(NotFound):
    description = "module not enabled for this organisation"


def federa(app: Flask | None = None):
    return (app or current_app).extensions["federa"]


def enabled_modules(org: Organisation) -> frozenset[str]:
    """The plugins enabled for `org`, computed once per transaction of the current session
    (so once per request in practice, and fresh again after a commit that may have changed them)."""
    from core.modules import compute_enabled

    cache = _enabled_cache()
    if org.id not in cache:
        cache[org.id] = compute_enabled(db.session(), federa().plugins, org)
    return cache[org.id]


def prime_enabled_modules(orgs) -> None:
    """Compute `enabled_modules` of many organisations at once (two queries per thousand rather than two
    each), before calling their hooks one by one."""
    from core.modules import compute_enabled_many

    cache = _enabled_cache()
    missing = [org for org in orgs if org.id not in cache]
    if missing:
        cache.update(compute_enabled_many(db.session(), federa().plugins, missing))


_ENABLED_CACHE = "federa_enabled_modules"


def _enabled_cache() -> dict:
    return db.session().info.setdefault(_ENABLED_CACHE, {})


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_enabled_modules(session: Session) -> None:
    session.info.pop(_ENABLED_CACHE, None)


def active_modules(org: Organisation) -> frozenset[str]:
    """`enabled_modules(org)` plus what is always on (core and non-optional plugins such as mobile_api)."""
    return enabled_modules(org) | federa().plugins.always_on


def is_enabled(org: Organisation, plugin: str) -> bool:
    return plugin in active_modules(org)


def call_org_hook(name: str, org: Organisation, **kwargs) -> list:
    """Gate 2: call an organisation-scoped hook on core and the plugins enabled for `org`."""
    caller = federa().plugins.hook_for(name, enabled_modules(org))
    return caller(org=org, **kwargs)


def flatten(results) -> list:
    """Hooks return lists; pluggy returns a list of them."""
    return [item for result in results or () for item in (result or ())]


def plugin_for_request() -> str | None:
    endpoint_plugins = federa().endpoint_plugins
    for name in request.blueprints:
        if name in endpoint_plugins:
            return endpoint_plugins[name]
    return None


def load_org(org_id: int) -> Organisation:
    org = db.session.get(Organisation, org_id)
    if org is None:
        abort(404)
    return org


def _is_static(endpoint: str) -> bool:
    return endpoint == "static" or endpoint.endswith(".static") or endpoint.startswith("api-docs.")


def route_gate() -> None:
    """Gate 1; runs after authentication (see `core.auth.identify`)."""
    if request.endpoint is None:  # 404/405 from routing
        return
    view = current_app.view_functions.get(request.endpoint)
    plugin = plugin_for_request()
    g.plugin = plugin
    org_id = (request.view_args or {}).get("org_id")
    exposure = exposure_of(view, request.method) if view else None
    from core.access import current_access
    from core.auth import authentication_required

    access = current_access()
    if org_id is None:
        if exposure == PUBLIC or _is_static(request.endpoint):
            return
        if not access.is_authenticated:
            authentication_required()
        if exposure == PLATFORM_ADMIN and not access.is_platform_admin:
            abort(404)
        return
    if exposure == PUBLIC:
        org = load_org(org_id)
    else:
        if not access.is_authenticated:
            authentication_required()
        org = load_org(org_id)
        if not access.can_see(org):
            abort(404)
    g.org = org
    if plugin is not None and not is_enabled(org, plugin):
        raise ModuleNotEnabled()
    # Organisation-scoped queries in this request stay within this organisation's subtree.
    set_scope(db.session, org)


def check_plugin_endpoints(app: Flask) -> None:
    """Start-up: every plugin endpoint without `org_id` must be explicitly public or platform-admin."""
    endpoint_plugins = app.extensions["federa"].endpoint_plugins
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        top = blueprint.split(".", 1)[0] if blueprint else None
        plugin = endpoint_plugins.get(blueprint) or endpoint_plugins.get(top)
        if plugin is None or plugin == "core" or "org_id" in rule.arguments:
            continue
        if _unmarked_methods(app.view_functions[rule.endpoint], rule.methods or ()):
            raise RuntimeError(
                f"endpoint {rule.endpoint} ({rule.rule}) of plugin {plugin!r} has no org_id in its URL; "
                "mark it public_endpoint, authenticated_endpoint or platform_admin_endpoint"
            )

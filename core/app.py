"""The application factory."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, g, jsonify, request
from flask_babel import Babel
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException

from core.config import load_config
from core.db import db
from core.permissions import PermissionRegistry
from core.plugins import PluginRegistry, build_registry, check_model_prefixes
from core.settings import SettingRegistry

csrf = CSRFProtect()


@dataclass
class Federa:
    """Per-app state, in `app.extensions["federa"]`: no module globals (tests build many apps)."""

    plugins: PluginRegistry
    permissions: PermissionRegistry
    settings: SettingRegistry
    api: Api
    # blueprint name -> plugin name, for the route gate
    endpoint_plugins: dict[str, str] = field(default_factory=dict)
    jobs: object = None
    extra: dict = field(default_factory=dict)


def _schema_name_resolver(schema) -> str:
    """Unique OpenAPI component names across plugins: module prefix + class name."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    if name.endswith("Schema"):
        name = name[: -len("Schema")]
    parts = cls.__module__.split(".")
    prefix = parts[1].title().replace("_", "") if parts[0] == "plugins" and len(parts) > 1 else ""
    return prefix + name


def select_locale():
    from core.i18n import select_locale as _select

    return _select()


def _env_plugins() -> list:
    """`FEDERA_EXTRA_PLUGINS="module:Class,..."`: plugin classes loaded without an entry point (test plugins
    in subprocesses such as `federa worker`)."""
    import importlib
    import os

    found = []
    for spec in filter(None, (s.strip() for s in os.environ.get("FEDERA_EXTRA_PLUGINS", "").split(","))):
        module, _, name = spec.partition(":")
        found.append(getattr(importlib.import_module(module), name))
    return found


def create_app(config: dict | None = None, plugins=()) -> Flask:
    """Build an app. `config` overrides settings; `plugins` adds plugin classes/instances (tests)."""
    app = Flask("federa", instance_relative_config=False)
    app.config.update(load_config(config))
    app.config["DATA_DIR"].mkdir(parents=True, exist_ok=True)
    if app.config["PROXY_COUNT"]:
        # Behind a proxy: the client's own address for login throttling, sign-up limits and the audit log.
        proxies = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    _configure_database(app)
    db.init_app(app)

    registry = build_registry(app.config, (*plugins, *_env_plugins()))
    permissions = PermissionRegistry()
    for owner, permission in registry.collect("register_permissions"):
        permissions.add(permission, owner)
    settings = SettingRegistry()
    for owner, spec in registry.collect("register_settings"):
        settings.add(spec, owner)

    api = Api(app, spec_kwargs={"info": {"description": "Federa REST API"}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.ma_plugin.schema_name_resolver = _schema_name_resolver
    state = Federa(plugins=registry, permissions=permissions, settings=settings, api=api)
    app.extensions["federa"] = state

    Babel(app, locale_selector=select_locale, timezone_selector=lambda: "Europe/Brussels",
          default_translation_directories=str(Path(__file__).parent / "translations"))

    for owner, blueprint in registry.collect("register_blueprints", app=app):
        _register_blueprint(app, state, owner, blueprint)
    for owner, blueprint in registry.collect("register_mobile_routes", app=app):
        _register_blueprint(app, state, owner, blueprint)

    from core import audit, jobs  # noqa: F401  (audit registers its flush listener)

    state.jobs = jobs.JobRunner(app, registry)

    check_model_prefixes(registry)
    from core.gates import check_plugin_endpoints, route_gate
    from core.auth import identify

    check_plugin_endpoints(app)
    app.before_request(identify)
    app.before_request(route_gate)
    # After the gate: a foreign organisation answers 404 before any CSRF or form handling.
    csrf.init_app(app)
    _register_error_handlers(app)
    _register_template_globals(app)

    from core.cli import register_plugin_cli

    register_plugin_cli(app, registry)
    return app


def _configure_database(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri[len("postgresql://"):]
        app.config["SQLALCHEMY_DATABASE_URI"] = uri
    connect_args = app.config["SQLALCHEMY_ENGINE_OPTIONS"].setdefault("connect_args", {})
    if uri.startswith("postgresql"):
        # psycopg prepares a statement run five times on a connection, and PostgreSQL may then reuse one
        # generic plan for it. Searches differ by their values: a generic plan for `search_text LIKE $1`
        # guesses the trigram matches and chose a plan twice as slow. Plan every execution for its values.
        connect_args.setdefault("options", "-c plan_cache_mode=force_custom_plan")
    if uri.startswith("sqlite"):
        connect_args.setdefault("timeout", 30)
        connect_args.setdefault("check_same_thread", False)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, record) -> None:
    """Foreign keys on and WAL for every SQLite connection."""
    if "sqlite" in type(dbapi_connection).__module__:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _register_blueprint(app: Flask, state: Federa, owner: str, blueprint) -> None:
    if isinstance(blueprint, SmorestBlueprint):
        state.api.register_blueprint(blueprint)
    else:
        app.register_blueprint(blueprint)
    state.endpoint_plugins[blueprint.name] = owner
    if isinstance(blueprint, SmorestBlueprint):
        # The API authenticates with bearer tokens, never cookies, so CSRF does not apply; web forms keep it.
        csrf.exempt(blueprint)


def _register_error_handlers(app: Flask) -> None:
    from core.services import DomainError

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        """A refused change: nothing of it is kept; the API answers JSON, pages show the message."""
        from core.db import db

        db.session.rollback()
        if request.path.startswith("/api/"):
            from core.api import domain_error_response

            return domain_error_response(exc)
        from types import SimpleNamespace

        from flask import render_template
        from werkzeug.http import HTTP_STATUS_CODES

        error = SimpleNamespace(code=exc.status, name=HTTP_STATUS_CODES.get(exc.status, ""), description=exc.message)
        return render_template("core/error.html", error=error), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if request.path.startswith("/api/"):
            if exc.response is not None and exc.response.mimetype == "application/json":
                return exc.response
            body = {"code": exc.code, "status": exc.name, "message": exc.description}
            data = getattr(exc, "data", None) or {}
            if "errors" in data:
                body["errors"] = data["errors"]
            elif "messages" in data:  # webargs validation errors (422 with field details)
                body["errors"] = data["messages"]
            if data.get("message"):
                body["message"] = data["message"]
            for key, value in data.items():
                if key not in ("errors", "message", "headers", "messages", "schema"):
                    body[key] = value
            response = jsonify(body)
            response.status_code = exc.code or 500
            for name, value in (data.get("headers") or {}).items():
                response.headers[name] = value
            return response
        if exc.response is not None:
            return exc.response
        from flask import render_template

        return render_template("core/error.html", error=exc), exc.code


def _register_template_globals(app: Flask) -> None:
    from core.web.context import inject_shell

    app.context_processor(inject_shell)

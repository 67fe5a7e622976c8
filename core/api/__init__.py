"""REST API plumbing shared by core and plugins: the Blueprint subclass, pagination, errors.

`ApiBlueprint.requires("people.read")` checks a permission on the organisation of the URL
(the route gate has already made sure the user sees it) and documents 401/403 in OpenAPI.
"""
from __future__ import annotations

import functools

import marshmallow as ma
from marshmallow import validate
from flask import abort, g
from flask_smorest import Blueprint

from core.access import current_access


class ApiBlueprint(Blueprint):
    def requires(self, permission: str | None = None):
        """Require a logged-in user and, when given, `permission` on `g.org` (or platform admin without org)."""

        def decorator(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                access = current_access()
                if not access.is_authenticated:
                    from core.auth import authentication_required

                    authentication_required()
                if permission is not None:
                    org = getattr(g, "org", None)
                    allowed = access.has(permission, org) if org is not None else access.is_platform_admin
                    if not allowed:
                        abort(403, description=f"permission {permission} required")
                return func(*args, **kwargs)

            wrapper = self.alt_response(401, description="Not authenticated")(wrapper)
            if permission:
                wrapper = self.alt_response(403, description=f"Requires permission `{permission}`")(wrapper)
            return wrapper

        return decorator


class PageArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """An envelope `{"items": [...], "total", "page", "page_size"}` for a list of `item_schema`."""
    return type(name, (ma.Schema,), {
        "items": ma.fields.List(ma.fields.Nested(item_schema)),
        "total": ma.fields.Integer(),
        "page": ma.fields.Integer(),
        "page_size": ma.fields.Integer(),
    })


def paginate(session, query, page: int, page_size: int) -> dict:
    """Run `query` (a select of ORM entities) for one page; count the total with the same filters."""
    import sqlalchemy as sa

    total = session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    items = session.execute(query.limit(page_size).offset((page - 1) * page_size)).scalars().all()
    return {"items": items, "total": total, "page": page, "page_size": page_size}


def error(status: int, message: str, **fields) -> None:
    """Abort with a JSON error; `fields` become field-level errors (`{"field": ["message"]}`)."""
    kwargs = {"message": message}
    if fields:
        kwargs["errors"] = {"json": {k: v if isinstance(v, list) else [v] for k, v in fields.items()}}
    from flask_smorest import abort as smorest_abort

    smorest_abort(status, **kwargs)


def blueprints() -> list:
    """Core's API blueprints (registered through the core plugin's `register_blueprints`)."""
    from core.api import auth_api, jobs_api, modules_api, orgs_api, people_api, roles_api

    return [auth_api.blp, orgs_api.blp, modules_api.blp, people_api.blp, roles_api.blp, jobs_api.blp]


def domain_error_response(exc):
    """The JSON answer to a refused change (`core.services.DomainError`): status, message, field errors, details.

    Registered as the app's error handler, so API views can let domain errors propagate."""
    from flask import jsonify
    from werkzeug.http import HTTP_STATUS_CODES

    fields = dict(exc.details.get("errors") or {})
    if exc.field and exc.field not in fields:
        fields[exc.field] = exc.message
    body = {"code": exc.status, "status": HTTP_STATUS_CODES.get(exc.status, ""), "message": exc.message}
    body.update({k: v for k, v in exc.details.items() if k != "errors"})
    if fields:
        body["errors"] = {"json": {k: v if isinstance(v, list) else [v] for k, v in fields.items()}}
    response = jsonify(body)
    response.status_code = exc.status
    return response

"""`/api/v1/packages`, `/api/v1/orgs/{org_id}/subscriptions`, `/api/v1/orgs/{org_id}/modules`.

A package is a named set of modules; a subscription gives an organisation (and, with
`include_descendants`, its subtree) a package for a period; an override switches one module on
or off for one organisation. Switching a module off never deletes its data.
"""
from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, g
from flask.views import MethodView
from marshmallow import validate

from core import modules as service
from core.access import current_access
from core.api import ApiBlueprint, error
from core.db import db
from core.gates import authenticated_endpoint, platform_admin_endpoint
from core.models import Organisation, Package

blp = ApiBlueprint("modules", __name__, url_prefix="/api/v1",
                   description="Packages, subscriptions and the modules enabled per organisation")


def _plugins():
    return current_app.extensions["federa"].plugins


# --- schemas ----------------------------------------------------------------------------------

class PackageSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    key = ma.fields.String(required=True, validate=validate.Length(min=2, max=40))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    description = ma.fields.String(load_default=None, allow_none=True)
    plugins = ma.fields.List(ma.fields.String(), required=True,
                             metadata={"description": "Names of the modules in this package"})
    created_at = ma.fields.DateTime(dump_only=True)


class PackageUpdateSchema(ma.Schema):
    key = ma.fields.String(validate=validate.Length(min=2, max=40))
    name = ma.fields.String(validate=validate.Length(min=1, max=100))
    description = ma.fields.String(allow_none=True)
    plugins = ma.fields.List(ma.fields.String())


class PackageRefSchema(ma.Schema):
    id = ma.fields.Integer()
    key = ma.fields.String()
    name = ma.fields.String()
    plugins = ma.fields.List(ma.fields.String())


class SubscriptionSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    org_id = ma.fields.Integer(dump_only=True)
    package_id = ma.fields.Integer(required=True)
    package = ma.fields.Nested(PackageRefSchema, dump_only=True)
    starts_on = ma.fields.Date(load_default=None, metadata={"description": "Default: today"})
    ends_on = ma.fields.Date(load_default=None, allow_none=True)
    include_descendants = ma.fields.Boolean(load_default=False,
                                            metadata={"description": "Also give the package to every "
                                                                     "organisation below"})
    active = ma.fields.Function(lambda sub: service.is_active(sub), dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)


class SourceSchema(ma.Schema):
    kind = ma.fields.String(metadata={"description": "package, inherited, override or required_by"})
    package = ma.fields.String(allow_none=True)
    package_id = ma.fields.Integer(allow_none=True)
    org_id = ma.fields.Integer(allow_none=True)
    org_name = ma.fields.String(allow_none=True)
    plugin = ma.fields.String(allow_none=True)
    enabled = ma.fields.Boolean(allow_none=True)


class ModuleSchema(ma.Schema):
    name = ma.fields.String()
    label = ma.fields.String()
    description = ma.fields.String()
    requires = ma.fields.List(ma.fields.String())
    enabled = ma.fields.Boolean()
    override = ma.fields.Boolean(allow_none=True, metadata={"description": "This organisation's own switch, "
                                                                           "null when none"})
    sources = ma.fields.List(ma.fields.Nested(SourceSchema))


class ModulesSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ModuleSchema))
    enabled = ma.fields.List(ma.fields.String())


class OverrideSchema(ma.Schema):
    enabled = ma.fields.Boolean(required=True, allow_none=True,
                                metadata={"description": "true/false switches the module on/off for this "
                                                         "organisation; null removes the switch"})


# --- packages ------------------------------------------------------------------------------------

def _require_some_admin() -> None:
    """Packages are listed to platform admins and to whoever may see modules somewhere."""
    access = current_access()
    if access.is_platform_admin:
        return
    orgs = db.session.execute(sa.select(Organisation).where(Organisation.id.in_(access.org_ids))).scalars()
    if not any("core.modules.read" in access.held_permissions(org) for org in orgs):
        error(403, "permission core.modules.read required")


def _package(package_id: int) -> Package:
    package = db.session.get(Package, package_id)
    if package is None:
        error(404, "no such package")
    return package


@blp.route("/packages")
class Packages(MethodView):
    @authenticated_endpoint
    @blp.response(200, PackageSchema(many=True))
    @blp.alt_response(403, description="Needs core.modules.read on some organisation")
    def get(self):
        """All packages."""
        _require_some_admin()
        return service.list_packages(db.session)

    @platform_admin_endpoint
    @blp.arguments(PackageSchema)
    @blp.response(201, PackageSchema)
    @blp.alt_response(409, description="The key exists already")
    def post(self, data):
        """Create a package (platform admins)."""
        package = service.create_package(db.session, _plugins(), **data)
        db.session.commit()
        return package


@blp.route("/packages/<int:package_id>")
class PackageResource(MethodView):
    @authenticated_endpoint
    @blp.etag
    @blp.response(200, PackageSchema)
    def get(self, package_id):
        _require_some_admin()
        package = _package(package_id)
        blp.set_etag(PackageSchema().dump(package))
        return package

    @platform_admin_endpoint
    @blp.etag
    @blp.arguments(PackageUpdateSchema)
    @blp.response(200, PackageSchema)
    def patch(self, data, package_id):
        """Change a package (platform admins); needs `If-Match`. Organisations subscribed get the new set."""
        package = _package(package_id)
        blp.check_etag(PackageSchema().dump(package))
        service.update_package(db.session, _plugins(), package, **data)
        db.session.commit()
        blp.set_etag(PackageSchema().dump(package))
        return package


# --- subscriptions ----------------------------------------------------------------------------------

@blp.route("/orgs/<int:org_id>/subscriptions")
class Subscriptions(MethodView):
    @blp.requires("core.modules.read")
    @blp.response(200, SubscriptionSchema(many=True))
    def get(self, org_id):
        """This organisation's own subscriptions, newest first (what ancestors grant shows under modules)."""
        return service.subscriptions_of(db.session, g.org)

    @blp.requires("core.modules.write")
    @blp.arguments(SubscriptionSchema)
    @blp.response(201, SubscriptionSchema)
    def post(self, data, org_id):
        """Subscribe this organisation (and, with `include_descendants`, its subtree) to a package."""
        sub = service.subscribe(db.session, g.org, **data)
        db.session.commit()
        current_access().forget()  # enabled modules themselves are recomputed after the commit
        return sub


@blp.route("/orgs/<int:org_id>/subscriptions/<int:subscription_id>")
class SubscriptionResource(MethodView):
    @blp.requires("core.modules.write")
    @blp.response(204)
    def delete(self, org_id, subscription_id):
        """End a subscription today (it stays on record); one that has not started yet is removed."""
        sub = service.get_subscription(db.session, g.org, subscription_id)
        service.end_subscription(db.session, sub)
        db.session.commit()
        current_access().forget()  # enabled modules themselves are recomputed after the commit


# --- modules ----------------------------------------------------------------------------------------



@blp.route("/orgs/<int:org_id>/modules")
class Modules(MethodView):
    @blp.requires("core.modules.read")
    @blp.response(200, ModulesSchema)
    def get(self, org_id):
        """Every module: whether it is on here and why (packages, ancestors, overrides, requirements)."""
        items = service.module_overview(db.session, _plugins(), g.org)
        return {"items": items, "enabled": sorted(m.name for m in items if m.enabled)}


@blp.route("/orgs/<int:org_id>/modules/<plugin>")
class ModuleResource(MethodView):
    @blp.requires("core.modules.read")
    @blp.response(200, ModuleSchema)
    def get(self, org_id, plugin):
        return _module_state(plugin)

    @blp.requires("core.modules.write")
    @blp.arguments(OverrideSchema)
    @blp.response(200, ModuleSchema)
    @blp.alt_response(404, description="No such module")
    def put(self, data, org_id, plugin):
        """Switch a module on or off for this organisation (null: back to what the packages give).

        Switching on also switches on the modules it requires; switching off keeps all its data."""
        try:
            service.set_override(db.session, _plugins(), g.org, plugin, data["enabled"])
        except service.ModuleError as exc:
            db.session.rollback()
            error(404, str(exc))
        db.session.commit()
        current_access().forget()  # enabled modules themselves are recomputed after the commit
        return _module_state(plugin)


def _module_state(plugin: str):
    for state in service.module_overview(db.session, _plugins(), g.org):
        if state.name == plugin:
            return state
    error(404, f"unknown module {plugin!r}")

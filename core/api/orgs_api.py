"""`/api/v1/orgs`, `/api/v1/organisation-kinds`, `/api/v1/orgs/{org_id}/settings`: the organisation tree.

Organisations a user cannot see do not exist for them (404), also when named in a body (`parent_id`).
Updates need `If-Match` with the ETag of the last GET (428 without, 412 when stale).
"""
from __future__ import annotations

import marshmallow as ma
from flask import current_app, g
from flask.views import MethodView
from marshmallow import validate

from core import validation
from core.access import current_access, visible_org_filter
from core.api import ApiBlueprint, PageArgs, error, page_schema, paginate
from core.db import db
from core.gates import active_modules, authenticated_endpoint, enabled_modules, platform_admin_endpoint
from core.models import Organisation
from core.services import organisations as service
from core.settings import SettingErrors, SettingForbidden, effective_settings, set_settings

blp = ApiBlueprint("orgs", __name__, url_prefix="/api/v1", description="Organisations, their kinds and settings")

SEE_BANK_ACCOUNT = "core.people.national_number"


# --- schemas ----------------------------------------------------------------------------------

def _checked(fn):
    return validation.marshmallow_validator(fn)


class OrganisationFieldsSchema(ma.Schema):
    """The editable fields; identifiers are validated here and normalised by the service."""

    name = ma.fields.String(validate=validate.Length(min=1, max=255))
    short_name = ma.fields.String(allow_none=True, validate=validate.Length(max=100))
    kind = ma.fields.String(validate=validate.Length(min=1, max=40))
    street = ma.fields.String(allow_none=True, validate=validate.Length(max=255))
    postal_code = ma.fields.String(allow_none=True, validate=validate.Length(max=16))
    city = ma.fields.String(allow_none=True, validate=validate.Length(max=100))
    country = ma.fields.String(allow_none=True, validate=_checked(service.country))
    email = ma.fields.String(allow_none=True, validate=_checked(validation.email))
    phone = ma.fields.String(allow_none=True, validate=_checked(validation.phone))
    website = ma.fields.String(allow_none=True, validate=_checked(service.website))
    kbo_number = ma.fields.String(allow_none=True, validate=_checked(validation.kbo_number),
                                  metadata={"description": "KBO/BCE enterprise number, e.g. 0403.170.701"})
    v_code = ma.fields.String(allow_none=True, validate=_checked(validation.v_code),
                              metadata={"description": "Flemish association code: V + 7 digits"})
    iban = ma.fields.String(allow_none=True, validate=_checked(validation.iban))
    bic = ma.fields.String(allow_none=True, validate=_checked(validation.bic))
    legal_form = ma.fields.String(allow_none=True, validate=validate.Length(max=40))


class OrganisationCreateSchema(OrganisationFieldsSchema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=255))
    kind = ma.fields.String(required=True, validate=validate.Length(min=1, max=40))
    parent_id = ma.fields.Integer(load_default=None, allow_none=True,
                                  metadata={"description": "Omit (or null) for a root: platform admins only"})


class OrganisationUpdateSchema(OrganisationFieldsSchema):
    pass


def _iban_for(org: Organisation) -> str | None:
    if not org.iban:
        return org.iban
    shown = g.get("_orgs_api_show_iban", set())
    return org.iban if org.id in shown else validation.mask_iban(org.iban)


class OrganisationSchema(ma.Schema):
    id = ma.fields.Integer()
    parent_id = ma.fields.Integer(allow_none=True)
    path = ma.fields.String()
    depth = ma.fields.Integer()
    kind = ma.fields.String()
    name = ma.fields.String()
    short_name = ma.fields.String(allow_none=True)
    street = ma.fields.String(allow_none=True)
    postal_code = ma.fields.String(allow_none=True)
    city = ma.fields.String(allow_none=True)
    country = ma.fields.String()
    email = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    website = ma.fields.String(allow_none=True)
    kbo_number = ma.fields.String(allow_none=True)
    v_code = ma.fields.String(allow_none=True)
    iban = ma.fields.Function(_iban_for, metadata={
        "description": "Masked unless the user may see bank accounts (core.people.national_number)"})
    bic = ma.fields.String(allow_none=True)
    legal_form = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class OrganisationDetailSchema(OrganisationSchema):
    modules = ma.fields.Function(lambda org: sorted(enabled_modules(org)),
                                 metadata={"description": "Names of the modules enabled for this organisation"})


OrganisationPageSchema = page_schema(OrganisationSchema, "OrganisationPage")


class OrganisationListArgs(PageArgs):
    q = ma.fields.String(load_default=None, metadata={"description": "Part of the name, short name or city"})
    kind = ma.fields.String(load_default=None)
    parent_id = ma.fields.Integer(load_default=None)


class ChildrenArgs(PageArgs):
    depth = ma.fields.String(load_default="1", validate=validate.OneOf(["1", "all"]),
                             metadata={"description": "`1`: direct children; `all`: the whole subtree (tree order)"})


class MoveSchema(ma.Schema):
    parent_id = ma.fields.Integer(required=True, allow_none=True,
                                  metadata={"description": "The new parent; null makes a root (platform admins)"})


class OrganisationKindSchema(ma.Schema):
    key = ma.fields.String(required=True, validate=validate.Regexp(service.KIND_KEY_RE,
                                                                   error="2-40 lower-case letters, digits or _"))
    labels = ma.fields.Dict(keys=ma.fields.String(validate=validate.OneOf(["nl", "fr", "en"])),
                            values=ma.fields.String(validate=validate.Length(min=1, max=100)), required=True)
    position = ma.fields.Integer(load_default=None, allow_none=True)
    label = ma.fields.Method("_label", dump_only=True)

    def _label(self, kind) -> str:
        from flask_babel import get_locale

        return kind.label(str(get_locale() or "nl"))


class SettingSchema(ma.Schema):
    key = ma.fields.Function(lambda s: s.spec.key)
    label = ma.fields.Function(lambda s: str(s.spec.label))
    description = ma.fields.Function(lambda s: str(s.spec.description))
    type = ma.fields.Function(lambda s: s.spec.type_name)
    choices = ma.fields.Function(lambda s: list(s.spec.choices))
    default = ma.fields.Function(lambda s: s.spec.default)
    value = ma.fields.Raw()
    source = ma.fields.String(metadata={"description": "own, inherited (from `source_org_id`) or default"})
    source_org_id = ma.fields.Integer(allow_none=True)
    write_permission = ma.fields.Function(lambda s: s.spec.write_permission)


class SettingsSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SettingSchema))


class SettingsUpdateSchema(ma.Schema):
    values = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(allow_none=True), required=True,
                            metadata={"description": "Setting key → value; null removes this organisation's "
                                                     "own value so it inherits again"})


# --- helpers ------------------------------------------------------------------------------------

def _visible_org(org_id: int | None, field: str = "parent_id") -> Organisation:
    """An organisation named in a body: one the user cannot see answers 404 like one that does not exist."""
    org = db.session.get(Organisation, org_id) if org_id is not None else None
    if org is None or not current_access().can_see(org):
        error(404, "no such organisation", **{field: "no such organisation"})
    return org


def _may_create_below(parent: Organisation | None) -> bool:
    access = current_access()
    if parent is None:
        return access.is_platform_admin
    return access.has("core.organisation.create", parent)


def _show_iban_of(orgs) -> None:
    access = current_access()
    shown = g.setdefault("_orgs_api_show_iban", set())
    for org in orgs:
        if access.is_platform_admin or SEE_BANK_ACCOUNT in access.held_permissions(org):
            shown.add(org.id)


def _etag_data(org: Organisation) -> dict:
    """The stored state of an organisation (what a concurrent edit would change), independent of the viewer."""
    return {column.key: str(getattr(org, column.key)) for column in Organisation.__table__.columns}


def _settings_etag(items) -> list:
    return [[s.spec.key, s.value, s.source, s.source_org_id] for s in items]


def _registry():
    return current_app.extensions["federa"].settings




# --- organisations ------------------------------------------------------------------------------

@blp.route("/orgs")
class Organisations(MethodView):
    @authenticated_endpoint
    @blp.arguments(OrganisationListArgs, location="query")
    @blp.response(200, OrganisationPageSchema)
    def get(self, args):
        """Organisations the user can see, in tree order; filter by `q`, `kind`, `parent_id`.

        Bank accounts are always masked in lists; ask for one organisation to see it."""
        query = service.search_organisations(visible_org_filter(current_access()), q=args["q"], kind=args["kind"],
                                             parent_id=args["parent_id"])
        return paginate(db.session, query, args["page"], args["page_size"])

    @authenticated_endpoint
    @blp.etag
    @blp.arguments(OrganisationCreateSchema)
    @blp.response(201, OrganisationDetailSchema)
    @blp.alt_response(403, description="Needs core.organisation.create on the parent (a root: platform admin)")
    @blp.alt_response(404, description="The parent does not exist or is not visible")
    def post(self, data):
        """Create an organisation below `parent_id`."""
        parent_id = data.pop("parent_id")
        parent = _visible_org(parent_id) if parent_id is not None else None
        if not _may_create_below(parent):
            error(403, "only a platform admin creates a root organisation" if parent is None
                  else "permission core.organisation.create required on the parent organisation")
        org = service.create_organisation(db.session, parent=parent, **data)
        db.session.commit()
        _show_iban_of([org])
        blp.set_etag(_etag_data(org))
        return org, 201, {"Location": f"/api/v1/orgs/{org.id}"}


@blp.route("/orgs/<int:org_id>")
class OrganisationResource(MethodView):
    @blp.etag
    @blp.response(200, OrganisationDetailSchema)
    def get(self, org_id):
        """One organisation with its enabled modules; the ETag is needed to change it."""
        org = g.org
        _show_iban_of([org])
        blp.set_etag(_etag_data(org))
        return org

    @blp.requires("core.organisation.write")
    @blp.etag
    @blp.arguments(OrganisationUpdateSchema)
    @blp.response(200, OrganisationDetailSchema)
    def patch(self, data, org_id):
        """Change fields; needs `If-Match`. Move with `POST .../move`."""
        org = g.org
        blp.check_etag(_etag_data(org))
        service.update_organisation(db.session, org, **data)
        db.session.commit()
        _show_iban_of([org])
        blp.set_etag(_etag_data(org))
        return org

    @blp.response(204)
    @blp.alt_response(403, description="Needs core.organisation.create on the parent (a root: platform admin)")
    @blp.alt_response(409, description="It still has organisations below it, people or module data")
    def delete(self, org_id):
        """Delete an organisation without children, people or module data."""
        org = g.org
        parent = org.parent
        if not _may_create_below(parent):
            error(403, "permission core.organisation.create required on the parent organisation")
        service.delete_organisation(db.session, org)
        db.session.commit()


@blp.route("/orgs/<int:org_id>/move")
class MoveOrganisation(MethodView):
    @blp.arguments(MoveSchema)
    @blp.response(200, OrganisationDetailSchema)
    @blp.alt_response(403, description="Needs core.organisation.create on the old and the new parent")
    @blp.alt_response(409, description="The new parent lies below the organisation itself")
    def post(self, data, org_id):
        """Move an organisation with its subtree below another parent."""
        org = g.org
        target = _visible_org(data["parent_id"]) if data["parent_id"] is not None else None
        if not _may_create_below(org.parent) or not _may_create_below(target):
            error(403, "moving needs permission core.organisation.create on the old and the new parent "
                       "(a root: platform admin)")
        service.move_organisation(db.session, org, target)
        db.session.commit()
        current_access().forget()  # what ancestors grant has changed
        _show_iban_of([org])
        return org


@blp.route("/orgs/<int:org_id>/children")
class Children(MethodView):
    @blp.arguments(ChildrenArgs, location="query")
    @blp.response(200, OrganisationPageSchema)
    def get(self, args, org_id):
        """The organisations directly below (`depth=1`) or the whole subtree below (`depth=all`, tree order)."""
        org = g.org
        if args["depth"] == "all":
            query = service.search_organisations(below=org).where(Organisation.id != org.id)
        else:
            query = service.search_organisations(parent_id=org.id)
        return paginate(db.session, query, args["page"], args["page_size"])


# --- kinds ---------------------------------------------------------------------------------------

@blp.route("/organisation-kinds")
class Kinds(MethodView):
    @authenticated_endpoint
    @blp.response(200, OrganisationKindSchema(many=True))
    def get(self):
        """Kinds of organisation (federation, region, club, government, ...), with labels."""
        return service.list_kinds(db.session)

    @platform_admin_endpoint
    @blp.arguments(OrganisationKindSchema)
    @blp.response(201, OrganisationKindSchema)
    @blp.alt_response(409, description="The key exists already")
    def post(self, data):
        """Add a kind (platform admins)."""
        kind = service.create_kind(db.session, data["key"], data["labels"], data["position"])
        db.session.commit()
        return kind


# --- settings --------------------------------------------------------------------------------------

@blp.route("/orgs/<int:org_id>/settings")
class Settings(MethodView):
    @blp.requires("core.organisation.read")
    @blp.etag
    @blp.response(200, SettingsSchema)
    def get(self, org_id):
        """Every setting of core and the enabled modules: effective value and where it comes from."""
        items = effective_settings(db.session, _registry(), g.org, active_modules(g.org))
        blp.set_etag(_settings_etag(items))
        return {"items": items}

    @blp.requires("core.organisation.write")
    @blp.etag
    @blp.arguments(SettingsUpdateSchema)
    @blp.response(200, SettingsSchema)
    @blp.alt_response(403, description="A setting needs a further permission (see `write_permission`)")
    def put(self, data, org_id):
        """Set values on this organisation (they apply to its subtree); needs `If-Match`."""
        org = g.org
        registry = _registry()
        modules = active_modules(org)
        blp.check_etag(_settings_etag(effective_settings(db.session, registry, org, modules)))
        access = current_access()
        try:
            set_settings(db.session, registry, org, data["values"], modules=modules,
                         allowed=lambda spec: access.has(spec.write_permission, org))
        except SettingForbidden as exc:
            db.session.rollback()
            error(403, str(exc))
        except SettingErrors as exc:
            db.session.rollback()
            from flask_smorest import abort

            abort(422, message="invalid settings",
                  errors={"json": {"values": {k: [v] for k, v in exc.errors.items()}}})
        db.session.commit()
        items = effective_settings(db.session, registry, org, modules)
        blp.set_etag(_settings_etag(items))
        return {"items": items}


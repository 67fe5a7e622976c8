"""REST API: people of an organisation and the custom fields it defines.

`/api/v1/orgs/{org_id}/people[/{person_id}]`, `.../people/link`, `.../people/{person_id}/merge`,
`/api/v1/orgs/{org_id}/custom-fields[/{field_id}]`. People are global; an organisation sees those
linked to it or to an organisation below it, and anyone else answers 404. Refusals of the services
(`DomainError`) become JSON errors with field details in the app's error handler. The national number is
masked unless the user has `core.people.national_number`; each read of one person is audited.
"""
from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask import Response, g
from flask_smorest.fields import Upload
from flask.views import MethodView
from marshmallow import validate

from core import audit
from core import validation
from core.access import current_access
from core.api import ApiBlueprint, PageArgs, page_schema
from core.db import db
from core.gates import enabled_modules, federa
from core.models import Organisation, Person, User
from core.services import NotFound
from core.services import custom_fields as cf
from core.services import people, photos
from core.files import ImageError, read_limited

blp = ApiBlueprint("people", __name__, url_prefix="/api/v1",
                   description="People of an organisation, duplicates and merging, custom fields")


def _visible_person(person_id: int) -> Person:
    return people.visible_person(db.session, g.org, person_id)


def person_payload(person: Person, org: Organisation) -> dict:
    """What a user sees of a person in `org`: the number masked without the right, custom fields that
    apply there, and only the organisations they can see."""
    access = current_access()
    number = person.national_number
    shown = (validation.format_national_number(number) if access.has("core.people.national_number", org)
             else validation.mask_national_number(number))
    data = {key: getattr(person, key) for key in people.EDITABLE}
    data.update(
        id=person.id, full_name=person.full_name, national_number=shown or None,
        has_photo=bool(person.photo_file), created_at=person.created_at, updated_at=person.updated_at,
        custom_fields={f.key: value for f, value in cf.values_for(db.session, org, person) if value is not None},
        organisations=[{"id": org_id, "name": name}
                       for org_id, name in people.links_in(db.session, org, [person.id])[person.id]],
        has_login=db.session.execute(sa.select(User.id).where(User.person_id == person.id)).first() is not None,
    )
    return data


# --- schemas --------------------------------------------------------------------------------------

class OrgRefSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class PersonSchema(ma.Schema):
    id = ma.fields.Integer()
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    full_name = ma.fields.String()
    birth_date = ma.fields.Date(allow_none=True)
    gender = ma.fields.String(allow_none=True)
    national_number = ma.fields.String(allow_none=True, metadata={
        "description": "masked (••.••.••-•••.97) without the permission core.people.national_number"})
    street = ma.fields.String(allow_none=True)
    house_number = ma.fields.String(allow_none=True)
    box = ma.fields.String(allow_none=True)
    postal_code = ma.fields.String(allow_none=True)
    city = ma.fields.String(allow_none=True)
    country = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    email_alt = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    mobile = ma.fields.String(allow_none=True)
    emergency_contact_name = ma.fields.String(allow_none=True)
    emergency_contact_phone = ma.fields.String(allow_none=True)
    preferred_language = ma.fields.String()
    has_photo = ma.fields.Boolean()
    has_login = ma.fields.Boolean()
    custom_fields = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw())
    organisations = ma.fields.List(ma.fields.Nested(OrgRefSchema),
                                   metadata={"description": "the person's organisations in this subtree"})
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class PersonListItemSchema(ma.Schema):
    id = ma.fields.Integer()
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    full_name = ma.fields.String()
    birth_date = ma.fields.Date(allow_none=True)
    gender = ma.fields.String(allow_none=True)
    postal_code = ma.fields.String(allow_none=True)
    city = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    organisations = ma.fields.List(ma.fields.Nested(OrgRefSchema))


PersonPageSchema = page_schema(PersonListItemSchema, "PersonPageSchema")


def _text(**kwargs):
    return ma.fields.String(allow_none=True, **kwargs)


class PersonFieldsSchema(ma.Schema):
    """Person fields as sent by clients; `core.services.people` validates their content."""

    first_name = _text()
    last_name = _text()
    birth_date = ma.fields.Date(allow_none=True)
    gender = _text(metadata={"description": "M, F or X"})
    national_number = _text(metadata={"description": "national register or BIS number"})
    street = _text()
    house_number = _text()
    box = _text()
    postal_code = _text()
    city = _text()
    country = _text(metadata={"description": "two-letter code, default BE"})
    email = _text()
    email_alt = _text()
    phone = _text()
    mobile = _text()
    emergency_contact_name = _text()
    emergency_contact_phone = _text()
    preferred_language = _text(metadata={"description": "nl, fr or en"})
    custom_fields = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(allow_none=True),
                                   metadata={"description": "{key: value} for the custom fields that apply"})


class PersonCreateSchema(PersonFieldsSchema):
    first_name = ma.fields.String(required=True)
    last_name = ma.fields.String(required=True)
    confirm_duplicate = ma.fields.Boolean(load_default=False, metadata={
        "description": "create even though someone with the same name and birth date exists"})


class PeopleQuerySchema(PageArgs):
    """Filters of the people list; also `cf.<key>=value` for custom fields and the keys of the
    enabled plugins' search fields (`<plugin>.<name>=value`)."""

    class Meta:
        unknown = ma.INCLUDE

    q = ma.fields.String(metadata={"description": "free text: name, e-mail, postal code, city"})
    gender = ma.fields.String(validate=validate.OneOf(people.GENDERS))
    birth_year = ma.fields.Integer(validate=validate.Range(min=1900, max=2100))
    age_min = ma.fields.Integer(validate=validate.Range(min=0, max=150))
    age_max = ma.fields.Integer(validate=validate.Range(min=0, max=150))
    birthday_month = ma.fields.Integer(validate=validate.Range(min=1, max=12))
    postal_code = ma.fields.String()
    city = ma.fields.String()
    org_id = ma.fields.Integer(metadata={"description": "only people of this organisation below this one"})
    sort = ma.fields.String(load_default="name", metadata={
        "description": f"one of {', '.join(people.SORTS)}; prefix - for descending"})


class LinkSchema(ma.Schema):
    person_id = ma.fields.Integer()
    national_number = ma.fields.String()
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    birth_date = ma.fields.Date()


class MergeSchema(ma.Schema):
    other_person_id = ma.fields.Integer(required=True, metadata={
        "description": "the duplicate record: folded into the person of the URL, then deleted"})


class CustomFieldSchema(ma.Schema):
    id = ma.fields.Integer()
    org_id = ma.fields.Integer()
    key = ma.fields.String()
    label = ma.fields.String()
    field_type = ma.fields.String()
    choices = ma.fields.List(ma.fields.String())
    required = ma.fields.Boolean()
    position = ma.fields.Integer()
    inherited = ma.fields.Boolean(metadata={"description": "defined by an organisation above this one"})


class CustomFieldCreateSchema(ma.Schema):
    key = ma.fields.String(required=True)
    label = ma.fields.String(required=True)
    field_type = ma.fields.String(required=True, validate=validate.OneOf(("text", "memo", "choice", "date", "bool")))
    choices = ma.fields.List(ma.fields.String(), load_default=list)
    required = ma.fields.Boolean(load_default=False)
    position = ma.fields.Integer(load_default=0)


class CustomFieldUpdateSchema(ma.Schema):
    label = ma.fields.String()
    choices = ma.fields.List(ma.fields.String())
    required = ma.fields.Boolean()
    position = ma.fields.Integer()


# --- people ---------------------------------------------------------------------------------------

LIST_FILTERS = ("q", "gender", "birth_year", "age_min", "age_max", "birthday_month", "postal_code", "city")


def filter_people(org: Organisation, args: dict):
    """The people-list query for the parsed list arguments; `cf.*` and plugin keys arrive as extras."""
    known = set(LIST_FILTERS) | {"org_id", "sort", "page", "page_size"}
    custom = {k[3:]: v for k, v in args.items() if k.startswith("cf.")}
    extra = {k: v for k, v in args.items() if k not in known and not k.startswith("cf.")}
    # Plugin filters only when some are asked for: the enabled modules cost two queries.
    search_fields = people.search_fields_for(federa().plugins, enabled_modules(org)) if extra else {}
    return people.people_query(db.session, org, **{k: args.get(k) for k in LIST_FILTERS},
                               within=args.get("org_id"), custom=custom, extra=extra,
                               search_fields=search_fields, sort=args.get("sort") or "name")


def list_items(org: Organisation, persons: list[Person]) -> list[dict]:
    links = people.links_in(db.session, org, [p.id for p in persons])
    return [{"id": p.id, "first_name": p.first_name, "last_name": p.last_name, "full_name": p.full_name,
             "birth_date": p.birth_date, "gender": p.gender, "postal_code": p.postal_code, "city": p.city,
             "email": p.email, "organisations": [{"id": i, "name": n} for i, n in links[p.id]]}
            for p in persons]


@blp.route("/orgs/<int:org_id>/people")
class PeopleResource(MethodView):
    @blp.requires("core.people.read")
    @blp.arguments(PeopleQuerySchema, location="query", unknown=ma.INCLUDE)
    @blp.response(200, PersonPageSchema)
    def get(self, args, org_id):
        """People linked to this organisation or one below it, filtered, sorted and paginated."""
        query = filter_people(g.org, args)
        page = people.list_page(db.session, query, args["page"], args["page_size"], searching=bool(args.get("q")))
        page["items"] = list_items(g.org, page["items"])
        return page

    @blp.requires("core.people.write")
    @blp.arguments(PersonCreateSchema)
    @blp.response(201, PersonSchema)
    @blp.alt_response(409, description="Probable duplicate: `existing_person_id` points to the existing record")
    def post(self, data, org_id):
        """Create a person and link them to this organisation.

        Same national number as an existing person: 409 (link that person instead). Same name and
        birth date: 409 unless `confirm_duplicate` is true."""
        confirm = data.pop("confirm_duplicate", False)
        person = people.create_person(db.session, g.org, data, confirm_duplicate=confirm)
        db.session.commit()
        return person_payload(person, g.org)


@blp.route("/orgs/<int:org_id>/people/link")
class PeopleLinkResource(MethodView):
    @blp.requires("core.people.write")
    @blp.arguments(LinkSchema)
    @blp.response(200, PersonSchema)
    @blp.alt_response(404, description="No person matches the details")
    def post(self, data, org_id):
        """Link an existing person to this organisation, proven by their national number, or by
        `person_id` with first name, last name and birth date."""
        person, _ = people.link_person(db.session, g.org, **data)
        db.session.commit()
        return person_payload(person, g.org)


@blp.route("/orgs/<int:org_id>/people/<int:person_id>")
class PersonResource(MethodView):
    @blp.requires("core.people.read")
    @blp.etag
    @blp.response(200, PersonSchema)
    def get(self, org_id, person_id):
        """One person (the read is recorded in the audit log); the ETag is needed to change them."""
        person = _visible_person(person_id)
        payload = person_payload(person, g.org)
        audit.record_view(db.session, person.id)
        db.session.commit()
        return payload

    @blp.requires("core.people.write")
    @blp.etag
    @blp.arguments(PersonFieldsSchema)
    @blp.response(200, PersonSchema)
    def patch(self, data, org_id, person_id):
        """Change some fields (send `If-Match` with the ETag of the last GET)."""
        person = _visible_person(person_id)
        blp.check_etag(person_payload(person, g.org), PersonSchema)
        people.update_person(db.session, g.org, person, data)
        db.session.commit()
        return person_payload(person, g.org)

    @blp.requires("core.people.write")
    @blp.response(204)
    @blp.alt_response(409, description="Linked only to an organisation below this one")
    def delete(self, org_id, person_id):
        """Unlink the person from this organisation; the person record itself stays."""
        person = _visible_person(person_id)
        people.unlink_person(db.session, g.org, person)
        db.session.commit()


@blp.route("/orgs/<int:org_id>/people/<int:person_id>/merge")
class PersonMergeResource(MethodView):
    @blp.requires("core.people.merge")
    @blp.arguments(MergeSchema)
    @blp.response(200, PersonSchema)
    @blp.alt_response(409, description="Both have a login, or different national numbers")
    def post(self, data, org_id, person_id):
        """Fold `other_person_id` into this person: every reference moves here, empty fields are
        filled from it, then it is deleted."""
        keep = _visible_person(person_id)
        remove = _visible_person(data["other_person_id"])
        people.merge_people(db.session, keep, remove)
        db.session.commit()
        return person_payload(keep, g.org)


class PhotoUploadSchema(ma.Schema):
    photo = Upload(required=True, metadata={"description": "JPEG, PNG, GIF or WebP, at most 2 MB"})


@blp.route("/orgs/<int:org_id>/people/<int:person_id>/photo")
class PersonPhotoResource(MethodView):
    @blp.requires("core.people.read")
    @blp.response(200, content_type="image/jpeg")
    def get(self, org_id, person_id):
        """The photo (a JPEG of at most 600 px without metadata); 404 when there is none."""
        person = _visible_person(person_id)
        data = photos.photo_bytes(person)
        if data is None:
            raise NotFound("this person has no photo")
        audit.record_view(db.session, person.id, what="photo")
        db.session.commit()
        return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=300"})

    @blp.requires("core.people.write")
    @blp.arguments(PhotoUploadSchema, location="files")
    @blp.response(200, PersonSchema)
    @blp.alt_response(413, description="Larger than 2 MB")
    def put(self, files, org_id, person_id):
        """Set the photo: checked by content, re-encoded as a small JPEG, location and camera data removed."""
        person = _visible_person(person_id)
        try:
            data = read_limited(files["photo"].stream)
        except ImageError as exc:
            raise photos.PhotoTooLarge(str(exc), field="photo") from None
        photos.set_photo(db.session, person, data)
        db.session.commit()
        return person_payload(person, g.org)

    @blp.requires("core.people.write")
    @blp.response(204)
    def delete(self, org_id, person_id):
        """Remove the photo."""
        person = _visible_person(person_id)
        photos.remove_photo(db.session, person)
        db.session.commit()


# --- custom fields ----------------------------------------------------------------------------------

def field_payload(field, org: Organisation) -> dict:
    return {"id": field.id, "org_id": field.org_id, "key": field.key, "label": field.label,
            "field_type": field.field_type, "choices": list(field.choices or ()), "required": field.required,
            "position": field.position, "inherited": field.org_id != org.id}


def _own_field(field_id: int):
    return cf.get_own_field(db.session, g.org, field_id)


@blp.route("/orgs/<int:org_id>/custom-fields")
class CustomFieldsResource(MethodView):
    @blp.requires("core.people.read")
    @blp.response(200, CustomFieldSchema(many=True))
    def get(self, org_id):
        """The custom fields that apply here: this organisation's and those of the organisations above."""
        return [field_payload(f, g.org) for f in cf.applicable_fields(db.session, g.org)]

    @blp.requires("core.custom_fields.write")
    @blp.arguments(CustomFieldCreateSchema)
    @blp.response(201, CustomFieldSchema)
    @blp.alt_response(409, description="The key is already used here, above or below")
    def post(self, data, org_id):
        """Define a custom field; it applies to this organisation and everything below it."""
        field = cf.create_field(db.session, g.org, **data)
        db.session.commit()
        return field_payload(field, g.org)


@blp.route("/orgs/<int:org_id>/custom-fields/<int:field_id>")
class CustomFieldResource(MethodView):
    @blp.requires("core.people.read")
    @blp.etag
    @blp.response(200, CustomFieldSchema)
    def get(self, org_id, field_id):
        """One field that applies here (also an inherited one); the ETag is needed to change it."""
        for field in cf.applicable_fields(db.session, g.org):
            if field.id == field_id:
                return field_payload(field, g.org)
        raise NotFound("custom field not found")

    @blp.requires("core.custom_fields.write")
    @blp.etag
    @blp.arguments(CustomFieldUpdateSchema)
    @blp.response(200, CustomFieldSchema)
    def patch(self, data, org_id, field_id):
        """Change the label, choices, required flag or position of a field this organisation defines
        (send `If-Match`)."""
        field = _own_field(field_id)
        blp.check_etag(field_payload(field, g.org), CustomFieldSchema)
        cf.update_field(db.session, field, **data)
        db.session.commit()
        return field_payload(field, g.org)

    @blp.requires("core.custom_fields.write")
    @blp.response(204)
    def delete(self, org_id, field_id):
        """Delete a field this organisation defines, with its values."""
        field = _own_field(field_id)
        cf.delete_field(db.session, field)
        db.session.commit()

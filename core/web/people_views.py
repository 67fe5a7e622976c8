"""Admin pages: the people list, a person's page (with sections from plugins), create/edit with the
duplicate check, linking an existing person, merging two records, and custom fields.

Routes stay thin: `core.services.people` and `core.services.custom_fields` decide; pages show
their field errors next to the inputs and keep what the user typed.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import format_date, gettext as _

from core import audit, validation
from core.access import current_access
from core.db import db
from core.gates import call_org_hook, enabled_modules, federa, flatten
from core.models import CustomField, Organisation, Person, User
from core.services import Conflict, DomainError, NotFound
from core.services import custom_fields as cf
from core.files import ImageError, read_limited
from core.services import people, photos
from core.web import web
from core.web.guard import can, require

PAGE_SIZE = 50
INT_FILTERS = ("birth_year", "age_min", "age_max", "birthday_month")
TEXT_FILTERS = ("q", "gender", "postal_code", "city")


def _person_or_404(person_id: int) -> Person:
    try:
        return people.visible_person(db.session, g.org, person_id)
    except NotFound:
        abort(404)


def shown_national_number(person: Person) -> str:
    if can("core.people.national_number"):
        return validation.format_national_number(person.national_number)
    return validation.mask_national_number(person.national_number)


def _sub_organisations(org: Organisation) -> list[Organisation]:
    return list(db.session.execute(
        sa.select(Organisation).where(Organisation.path.like(org.path + "%"), Organisation.id != org.id)
        .order_by(Organisation.path)).scalars())


# --- the list ---------------------------------------------------------------------------------------

def _list_filters() -> tuple[dict, dict, dict]:
    """(filters for `people_query`, values to show back in the form, errors) from the query string."""
    args = request.args
    kwargs: dict = {}
    shown: dict = {}
    errors: dict = {}
    for key in TEXT_FILTERS:
        value = args.get(key, "").strip()
        shown[key] = value
        if value:
            kwargs[key] = value
    for key in INT_FILTERS + ("within",):
        value = args.get(key, "").strip()
        shown[key] = value
        if value:
            try:
                kwargs[key] = int(value)
            except ValueError:
                errors[key] = _("Enter a number.")
    custom = {k[3:]: v for k, v in args.items() if k.startswith("cf.") and v.strip()}
    extra = {k: v for k, v in args.items() if "." in k and not k.startswith("cf.") and v.strip()}
    shown.update({k: v for k, v in args.items() if "." in k})
    kwargs["custom"] = custom
    kwargs["extra"] = extra
    sort = args.get("sort", "name")
    kwargs["sort"] = sort if sort.lstrip("-") in people.SORTS else "name"
    shown["sort"] = kwargs["sort"]
    return kwargs, shown, errors


@web.route("/o/<int:org_id>/people", endpoint="people")
@require("core.people.read")
def people_list(org_id: int):
    org = g.org
    kwargs, shown, errors = _list_filters()
    search_fields = people.search_fields_for(federa().plugins, enabled_modules(org))
    page_no = max(request.args.get("page", 1, type=int) or 1, 1)
    result = {"items": [], "total": 0, "page": page_no, "page_size": PAGE_SIZE}
    if not errors:
        try:
            query = people.people_query(db.session, org, search_fields=search_fields, **kwargs)
        except DomainError as exc:
            errors.update(exc.details.get("errors") or {})
        else:
            result = people.list_page(db.session, query, page_no, PAGE_SIZE, searching=bool(kwargs.get("q")))
    links = people.links_in(db.session, org, [p.id for p in result["items"]])
    pages = max(1, -(-result["total"] // PAGE_SIZE))
    args = {k: v for k, v in request.args.items() if k != "page" and v}

    def page_url(number: int) -> str:
        return url_for("web.people", org_id=org.id, page=number, **args)

    return render_template(
        "core/people/list.html", org=org, result=result, links=links, shown=shown, errors=errors,
        fields=cf.applicable_fields(db.session, org), search_fields=list(search_fields.values()),
        sub_orgs=_sub_organisations(org), pages=pages, page_url=page_url, sorts=people.SORTS,
        filtered=any(v for k, v in shown.items() if k != "sort"),
        months=[(m, format_date(dt.date(2000, m, 1), "MMMM")) for m in range(1, 13)],
    )


# --- one person -------------------------------------------------------------------------------------

@web.route("/o/<int:org_id>/people/<int:person_id>")
@require("core.people.read")
def person(org_id: int, person_id: int):
    org = g.org
    subject = _person_or_404(person_id)
    access = current_access()
    sections = flatten(call_org_hook("member_profile_sections", org, person=subject, access=access))
    sections.sort(key=lambda s: (s.position, str(s.title)))
    values = cf.values_for(db.session, org, subject)
    organisations = people.links_in(db.session, org, [subject.id])[subject.id]
    has_login = db.session.execute(sa.select(User.id).where(User.person_id == subject.id)).first() is not None
    audit.record_view(db.session, subject.id)
    db.session.commit()
    return render_template("core/people/detail.html", org=org, person=subject, sections=sections,
                           custom_values=values, organisations=organisations, has_login=has_login,
                           national_number=shown_national_number(subject))


def _form_data(form, fields: list[CustomField], editing: Person | None) -> dict:
    """Person data from a submitted form; blank inputs clear a field, except a masked national number."""
    data = {key: form.get(key, "") for key in people.EDITABLE if key in form}
    if editing is not None and not can("core.people.national_number") and not data.get("national_number", "").strip():
        data.pop("national_number", None)  # the user never saw it; leaving the input empty keeps it
    custom = {}
    for field in fields:
        name = f"cf.{field.key}"
        if field.field_type == "bool":
            custom[field.key] = "true" if form.get(name) else "false"
        elif name in form:
            custom[field.key] = form.get(name)
    data["custom_fields"] = custom
    return data


def _field_values(person: Person | None, fields: list[CustomField]) -> dict:
    """Initial form values: the person's stored data, or defaults for a new one."""
    if person is None:
        return {"country": "BE", "preferred_language": "nl"}
    values = {key: getattr(person, key) or "" for key in people.EDITABLE}
    values["birth_date"] = person.birth_date.isoformat() if person.birth_date else ""
    values["national_number"] = (validation.format_national_number(person.national_number)
                                 if can("core.people.national_number") else "")
    stored = cf.stored_values(db.session, person.id, {f.key: f for f in fields})
    for field in fields:
        values[f"cf.{field.key}"] = stored.get(field.key, "")
    return values


def _errors_of(exc: DomainError) -> dict:
    errors = dict(exc.details.get("errors") or {})
    if not errors and exc.field:
        errors[exc.field] = exc.message
    return errors


@web.route("/o/<int:org_id>/people/new", methods=["GET", "POST"])
@require("core.people.write")
def person_new(org_id: int):
    org = g.org
    fields = cf.applicable_fields(db.session, org)
    values = _field_values(None, fields)
    errors: dict = {}
    duplicate = None
    if request.method == "POST":
        values = dict(request.form)
        data = _form_data(request.form, fields, None)
        try:
            created = people.create_person(db.session, org, data,
                                           confirm_duplicate=bool(request.form.get("confirm_duplicate")))
        except Conflict as exc:
            db.session.rollback()
            existing = db.session.get(Person, exc.details.get("existing_person_id"))
            duplicate = {
                "kind": exc.field,  # "national_number" or "confirm_duplicate"
                "person": existing,
                "visible": existing is not None and db.session.execute(
                    sa.select(Person.id).where(Person.id == existing.id, people.visible_in(org))).first() is not None,
            }
        except DomainError as exc:
            db.session.rollback()
            errors = _errors_of(exc)
        else:
            db.session.commit()
            flash(_("%(name)s was added.", name=created.full_name), "success")
            return redirect(url_for("web.person", org_id=org.id, person_id=created.id))
    return render_template("core/people/form.html", org=org, person=None, fields=fields, values=values,
                           errors=errors, duplicate=duplicate, can_see_number=True), \
        (422 if errors else 409 if duplicate else 200)


@web.route("/o/<int:org_id>/people/link", methods=["POST"])
@require("core.people.write")
def person_link(org_id: int):
    """Link someone who exists already (after a duplicate warning): proven by number or name and birth date."""
    org = g.org
    form = request.form
    try:
        linked, _created = people.link_person(
            db.session, org, person_id=form.get("person_id", type=int),
            national_number=form.get("national_number") or None, first_name=form.get("first_name") or None,
            last_name=form.get("last_name") or None, birth_date=form.get("birth_date") or None)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message if exc.status != 404 else _("No person matches these details."), "error")
        return redirect(url_for("web.person_new", org_id=org.id))
    db.session.commit()
    flash(_("%(name)s is now linked to %(org)s.", name=linked.full_name, org=org.name), "success")
    return redirect(url_for("web.person", org_id=org.id, person_id=linked.id))


@web.route("/o/<int:org_id>/people/<int:person_id>/edit", methods=["GET", "POST"])
@require("core.people.write")
def person_edit(org_id: int, person_id: int):
    org = g.org
    subject = _person_or_404(person_id)
    fields = cf.applicable_fields(db.session, org)
    values = _field_values(subject, fields)
    version = subject.updated_at.isoformat()
    errors: dict = {}
    if request.method == "POST":
        values = dict(request.form)
        if request.form.get("version") != version:
            # Someone saved this person since the form was opened: do not overwrite their change.
            errors["_form"] = _("Someone else changed this person in the meantime. Reload the page and try again.")
        else:
            try:
                people.update_person(db.session, org, subject, _form_data(request.form, fields, subject))
            except DomainError as exc:
                db.session.rollback()
                errors = _errors_of(exc)
            else:
                db.session.commit()
                flash(_("The changes were saved."), "success")
                return redirect(url_for("web.person", org_id=org.id, person_id=subject.id))
    return render_template("core/people/form.html", org=org, person=subject, fields=fields, values=values,
                           errors=errors, duplicate=None, version=version,
                           can_see_number=can("core.people.national_number"),
                           masked_number=validation.mask_national_number(subject.national_number)), \
        (422 if errors else 200)


@web.route("/o/<int:org_id>/people/<int:person_id>/photo")
@require("core.people.read")
def person_photo(org_id: int, person_id: int):
    subject = _person_or_404(person_id)
    data = photos.photo_bytes(subject)
    if data is None:
        abort(404)
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=300"})


@web.route("/o/<int:org_id>/people/<int:person_id>/photo", methods=["POST"])
@require("core.people.write")
def person_photo_upload(org_id: int, person_id: int):
    """Upload (or, with `remove`, delete) the photo; errors are flashed on the person page."""
    subject = _person_or_404(person_id)
    if request.form.get("remove"):
        photos.remove_photo(db.session, subject)
        db.session.commit()
        flash(_("The photo was removed."), "success")
    else:
        upload = request.files.get("photo")
        try:
            if upload is None or not upload.filename:
                raise DomainError(_("Choose a photo to upload."), field="photo")
            try:
                data = read_limited(upload.stream)
            except ImageError as exc:
                raise photos.PhotoTooLarge(str(exc), field="photo") from None
            photos.set_photo(db.session, subject, data)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("The photo was saved."), "success")
    return redirect(url_for("web.person", org_id=org_id, person_id=subject.id))


@web.route("/o/<int:org_id>/people/<int:person_id>/unlink", methods=["POST"])
@require("core.people.write")
def person_unlink(org_id: int, person_id: int):
    org = g.org
    subject = _person_or_404(person_id)
    try:
        people.unlink_person(db.session, org, subject)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("web.person", org_id=org.id, person_id=subject.id))
    db.session.commit()
    flash(_("%(name)s is no longer linked to %(org)s.", name=subject.full_name, org=org.name), "success")
    return redirect(url_for("web.people", org_id=org.id))


# --- merge ------------------------------------------------------------------------------------------

@web.route("/o/<int:org_id>/people/<int:person_id>/merge", methods=["GET", "POST"])
@require("core.people.merge")
def person_merge(org_id: int, person_id: int):
    """Choose the duplicate record, preview what the merge does, confirm."""
    org = g.org
    keep = _person_or_404(person_id)
    other_id = request.values.get("other", type=int)
    if other_id is None:
        q = request.args.get("q", "").strip()
        candidates = people.probable_duplicates(db.session, keep.first_name, keep.last_name, keep.birth_date,
                                                exclude_id=keep.id)
        candidates = [c for c in candidates if db.session.execute(
            sa.select(Person.id).where(Person.id == c.id, people.visible_in(org))).first()]
        if q:
            query = people.people_query(db.session, org, q=q).where(Person.id != keep.id)
            found = db.session.execute(query.limit(20)).scalars().all()
            candidates += [p for p in found if p not in candidates]
        return render_template("core/people/merge.html", org=org, keep=keep, other=None, candidates=candidates,
                               q=q, preview=None, error=None)
    other = _person_or_404(other_id)
    error = None
    preview = None
    try:
        preview = people.merge_preview(db.session, keep, other)
    except DomainError as exc:
        error = exc.message
    if request.method == "POST" and error is None:
        try:
            people.merge_people(db.session, keep, other)
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("The two records were merged."), "success")
            return redirect(url_for("web.person", org_id=org.id, person_id=keep.id))
    return render_template("core/people/merge.html", org=org, keep=keep, other=other, candidates=[], q="",
                           preview=preview, error=error,
                           keep_number=shown_national_number(keep), other_number=shown_national_number(other)), \
        (409 if error else 200)


# --- custom fields ----------------------------------------------------------------------------------

def _field_form() -> dict:
    form = request.form
    return {
        "label": form.get("label", ""),
        "choices": [line.strip() for line in form.get("choices", "").splitlines() if line.strip()],
        "required": bool(form.get("required")),
        "position": form.get("position", type=int) or 0,
    }


@web.route("/o/<int:org_id>/custom-fields", methods=["GET", "POST"])
@require("core.people.read")
def custom_fields(org_id: int):
    org = g.org
    errors: dict = {}
    values: dict = {"field_type": "text"}
    if request.method == "POST":
        if not can("core.custom_fields.write"):
            abort(403)
        values = dict(request.form)
        data = _field_form()
        if data["choices"] and request.form.get("field_type") != "choice":
            data["choices"] = []  # the textarea stays filled when the type is switched back
        try:
            cf.create_field(db.session, org, key=request.form.get("key", ""),
                            field_type=request.form.get("field_type", ""), **data)
        except DomainError as exc:
            db.session.rollback()
            errors = _errors_of(exc)
        else:
            db.session.commit()
            flash(_("The field was added."), "success")
            return redirect(url_for("web.custom_fields", org_id=org.id))
    fields = cf.applicable_fields(db.session, org)
    return render_template("core/people/custom_fields.html", org=org, fields=fields, errors=errors, values=values,
                           types=CustomField.TYPES, can_write=can("core.custom_fields.write")), \
        (422 if errors else 200)


def _own_field_or_404(field_id: int) -> CustomField:
    try:
        return cf.get_own_field(db.session, g.org, field_id)
    except NotFound:
        abort(404)


@web.route("/o/<int:org_id>/custom-fields/<int:field_id>", methods=["GET", "POST"])
@require("core.custom_fields.write")
def custom_field_edit(org_id: int, field_id: int):
    org = g.org
    field = _own_field_or_404(field_id)
    errors: dict = {}
    values = {"label": field.label, "choices": "\n".join(field.choices or ()), "required": field.required,
              "position": field.position}
    if request.method == "POST":
        values = dict(request.form)
        data = _field_form()
        if field.field_type != "choice":
            data.pop("choices")
        try:
            cf.update_field(db.session, field, **data)
        except DomainError as exc:
            db.session.rollback()
            errors = _errors_of(exc)
        else:
            db.session.commit()
            flash(_("The field was saved."), "success")
            return redirect(url_for("web.custom_fields", org_id=org.id))
    return render_template("core/people/custom_field_form.html", org=org, field=field, values=values,
                           errors=errors), (422 if errors else 200)


@web.route("/o/<int:org_id>/custom-fields/<int:field_id>/delete", methods=["POST"])
@require("core.custom_fields.write")
def custom_field_delete(org_id: int, field_id: int):
    field = _own_field_or_404(field_id)
    cf.delete_field(db.session, field)
    db.session.commit()
    flash(_("The field and its values were deleted."), "success")
    return redirect(url_for("web.custom_fields", org_id=g.org.id))

"""Sample plugin: notes on organisations and people, to prove the plugin contract and the gates."""
from __future__ import annotations

import click
import marshmallow as ma
import sqlalchemy as sa
from flask import Blueprint, g
from flask.views import MethodView

from core.api import ApiBlueprint
from core.db import db
from core.gates import platform_admin_endpoint, public_endpoint
from core.hookspecs import hookimpl
from core.jobs import JobSpec
from core.permissions import Permission
from core.plugins import Plugin
from core.settings import SettingSpec
from core.web import MenuItem, ProfileSection
from core.web.guard import require
from tests.sample_plugin.models import SampleNote

api = ApiBlueprint("sample_api", __name__, url_prefix="/api/v1", description="Sample notes")
web = Blueprint("sample_web", __name__)
mobile = ApiBlueprint("sample_mobile", __name__, url_prefix="/api/v1/me/sample")


class NoteSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    org_id = ma.fields.Integer(dump_only=True)
    text = ma.fields.String(required=True)


@api.route("/orgs/<int:org_id>/sample/notes")
class Notes(MethodView):
    @api.requires("sample.read")
    @api.response(200, NoteSchema(many=True))
    def get(self, org_id):
        # No explicit org filter: the session scope keeps other organisations' notes out.
        return db.session.execute(sa.select(SampleNote).order_by(SampleNote.id)).scalars().all()

    @api.requires("sample.write")
    @api.arguments(NoteSchema)
    @api.response(201, NoteSchema)
    def post(self, data, org_id):
        note = SampleNote(org_id=org_id, text=data["text"])
        db.session.add(note)
        db.session.commit()
        return note


@api.route("/orgs/<int:org_id>/sample/notes/<int:note_id>")
class Note(MethodView):
    @api.requires("sample.read")
    @api.response(200, NoteSchema)
    def get(self, org_id, note_id):
        note = db.session.execute(sa.select(SampleNote).where(SampleNote.id == note_id)).scalar_one_or_none()
        if note is None:
            from flask import abort

            abort(404)
        return note

    @api.requires("sample.write")
    @api.response(204)
    def delete(self, org_id, note_id):
        db.session.execute(sa.delete(SampleNote).where(SampleNote.id == note_id, SampleNote.org_id == org_id))
        db.session.commit()


@api.route("/sample/info")
class Info(MethodView):
    @public_endpoint
    @api.response(200)
    def get(self):
        return {"plugin": "sample"}


@api.route("/sample/stats")
class Stats(MethodView):
    @platform_admin_endpoint
    @api.response(200)
    def get(self):
        return {"notes": db.session.scalar(sa.select(sa.func.count()).select_from(SampleNote))}


@mobile.route("/hello")
class MobileHello(MethodView):
    @public_endpoint
    @mobile.response(200)
    def get(self):
        return {"hello": "member"}


@web.route("/o/<int:org_id>/sample/")
@require("sample.read")
def index(org_id):
    count = db.session.scalar(sa.select(sa.func.count()).select_from(SampleNote))
    return f"sample notes: {count}"


@web.route("/o/<int:org_id>/sample/notes", methods=["POST"])
@require("sample.write")
def add_note(org_id):
    from flask import request

    db.session.add(SampleNote(org_id=org_id, text=request.form.get("text", "")))
    db.session.commit()
    return "added", 201


def count_notes(ctx, label: str = ""):
    total = ctx.session.scalar(sa.select(sa.func.count()).select_from(SampleNote))
    return {"notes": total, "label": label}


@click.command("sample-hello")
def sample_hello():
    """Say hello from the sample plugin."""
    click.echo("hello from sample")


class SamplePlugin(Plugin):
    """Notes on organisations and people."""

    name = "sample"
    label = "Sample"

    def __init__(self):
        self.events: list[tuple[int, str, dict]] = []
        self.erased: list[int] = []

    @hookimpl
    def register_blueprints(self, app):
        return [api, web]

    @hookimpl
    def register_mobile_routes(self, app):
        return [mobile]

    @hookimpl
    def register_permissions(self):
        return [Permission("sample.read", "Read sample notes"), Permission("sample.write", "Write sample notes")]

    @hookimpl
    def register_settings(self):
        return [SettingSpec("sample.greeting", "Greeting", "hallo")]

    @hookimpl
    def register_jobs(self):
        return [JobSpec("sample.count_notes", count_notes, max_retries=0)]

    @hookimpl
    def register_cli(self):
        return [sample_hello]

    @hookimpl
    def register_document_kinds(self):
        return [{"key": "sample_letter", "label": "Sample letter"}]

    @hookimpl
    def register_notification_types(self):
        return [{"key": "sample.note_added", "label": "A note was added"}]

    @hookimpl
    def register_search_fields(self):
        from core.models import Person
        from core.services.people import SearchField

        def has_note(value, org):
            if value not in ("yes", "no"):
                raise ValueError("yes or no")
            exists = sa.exists().where(SampleNote.person_id == Person.id)
            return exists if value == "yes" else ~exists

        return [SearchField("sample.has_note", "Has a sample note", has_note, type="choice", choices=("yes", "no"))]

    @hookimpl
    def menu_items(self, org, access):
        if access.has("sample.read", org):
            return [MenuItem("Sample notes", "sample_web.index", position=50, plugin="sample")]
        return []

    @hookimpl
    def member_profile_sections(self, org, person, access):
        count = db.session.scalar(sa.select(sa.func.count()).select_from(SampleNote)
                                  .where(SampleNote.person_id == person.id))
        return [ProfileSection("Sample notes", f"<p>{count} notes</p>", plugin="sample")]

    @hookimpl
    def dashboard_panels(self, org, access):
        from core.web import DashboardPanel

        count = db.session.scalar(sa.select(sa.func.count()).select_from(SampleNote).where(SampleNote.org_id == org.id))
        return [DashboardPanel("Sample notes", f"<p>{count} notes waiting</p>", plugin="sample")]

    @hookimpl
    def on_event(self, org, event, payload):
        self.events.append((org.id, event, payload))

    @hookimpl
    def person_export(self, org, person):
        notes = db.session.execute(sa.select(SampleNote.text).where(SampleNote.person_id == person.id)).scalars()
        return {"sample_notes": list(notes)}

    @hookimpl
    def person_erase(self, org, person):
        self.erased.append(person.id)
        db.session.execute(sa.delete(SampleNote).where(SampleNote.person_id == person.id))
        return {"sample_notes": "deleted"}

    @hookimpl
    def load_demo_data(self, session, federation):
        if session.scalar(sa.select(sa.func.count()).select_from(SampleNote).where(SampleNote.org_id == federation.id)):
            return None
        session.add(SampleNote(org_id=federation.id, text="demo note"))
        return "1 sample note"

    @hookimpl
    def mobile_feed(self, org, person, since):
        return [{"plugin": "sample", "title": f"Notes of {org.name}"}]


class SampleExtraPlugin(Plugin):
    """Needs the sample plugin."""

    name = "sample_extra"
    label = "Sample extra"
    requires = ("sample",)

    @hookimpl
    def menu_items(self, org, access):
        return [MenuItem("Sample extra", "sample_web.index", position=51, plugin="sample_extra")]

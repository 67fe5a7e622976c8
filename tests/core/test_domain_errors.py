"""A refused change propagating out of a view: JSON for the API, a page for the web, nothing kept."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint

from core.db import db
from core.hookspecs import hookimpl
from core.models import Person
from core.plugins import Plugin
from core.services import Conflict
from core.api import ApiBlueprint


def test_domain_errors_answer_json_or_a_page_and_roll_back(make_app):
    api = ApiBlueprint("refuser_api", __name__, url_prefix="/api/v1")
    web = Blueprint("refuser_web", __name__)

    def refuse():
        db.session.add(Person(first_name="Half", last_name="Done"))
        db.session.flush()
        raise Conflict("this club already has a contact person", field="role_id", limit=1)

    @api.route("/orgs/<int:org_id>/refuser/thing", methods=["POST"])
    def api_thing(org_id):
        refuse()

    @web.route("/o/<int:org_id>/refuser/thing", methods=["POST"])
    def web_thing(org_id):
        refuse()

    class Refuser(Plugin):
        name = "refuser"

        @hookimpl
        def register_blueprints(self, app):
            return [api, web]

    app = make_app(plugins=[Refuser], WTF_CSRF_ENABLED=False)
    with app.app_context():
        from tests.factories import Factory

        make = Factory(db.session)
        fed = make.federation()
        admin = make.user(role="platform_admin")
        db.session.execute(sa.insert(__import__("core.models").models.ModuleOverride),
                           [{"org_id": fed.id, "plugin": "refuser", "enabled": True}])
        db.session.commit()
        headers = make.headers(admin)
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Person))
        client = app.test_client()
        response = client.post(f"/api/v1/orgs/{fed.id}/refuser/thing", headers=headers)
        assert response.status_code == 409
        assert response.json == {"code": 409, "status": "Conflict", "message": "this club already has a contact person",
                                 "limit": 1, "errors": {"json": {"role_id": ["this club already has a contact person"]}}}
        from tests.conftest import web_login

        web_login(client, admin.email)
        page = client.post(f"/o/{fed.id}/refuser/thing")
        assert page.status_code == 409
        assert "this club already has a contact person" in page.get_data(as_text=True)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == before

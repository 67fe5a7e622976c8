"""The documents plugin: personalised documents (sport certificates, member cards, letters) in one click."""
from __future__ import annotations

from flask import render_template
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from core.hookspecs import hookimpl
from core.plugins import Plugin


class DocumentsPlugin(Plugin):
    """Personalised documents for members: sport certificates, member cards, letters."""

    name = "documents"
    label = _l("Documents")
    requires = ("membership",)

    @hookimpl
    def register_blueprints(self, app):
        from plugins.documents.api import blp
        from plugins.documents.views import public, web

        return [blp, web, public]

    @hookimpl
    def register_mobile_routes(self, app):
        from plugins.documents.api import me_blp

        return [me_blp]

    @hookimpl
    def register_permissions(self):
        from plugins.documents.permissions import PERMISSIONS

        return PERMISSIONS

    @hookimpl
    def register_settings(self):
        from plugins.documents.permissions import SETTINGS

        return SETTINGS

    @hookimpl
    def register_notification_types(self):
        from plugins.documents.permissions import NOTIFICATION_TYPES

        return NOTIFICATION_TYPES

    @hookimpl
    def register_jobs(self):
        from plugins.documents.tasks import JOBS

        return JOBS

    @hookimpl
    def register_document_kinds(self):
        from plugins.documents.kinds import BUILT_IN

        return BUILT_IN

    @hookimpl
    def menu_items(self, org, access):
        from core.web import MenuItem

        if not access.has("documents.read", org):
            return []
        return [MenuItem(_l("Documents"), "documents_web.index", icon="file", position=40, plugin=self.name)]

    @hookimpl
    def member_profile_sections(self, org, person, access):
        from core.db import db
        from core.web import ProfileSection
        from plugins.documents import services
        from plugins.documents.kinds import document_kinds

        if not access.has("documents.read", org):
            return []
        html = render_template("documents/_profile_section.html", org=org, person=person,
                               documents=services.documents_of(db.session, org, person.id),
                               kinds=document_kinds().values(), can_write=access.has("documents.write", org))
        return [ProfileSection(_l("Documents"), Markup(html), position=40, plugin=self.name)]

    @hookimpl
    def mobile_feed(self, org, person, since):
        from core.db import db
        from mobile_api.feed import FeedItem
        from plugins.documents import services

        return [FeedItem(title=d.title, kind="document", id=str(d.id), plugin=self.name,
                         summary=org.name, published_at=d.created_at,
                         download_url=f"/api/v1/me/documents/{d.id}.pdf", content_type="application/pdf")
                for d in services.documents_of(db.session, org, person.id, own_only=True)]

    @hookimpl
    def person_export(self, org, person):
        from core.db import db
        from plugins.documents import services

        return services.export_person(db.session, org, person)

    @hookimpl
    def person_erase(self, org, person):
        from core.db import db
        from plugins.documents import services

        return services.erase_person(db.session, org, person)

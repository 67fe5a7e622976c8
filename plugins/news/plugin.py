"""The news plugin: posts for members and admins, with audience, schedule, image, pop-up and push."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.hookspecs import hookimpl
from core.plugins import Plugin


class NewsPlugin(Plugin):
    """News posts and pop-up messages."""

    name = "news"
    label = _l("News")

    @hookimpl
    def register_blueprints(self, app):
        from plugins.news.api import blp
        from plugins.news.views import public, web

        return [blp, web, public]

    @hookimpl
    def register_mobile_routes(self, app):
        from plugins.news.api import me_blp

        return [me_blp]

    @hookimpl
    def register_permissions(self):
        from plugins.news.permissions import PERMISSIONS

        return PERMISSIONS

    @hookimpl
    def register_jobs(self):
        from plugins.news.tasks import JOBS

        return JOBS

    @hookimpl
    def register_notification_types(self):
        from core.notifications import NotificationType

        return [NotificationType("news.published", _l("News from your organisations"),
                                 description=_l("A new post of a club or federation you belong to"),
                                 default_channels=("push",))]

    @hookimpl
    def menu_items(self, org, access):
        from core.web import MenuItem

        if not access.has("news.read", org):
            return []
        return [MenuItem(_l("News"), "news_web.posts", icon="news", position=40, plugin=self.name)]

    @hookimpl
    def load_demo_data(self, session, federation):
        from flask import current_app

        from plugins.news.demo import load

        return load(session, federation, current_app.extensions["federa"].plugins)

    @hookimpl
    def dashboard_panels(self, org, access):
        """Pop-up messages for this admin that they have not dismissed yet."""
        from flask import render_template
        from flask_babel import gettext as _

        from core.web import DashboardPanel
        from plugins.news.views import pending_popups

        if not access.is_authenticated:
            return []
        items = pending_popups(org)
        if not items:
            return []
        return [DashboardPanel(_("Messages"), render_template("news/_popups.html", org=org, items=items),
                               position=10, plugin="news")]

    @hookimpl
    def mobile_feed(self, org, person, since):
        """Published, unexpired posts of `org` whose audience includes an organisation of the person."""
        from core.db import db
        from plugins.news import services
        from plugins.news.api import reader_image_url
        from plugins.news.sanitize import plain_text

        query = services.posts_for_person(db.session, person.id, org=org)
        if since is not None:
            from plugins.news.models import NewsPost

            query = query.where(NewsPost.publish_at > since)
        posts = db.session.execute(query.limit(100)).scalars().all()
        read = services.read_post_ids(db.session, person.id, [p.id for p in posts])
        return [{
            "kind": "news", "id": str(post.id), "plugin": self.name, "title": post.title,
            "summary": plain_text(post.body_html, 300), "body_html": post.body_html,
            "image_url": reader_image_url(post), "published_at": post.publish_at,
            "status": "read" if post.id in read else "unread",
        } for post in posts]

    @hookimpl
    def person_export(self, org, person):
        from core.db import db
        from plugins.news import services

        return services.export_person(db.session, org, person.id)

    @hookimpl
    def person_erase(self, org, person):
        from core.db import db
        from plugins.news import services

        return services.erase_person(db.session, org, person.id)

"""A tiny plugin that feeds the member app (news does not exist yet): one news item, one document with a
download route, one invoice and one membership per organisation, and a notification type."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Response, abort, g
from flask.views import MethodView

from core.api import ApiBlueprint
from core.gates import authenticated_endpoint
from core.hookspecs import hookimpl
from core.notifications import NotificationType
from core.plugins import Plugin
from mobile_api import FeedItem

mobile = ApiBlueprint("feedtest_mobile", __name__, url_prefix="/api/v1/me/feedtest")
PDF = b"%PDF-1.4\n% feedtest document\n"


@mobile.route("/documents/<int:person_id>")
class Download(MethodView):
    @authenticated_endpoint
    @mobile.response(200)
    def get(self, person_id):
        if g.user.person_id != person_id:
            abort(404)
        return Response(PDF, mimetype="application/pdf")


class FeedTestPlugin(Plugin):
    """Feeds the member app in tests."""

    name = "feedtest"
    label = "Feed test"

    def __init__(self):
        self.calls: list[int] = []

    @hookimpl
    def register_mobile_routes(self, app):
        return [mobile]

    @hookimpl
    def register_notification_types(self):
        return [NotificationType("feedtest.news", "News from the test", default_channels=("push",)),
                {"key": "feedtest.digest", "label": "Weekly digest", "default_channels": ["email"]}]

    @hookimpl
    def mobile_feed(self, org, person, since):
        self.calls.append(org.id)
        day = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.timezone.utc) + dt.timedelta(days=org.depth)
        return [
            FeedItem(title=f"News of {org.name}", id=f"news-{org.id}", plugin="feedtest", summary="Training moved",
                     body_html='<p onclick="steal()">Hello <script>alert(1)</script><a href="javascript:x()">x</a>'
                               '<a href="https://example.org/more">more</a></p>', published_at=day),
            {"kind": "document", "id": f"doc-{org.id}-{person.id}", "plugin": "feedtest",
             "title": f"Member card {org.name}", "download_url": f"/api/v1/me/feedtest/documents/{person.id}",
             "content_type": "application/pdf", "published_at": day - dt.timedelta(days=10)},
            FeedItem(kind="invoice", id=f"inv-{org.id}", plugin="feedtest", title=f"Membership fee {org.name}",
                     amount=Decimal("45.00"), status="open", due_on=dt.date(2025, 4, 1),
                     payment_url="https://pay.example.org/inv", published_at=day - dt.timedelta(days=20),
                     in_feed=False),
            FeedItem(kind="membership", id=f"mem-{org.id}", plugin="feedtest", title=f"Member of {org.name}",
                     status="active"),
        ]

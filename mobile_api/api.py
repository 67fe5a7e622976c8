"""The member app's API: `/api/v1/me/...` (the logged-in member's own data, bearer token) and the VAPID key.

Every endpoint works on `g.user.person` only; ids of someone else's rows answer 404, like ids that do
not exist. Login and logout are core's `POST`/`DELETE /api/v1/auth/token`; `GET /api/v1/me` says who.
"""
from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, g, request
from flask.views import MethodView

from core import notifications
from core.api import ApiBlueprint, PageArgs, page_schema, paginate
from core.db import db
from core.gates import authenticated_endpoint, federa, public_endpoint
from core.notifications.push import vapid_key
from core.validation import mask_national_number
from mobile_api import feed, services

blp = ApiBlueprint("mobile_api", __name__, url_prefix="/api/v1",
                   description="The member app: my profile, feed, documents, invoices, notifications")


def _person():
    return g.user.person


# --- schemas ----------------------------------------------------------------------------------------

class MobileFeedItemSchema(ma.Schema):
    id = ma.fields.String(allow_none=True)
    kind = ma.fields.String()
    plugin = ma.fields.String()
    title = ma.fields.String()
    summary = ma.fields.String()
    body_html = ma.fields.String(metadata={"description": "Rich text, allow-listed HTML"})
    url = ma.fields.String(allow_none=True)
    image_url = ma.fields.String(allow_none=True)
    published_at = ma.fields.DateTime(allow_none=True)
    download_url = ma.fields.String(allow_none=True)
    content_type = ma.fields.String(allow_none=True)
    payment_url = ma.fields.String(allow_none=True)
    amount = ma.fields.Decimal(as_string=True, allow_none=True)
    currency = ma.fields.String()
    status = ma.fields.String(allow_none=True)
    due_on = ma.fields.Date(allow_none=True)
    org_id = ma.fields.Integer(allow_none=True)
    org_name = ma.fields.String(allow_none=True)


MobileFeedPageSchema = page_schema(MobileFeedItemSchema, "MobileFeedPageSchema")


class FeedArgsSchema(PageArgs):
    page_size = ma.fields.Integer(load_default=30, validate=ma.validate.Range(min=1, max=100))
    since = ma.fields.AwareDateTime(load_default=None, default_timezone=None,
                                    metadata={"description": "Only items published after this moment"})


def _page(items: list, page: int, page_size: int) -> dict:
    start = (page - 1) * page_size
    return {"items": items[start:start + page_size], "total": len(items), "page": page, "page_size": page_size}


class MobileOrganisationSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String()
    relation = ma.fields.String()


class ProfileSchema(ma.Schema):
    id = ma.fields.Integer()
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    birth_date = ma.fields.Date(allow_none=True)
    gender = ma.fields.String(allow_none=True)
    national_number = ma.fields.Function(lambda p: mask_national_number(p["person"].national_number) or None,
                                         metadata={"description": "Masked"})
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
    editable = ma.fields.List(ma.fields.String(), metadata={"description": "Fields the member may change"})
    organisations = ma.fields.List(ma.fields.Nested(MobileOrganisationSchema))


def _profile(person) -> dict:
    data = {name: getattr(person, name) for name in ProfileSchema._declared_fields
            if name not in ("national_number", "editable", "organisations")}
    data["person"] = person
    data["editable"] = services.editable_fields(db.session, federa().settings, person)
    data["organisations"] = [{"id": org.id, "name": org.name, "kind": org.kind, "relation": relation}
                             for org, relation in feed.linked_organisations(db.session, person)]
    return data


def _profile_update_schema():
    attrs = {name: ma.fields.Raw(allow_none=True) for name in services.CORRECTABLE}
    attrs["national_number"] = ma.fields.Raw(allow_none=True)
    return type("ProfileUpdateSchema", (ma.Schema,), attrs)


ProfileUpdateSchema = _profile_update_schema()


class SubscriptionKeysSchema(ma.Schema):
    p256dh = ma.fields.String(required=True)
    auth = ma.fields.String(required=True)


class PushSubscriptionInSchema(ma.Schema):
    """The browser's `PushSubscription.toJSON()`."""

    endpoint = ma.fields.String(required=True)
    expirationTime = ma.fields.Raw(allow_none=True, load_default=None)  # noqa: N815 (the browser's name)
    keys = ma.fields.Nested(SubscriptionKeysSchema, required=True)


class PushSubscriptionSchema(ma.Schema):
    id = ma.fields.Integer()
    endpoint = ma.fields.String()
    user_agent = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()


class NotificationSchema(ma.Schema):
    id = ma.fields.Integer()
    type = ma.fields.String(attribute="type_key")
    title = ma.fields.String()
    body = ma.fields.String()
    url = ma.fields.String(allow_none=True)
    org_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()
    read_at = ma.fields.DateTime(allow_none=True)


class NotificationPageSchema(page_schema(NotificationSchema, "NotificationPageBase")):
    unread = ma.fields.Integer()


class InboxArgsSchema(PageArgs):
    page_size = ma.fields.Integer(load_default=30, validate=ma.validate.Range(min=1, max=100))
    unread = ma.fields.Boolean(load_default=False)


class PreferenceSchema(ma.Schema):
    type = ma.fields.String(required=True)
    label = ma.fields.String(dump_only=True)
    description = ma.fields.String(dump_only=True)
    push = ma.fields.Boolean(allow_none=True)
    email = ma.fields.Boolean(allow_none=True)


class PreferencesSchema(ma.Schema):
    preferences = ma.fields.List(ma.fields.Nested(PreferenceSchema), required=True)


class VapidKeySchema(ma.Schema):
    public_key = ma.fields.String(metadata={"description": "applicationServerKey for PushManager.subscribe"})


class MembershipsSchema(ma.Schema):
    organisations = ma.fields.List(ma.fields.Nested(MobileOrganisationSchema))
    items = ma.fields.List(ma.fields.Nested(MobileFeedItemSchema))


# --- feed, documents, invoices, memberships ------------------------------------------------------------

@blp.route("/me/feed")
class FeedResource(MethodView):
    @authenticated_endpoint
    @blp.arguments(FeedArgsSchema, location="query")
    @blp.response(200, MobileFeedPageSchema)
    @blp.alt_response(401, description="Not authenticated")
    def get(self, args):
        """News and updates from every enabled module of the member's organisations, newest first."""
        items = feed.collect(db.session, _person(), since=args["since"], feed=True)
        return _page(items, args["page"], args["page_size"])


def _kind_list(kind: str, doc: str):
    def get(self, args):
        items = feed.collect(db.session, _person(), kinds=(kind,))
        return _page(items, args["page"], args["page_size"])

    get.__doc__ = doc
    get = blp.alt_response(401, description="Not authenticated")(get)
    get = blp.response(200, MobileFeedPageSchema)(get)
    get = blp.arguments(PageArgs, location="query")(get)
    get = authenticated_endpoint(get)
    return type(f"{kind.title()}ListResource", (MethodView,), {"get": get})


DocumentsResource = blp.route("/me/documents")(_kind_list(
    "document", "The member's documents (from the documents module, where enabled)."))
InvoicesResource = blp.route("/me/invoices")(_kind_list(
    "invoice", "The member's invoices with PDF and payment links (from billing, where enabled)."))


@blp.route("/me/memberships")
class MembershipsResource(MethodView):
    @authenticated_endpoint
    @blp.response(200, MembershipsSchema)
    def get(self):
        """The organisations the member belongs to, and membership details modules add."""
        person = _person()
        return {"organisations": [{"id": o.id, "name": o.name, "kind": o.kind, "relation": r}
                                  for o, r in feed.linked_organisations(db.session, person)],
                "items": feed.collect(db.session, person, kinds=("membership",))}


# --- profile ---------------------------------------------------------------------------------------

@blp.route("/me/profile")
class ProfileResource(MethodView):
    @authenticated_endpoint
    @blp.etag
    @blp.response(200, ProfileSchema)
    def get(self):
        """The member's own record; `editable` lists what they may correct (the ETag is needed to do so)."""
        return _profile(_person())

    @authenticated_endpoint
    @blp.etag
    @blp.arguments(ProfileUpdateSchema)
    @blp.response(200, ProfileSchema)
    @blp.alt_response(422, description="Invalid value, or a field the member may not change")
    def patch(self, data):
        """Correct some fields (send `If-Match`); the audit log records the change."""
        person = _person()
        blp.check_etag(_profile(person), ProfileSchema)
        services.update_profile(db.session, federa().settings, person, data)
        db.session.commit()
        return _profile(person)


# --- push subscriptions and the VAPID key -----------------------------------------------------------------

@blp.route("/push/vapid-public-key")
class VapidKeyResource(MethodView):
    @public_endpoint
    @blp.response(200, VapidKeySchema)
    def get(self):
        """The server's VAPID public key (base64url), for `PushManager.subscribe(applicationServerKey)`."""
        key = vapid_key(db.session)
        return {"public_key": key.public_key}


@blp.route("/me/push-subscriptions")
class PushSubscriptionsResource(MethodView):
    @authenticated_endpoint
    @blp.response(200, PushSubscriptionSchema(many=True))
    def get(self):
        """The member's devices that receive push notifications."""
        return notifications.subscriptions_of(db.session, _person().id)

    @authenticated_endpoint
    @blp.arguments(PushSubscriptionInSchema)
    @blp.response(201, PushSubscriptionSchema)
    @blp.alt_response(200, schema=PushSubscriptionSchema, description="Known already: updated")
    @blp.alt_response(422, description="Malformed subscription or an endpoint that is not https")
    def post(self, data):
        """Register this browser's PushSubscription (the JSON of `subscription.toJSON()`)."""
        row, created = notifications.subscribe(
            db.session, _person().id, data, user_agent=request.headers.get("User-Agent"),
            allow_loopback_http=bool(current_app.config.get("DEMO_MODE")))
        db.session.commit()
        return row, (201 if created else 200)


@blp.route("/me/push-subscriptions/<int:subscription_id>")
class PushSubscriptionResource(MethodView):
    @authenticated_endpoint
    @blp.response(204)
    @blp.alt_response(404, description="No such subscription of this member")
    def delete(self, subscription_id):
        """Stop push notifications to one device."""
        notifications.unsubscribe(db.session, _person().id, subscription_id)
        db.session.commit()


# --- inbox and preferences ----------------------------------------------------------------------------------

@blp.route("/me/notifications")
class InboxResource(MethodView):
    @authenticated_endpoint
    @blp.arguments(InboxArgsSchema, location="query")
    @blp.response(200, NotificationPageSchema)
    def get(self, args):
        """The member's notifications, newest first, with the number still unread."""
        person_id = _person().id
        result = paginate(db.session, notifications.inbox_query(person_id, args["unread"]), args["page"],
                          args["page_size"])
        result["unread"] = notifications.unread_count(db.session, person_id)
        return result


@blp.route("/me/notifications/read")
class InboxReadAllResource(MethodView):
    @authenticated_endpoint
    @blp.response(200, ma.Schema.from_dict({"marked": ma.fields.Integer()}, name="InboxReadAllSchema"))
    def post(self):
        """Mark every notification as read."""
        marked = notifications.mark_read(db.session, _person().id)
        db.session.commit()
        return {"marked": marked}


@blp.route("/me/notifications/<int:notification_id>/read")
class InboxReadResource(MethodView):
    @authenticated_endpoint
    @blp.response(204)
    @blp.alt_response(404, description="No such notification of this member")
    def post(self, notification_id):
        """Mark one notification as read."""
        notifications.mark_read(db.session, _person().id, notification_id)
        db.session.commit()


@blp.route("/me/notification-preferences")
class PreferencesResource(MethodView):
    @authenticated_endpoint
    @blp.response(200, PreferencesSchema)
    def get(self):
        """Per notification type: does the member get it by push, by e-mail (the inbox always has it)."""
        return {"preferences": notifications.preferences_of(db.session, _person().id)}

    @authenticated_endpoint
    @blp.arguments(PreferencesSchema)
    @blp.response(200, PreferencesSchema)
    @blp.alt_response(422, description="Unknown notification type")
    def put(self, data):
        """Change channels of some types; types left out keep their setting."""
        person_id = _person().id
        notifications.set_preferences(db.session, person_id, data["preferences"])
        db.session.commit()
        return {"preferences": notifications.preferences_of(db.session, person_id)}

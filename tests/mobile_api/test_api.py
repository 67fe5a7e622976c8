"""The member app's API: a member sees and changes only their own data, through a bearer token."""
from __future__ import annotations

import sqlalchemy as sa

from core.db import db
from core.models import AuditLog, ModuleOverride, Person
from core.notifications import PushSubscription
from core.settings import set_setting
from tests.mobile_api.push_service import Subscriber


def _items(client, path, headers):
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.json
    return response.json["items"]


# --- feed, documents, invoices, memberships ------------------------------------------------------------

def test_feed_has_items_of_enabled_modules_of_the_members_organisations(mclient, world):
    items = _items(mclient, "/api/v1/me/feed", world.headers)
    assert [i["title"] for i in items if i["kind"] == "news"] == ["News of VC Gent"]
    news = items[0]
    assert news["org_name"] == "VC Gent" and news["summary"] == "Training moved"
    # Rich text comes out allow-listed: no script, no handlers, no javascript: links.
    assert news["body_html"] == ('<p>Hello <a>x</a><a href="https://example.org/more" rel="noopener noreferrer" '
                                 'target="_blank">more</a></p>')
    kinds = {i["kind"] for i in items}
    assert kinds == {"news", "document"}  # invoices here say in_feed=False; memberships never show
    # The other member's club has no feed module: nothing at all.
    assert _items(mclient, "/api/v1/me/feed", world.other_headers) == []


def test_feed_goes_through_the_hook_gate(mclient, mctx, world):
    db.session.add(ModuleOverride(org_id=world.club.id, plugin="feedtest", enabled=False))
    db.session.commit()
    assert _items(mclient, "/api/v1/me/feed", world.headers) == []
    assert mctx.extensions["federa"].plugins["feedtest"].calls == []


def test_feed_asks_the_federation_too_and_filters_since(mclient, mmake, mctx, world):
    mmake.subscribe(world.federation, mmake.package("fed", ["feedtest"]))
    titles = [i["title"] for i in _items(mclient, "/api/v1/me/feed", world.headers) if i["kind"] == "news"]
    assert titles == ["News of VC Gent", "News of Volleybal Vlaanderen"]  # newest first
    since = _items(mclient, "/api/v1/me/feed?since=2025-03-01T12:00:00%2B00:00", world.headers)
    assert [i["title"] for i in since] == ["News of VC Gent"]
    bad = mclient.get("/api/v1/me/feed?since=yesterday", headers=world.headers)
    assert bad.status_code == 422 and "since" in bad.json["errors"]["query"]


def test_documents_invoices_and_memberships(mclient, world):
    documents = _items(mclient, "/api/v1/me/documents", world.headers)
    assert [d["title"] for d in documents] == ["Member card VC Gent"]
    download = mclient.get(documents[0]["download_url"], headers=world.headers)
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    # Someone else's document link answers 404 to this member.
    assert mclient.get(documents[0]["download_url"], headers=world.other_headers).status_code == 404
    invoices = _items(mclient, "/api/v1/me/invoices", world.headers)
    assert invoices[0]["amount"] == "45.00" and invoices[0]["payment_url"] == "https://pay.example.org/inv"
    assert invoices[0]["due_on"] == "2025-04-01"
    memberships = mclient.get("/api/v1/me/memberships", headers=world.headers).json
    assert [o["name"] for o in memberships["organisations"]] == ["VC Gent"]
    assert [m["title"] for m in memberships["items"]] == ["Member of VC Gent"]
    # Without the module the lists are empty, not errors.
    assert _items(mclient, "/api/v1/me/documents", world.other_headers) == []
    assert _items(mclient, "/api/v1/me/invoices", world.other_headers) == []


def test_every_me_endpoint_needs_a_valid_token(mclient, mctx, world):
    paths = ["/api/v1/me/feed", "/api/v1/me/documents", "/api/v1/me/invoices", "/api/v1/me/memberships",
             "/api/v1/me/profile", "/api/v1/me/notifications", "/api/v1/me/notification-preferences",
             "/api/v1/me/push-subscriptions"]
    for path in paths:
        assert mclient.get(path).status_code == 401, path
        response = mclient.get(path, headers={"Authorization": "Bearer fed_not-a-token"})
        assert response.status_code == 401 and response.json["message"] == "invalid or expired token", path
    # Logout revokes the token: the app's next call is refused.
    assert mclient.delete("/api/v1/auth/token", headers=world.headers).status_code == 204
    assert mclient.get("/api/v1/me/feed", headers=world.headers).status_code == 401


# --- profile -------------------------------------------------------------------------------------

def test_member_corrects_their_profile_and_the_change_is_logged(mclient, world):
    first = mclient.get("/api/v1/me/profile", headers=world.headers)
    assert first.status_code == 200
    assert first.json["first_name"] == "User" and "phone" in first.json["editable"]
    assert "first_name" not in first.json["editable"] and "national_number" not in first.json["editable"]
    assert first.json["organisations"] == [{"id": world.club.id, "name": "VC Gent", "kind": "club",
                                            "relation": "member"}]
    etag = first.headers["ETag"]
    missing = mclient.patch("/api/v1/me/profile", json={"phone": "0470 12 34 56"}, headers=world.headers)
    assert missing.status_code == 428
    changed = mclient.patch("/api/v1/me/profile", json={"phone": "0470 12 34 56", "city": "Gent"},
                            headers={**world.headers, "If-Match": etag})
    assert changed.status_code == 200, changed.json
    assert changed.json["phone"] == "+32470123456" and changed.json["city"] == "Gent"
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.entity_type == "person",
                                                         AuditLog.action == "update")).scalar_one()
    assert entry.user_id == world.member.id and entry.person_id == world.person.id
    assert entry.changes["phone"] == [None, "+32470123456"]
    stale = mclient.patch("/api/v1/me/profile", json={"city": "Brugge"}, headers={**world.headers, "If-Match": etag})
    assert stale.status_code == 412
    assert db.session.get(Person, world.person.id).city == "Gent"


def test_profile_refuses_fields_the_member_may_not_change_and_bad_values(mclient, mctx, world):
    etag = mclient.get("/api/v1/me/profile", headers=world.headers).headers["ETag"]
    headers = {**world.headers, "If-Match": etag}
    refused = mclient.patch("/api/v1/me/profile", json={"first_name": "Hacker", "city": "Gent"}, headers=headers)
    assert refused.status_code == 422
    assert "first_name" in refused.json["errors"]["json"] and "city" not in refused.json["errors"]["json"]
    bad = mclient.patch("/api/v1/me/profile", json={"phone": "12", "national_number": "85073003328"}, headers=headers)
    assert bad.status_code == 422 and set(bad.json["errors"]["json"]) == {"phone", "national_number"}
    unknown = mclient.patch("/api/v1/me/profile", json={"is_admin": True}, headers=headers)
    assert unknown.status_code == 422 and "is_admin" in unknown.json["errors"]["json"]
    person = db.session.get(Person, world.person.id)
    assert (person.first_name, person.city, person.phone) == ("User", None, None)
    # The club narrows what members may correct.
    set_setting(db.session, mctx.extensions["federa"].settings, world.club, "mobile_api.profile_fields", "email")
    db.session.commit()
    profile = mclient.get("/api/v1/me/profile", headers=world.headers)
    assert profile.json["editable"] == ["email"]
    narrowed = mclient.patch("/api/v1/me/profile", json={"city": "Gent"},
                             headers={**world.headers, "If-Match": profile.headers["ETag"]})
    assert narrowed.status_code == 422


# --- push subscriptions and the VAPID key --------------------------------------------------------------

def test_vapid_key_is_public_and_never_regenerated(mclient, make_app, database_url, mctx):
    key = mclient.get("/api/v1/push/vapid-public-key").json["public_key"]
    assert len(key) == 87  # 65 bytes, base64url
    assert mclient.get("/api/v1/push/vapid-public-key").json["public_key"] == key
    again = make_app()  # another process on the same database
    assert again.test_client().get("/api/v1/push/vapid-public-key").json["public_key"] == key


def test_push_subscription_register_update_and_unregister(mclient, world):
    subscriber = Subscriber()
    subscription = subscriber.subscription("https://push.example.org/send/abc")
    created = mclient.post("/api/v1/me/push-subscriptions", json=subscription, headers=world.headers)
    assert created.status_code == 201, created.json
    again = mclient.post("/api/v1/me/push-subscriptions", json=subscription, headers=world.headers)
    assert again.status_code == 200 and again.json["id"] == created.json["id"]
    listed = mclient.get("/api/v1/me/push-subscriptions", headers=world.headers).json
    assert [s["endpoint"] for s in listed] == ["https://push.example.org/send/abc"]
    assert mclient.get("/api/v1/me/push-subscriptions", headers=world.other_headers).json == []
    # Another member cannot remove it: 404, and it stays.
    path = f"/api/v1/me/push-subscriptions/{created.json['id']}"
    assert mclient.delete(path, headers=world.other_headers).status_code == 404
    assert db.session.get(PushSubscription, created.json["id"]) is not None
    assert mclient.delete(path, headers=world.headers).status_code == 204
    assert db.session.get(PushSubscription, created.json["id"]) is None
    assert mclient.delete(path, headers=world.headers).status_code == 404


def test_same_device_moves_to_the_member_who_logs_in_last(mclient, world):
    subscription = Subscriber().subscription("https://push.example.org/send/shared")
    mclient.post("/api/v1/me/push-subscriptions", json=subscription, headers=world.headers)
    moved = mclient.post("/api/v1/me/push-subscriptions", json=subscription, headers=world.other_headers)
    assert moved.status_code == 200
    assert db.session.get(PushSubscription, moved.json["id"]).person_id == world.other.person_id


def test_malformed_push_subscriptions_are_refused(mclient, world):
    good = Subscriber().subscription("https://push.example.org/x")
    cases = {
        "endpoint": {**good, "endpoint": "http://push.example.org/x"},
        "keys.p256dh": {**good, "keys": {**good["keys"], "p256dh": "bm90LWEta2V5"}},
        "keys.auth": {**good, "keys": {**good["keys"], "auth": "c2hvcnQ"}},
    }
    for field, body in cases.items():
        response = mclient.post("/api/v1/me/push-subscriptions", json=body, headers=world.headers)
        assert response.status_code == 422 and field in response.json["errors"]["json"], (field, response.json)
    for body in ({"endpoint": "https://push.example.org/x"}, {**good, "extra": 1}, {**good, "endpoint": "ftp://x/y"},
                 {**good, "endpoint": "javascript:alert(1)"}, {**good, "endpoint": "https://u:p@push.example.org/x"}):
        assert mclient.post("/api/v1/me/push-subscriptions", json=body, headers=world.headers).status_code == 422
    # Plain http on loopback only in development/demo mode (this app is not).
    loopback = {**good, "endpoint": "http://127.0.0.1:9/push/1"}
    assert mclient.post("/api/v1/me/push-subscriptions", json=loopback, headers=world.headers).status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PushSubscription)) == 0


def test_loopback_http_endpoint_is_accepted_in_demo_mode(mclient, mctx, world):
    mctx.config["DEMO_MODE"] = True
    try:
        body = Subscriber().subscription("http://127.0.0.1:9/push/1")
        assert mclient.post("/api/v1/me/push-subscriptions", json=body, headers=world.headers).status_code == 201
        body = Subscriber().subscription("http://push.example.org/push/1")
        assert mclient.post("/api/v1/me/push-subscriptions", json=body, headers=world.headers).status_code == 422
    finally:
        mctx.config["DEMO_MODE"] = False


# --- inbox and preferences -------------------------------------------------------------------------

def _notify(mctx, person_ids, **kwargs):
    from core.notifications import notify

    notify(db.session, person_ids, kwargs.pop("type_key", "feedtest.news"), kwargs.pop("title", "Training moved"),
           kwargs.pop("body", "Thursday 20:00"), **kwargs)
    db.session.commit()
    mctx.extensions["federa"].jobs.join()


def test_inbox_lists_own_notifications_and_marks_them_read(mclient, mctx, world):
    _notify(mctx, [world.person.id], url="/app/#/feed")
    _notify(mctx, [world.other.person_id], title="Not for you")
    inbox = mclient.get("/api/v1/me/notifications", headers=world.headers).json
    assert inbox["unread"] == 1 and inbox["total"] == 1
    item = inbox["items"][0]
    assert (item["title"], item["body"], item["url"], item["type"]) == ("Training moved", "Thursday 20:00",
                                                                        "/app/#/feed", "feedtest.news")
    other_id = mclient.get("/api/v1/me/notifications", headers=world.other_headers).json["items"][0]["id"]
    assert mclient.post(f"/api/v1/me/notifications/{other_id}/read", headers=world.headers).status_code == 404
    assert mclient.post(f"/api/v1/me/notifications/{item['id']}/read", headers=world.headers).status_code == 204
    assert mclient.get("/api/v1/me/notifications", headers=world.headers).json["unread"] == 0
    assert mclient.get("/api/v1/me/notifications", headers=world.other_headers).json["unread"] == 1
    assert mclient.post("/api/v1/me/notifications/read", headers=world.other_headers).json == {"marked": 1}


def test_preferences_choose_the_channels(mclient, mctx, world):
    prefs = mclient.get("/api/v1/me/notification-preferences", headers=world.headers).json["preferences"]
    by_type = {p["type"]: p for p in prefs}
    assert by_type["feedtest.news"]["push"] is True and by_type["feedtest.news"]["email"] is False
    assert by_type["feedtest.digest"]["email"] is True and "core.message" in by_type
    bad = mclient.put("/api/v1/me/notification-preferences", headers=world.headers,
                      json={"preferences": [{"type": "feedtest.news", "email": True}, {"type": "nope", "push": False}]})
    assert bad.status_code == 422 and "preferences.1.type" in bad.json["errors"]["json"]
    assert {p["type"]: p for p in mclient.get("/api/v1/me/notification-preferences", headers=world.headers)
            .json["preferences"]}["feedtest.news"]["email"] is False  # nothing stored
    ok = mclient.put("/api/v1/me/notification-preferences", headers=world.headers,
                     json={"preferences": [{"type": "feedtest.news", "email": True, "push": False}]})
    assert ok.status_code == 200
    assert {p["type"]: p for p in ok.json["preferences"]}["feedtest.news"] == {
        "type": "feedtest.news", "label": "News from the test", "description": "", "push": False, "email": True}

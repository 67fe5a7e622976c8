"""The member app in Chromium: log in, read the feed, open a document, turn on push (PushManager.subscribe is
stubbed with keys this test holds: headless Chromium cannot reach a real push service), receive a push
through a local push service, and read the feed again offline."""
from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server

from core.db import db
from core.notifications import PushSubscription, notify
from tests.conftest import _clean
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: F401  (the browser fixture uses them)
from tests.factories import Factory
from tests.mobile_api.feed_plugin import FeedTestPlugin
from tests.mobile_api.push_service import PushService, Subscriber

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def member_app(make_app):
    return make_app(plugins=[FeedTestPlugin], DEMO_MODE=True)


@pytest.fixture
def member_server(member_app):
    """The member app on 127.0.0.1 (a free port) with a club member whose club has the feed module."""
    _clean(member_app)
    with member_app.app_context():
        make = Factory(db.session)
        club = make.club(make.federation("Volleybal Vlaanderen"), "VC Gent")
        make.subscribe(club, make.package("app", ["feedtest"]))
        user = make.user("lid@example.org", role="member", org=club)
        person_id = user.person_id
    server = make_server("127.0.0.1", 0, member_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_port}", person_id
    server.shutdown()
    server.server_close()


STUB = """
(() => {
  const stub = %s;
  let current = null;
  PushManager.prototype.subscribe = function () {
    current = {endpoint: stub.endpoint, expirationTime: null, toJSON() { return stub; },
               unsubscribe() { current = null; return Promise.resolve(true); }};
    return Promise.resolve(current);
  };
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
})();
"""


def test_member_reads_feed_opens_document_gets_push_and_reads_offline(browser, member_app, member_server):
    server, base, person_id = member_server
    subscriber = Subscriber()
    with PushService() as push_service:
        context = browser.new_context(base_url=base, viewport={"width": 390, "height": 844}, locale="nl-BE",
                                      is_mobile=True, has_touch=True, permissions=["notifications"],
                                      accept_downloads=True)
        context.set_default_timeout(10_000)
        context.add_init_script(STUB % json.dumps(subscriber.subscription(f"{push_service.url}/push/device-1")))
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"error: {exc}"))
        page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))

        page.goto("/app/")
        page.fill("#login-email", "lid@example.org")
        page.fill("#login-password", "secret-pass")
        page.click("form.login button[type=submit]")
        news = page.locator("article.feed-item[data-kind=news] h2")
        news.first.wait_for()
        assert news.all_text_contents() == ["News of VC Gent"]
        # The rich text arrived without its script or handlers.
        assert page.locator("article.feed-item .rich a[href^=javascript]").count() == 0
        assert page.locator("article.feed-item .rich [onclick]").count() == 0

        page.click("a[data-tab=documents]")
        page.locator(".row-item button").first.wait_for()
        with page.expect_download() as download:
            page.locator(".row-item button").first.click()
        with open(download.value.path(), "rb") as handle:
            assert handle.read().startswith(b"%PDF")

        page.click("a[data-tab=settings]")
        page.click("#push-toggle")
        page.locator("#push-state", has_text="on for this device").wait_for()  # (CSP: no wait_for_function)
        with member_app.app_context():
            row = db.session.query(PushSubscription).one()
            assert (row.person_id, row.p256dh) == (person_id, subscriber.p256dh)
            notify(db.session, [person_id], "feedtest.news", "Match moved", "Saturday 15:00", url="/app/#/feed")
            db.session.commit()
            member_app.extensions["federa"].jobs.join()
        assert push_service.errors == []
        assert subscriber.decrypt(push_service.received[0][2])["title"] == "Match moved"
        page.click("#inbox-link")
        page.locator(".row-item strong", has_text="Match moved").wait_for()

        # Offline: the service worker serves the shell, the app shows the feed it loaded last.
        page.click("a[data-tab=feed]")
        news.first.wait_for()
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        server.shutdown()
        server.server_close()
        context.set_offline(True)
        page.reload()
        news.first.wait_for()
        assert news.all_text_contents() == ["News of VC Gent"]
        assert page.locator("#status").is_visible()
        assert problems == []
        context.close()

"""Issue 5's browser test on the demo data: the demo member logs in to the app, sees a news post of their club,
opens the member card the club sent them, and still reads the feed offline."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from core.db import db
from core.demo import LOGINS, load_demo_data
from core.models import RoleAssignment, User
from tests.conftest import _clean
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: F401  (the browser fixture uses them)

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo_server(make_app):
    app = make_app(DEMO_MODE=True)
    _clean(app)
    with app.app_context():
        load_demo_data(people=150)
        member = db.session.execute(sa.select(User).where(User.email == LOGINS["member"].email)).scalar_one()
        club_id = db.session.execute(sa.select(RoleAssignment.org_id).where(
            RoleAssignment.user_id == member.id)).scalar_one()
        person_id = member.person_id
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"email": LOGINS["clubadmin"].email, "password": "demo"}).json
    response = client.post(f"/api/v1/orgs/{club_id}/documents/batches", json={"kind": "member_card",
                           "person_ids": [person_id]}, headers={"Authorization": f"Bearer {token['access_token']}"})
    assert response.status_code == 202, response.json
    app.extensions["federa"].jobs.join()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_demo_member_reads_news_opens_card_and_reads_offline(browser, demo_server):
    server, base = demo_server
    context = browser.new_context(base_url=base, viewport={"width": 390, "height": 844}, locale="nl-BE",
                                  is_mobile=True, has_touch=True, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto("/app/")
    page.fill("#login-email", LOGINS["member"].email)
    page.fill("#login-password", "demo")
    page.click("form.login button[type=submit]")
    news = page.locator("article.feed-item[data-kind=news] h2", has_text="Welkom in de nieuwe ledenapp")
    news.wait_for()

    page.click("a[data-tab=documents]")
    page.locator(".row-item button").first.wait_for()
    with page.expect_download() as download:
        page.locator(".row-item button").first.click()
    with open(download.value.path(), "rb") as handle:
        assert handle.read().startswith(b"%PDF")

    page.click("a[data-tab=feed]")
    news.wait_for()
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    server.shutdown()
    context.set_offline(True)
    page.reload()
    news.wait_for()
    assert problems == []
    context.close()

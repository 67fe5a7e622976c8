"""The public sign-up form and the club's applications: open and closed forms, bad input, double sends,
the waiting list, accepting (new person or one who exists, never a silent duplicate), declining, e-mails,
tenancy, and the applicant's data under the GDPR (audit trail, export, erasure, retention)."""
from __future__ import annotations

import datetime as dt
import re
import threading

import sqlalchemy as sa
from flask import current_app

from core import mail
from core.db import db
from core.models import AuditLog, ModuleOverride, Person, PersonOrganisation
from core.services import DomainError
from core.settings import set_setting
from plugins.membership import applications
from plugins.membership.models import Application, Membership
from tests.conftest import web_login
from tests.plugins.membership.conftest import NN_1990, add_member, api

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ELS = {"first_name": "Els", "last_name": "Claes", "birth_date": "1990-02-01", "email": "els@example.org",
       "phone": "0470 12 34 56", "street": "Kerkstraat", "house_number": "1", "postal_code": "9000",
       "city": "Gent", "remarks": "Ik speelde vroeger in Brugge.", "consent": "1"}


def configure(org, **values):
    registry = current_app.extensions["federa"].settings
    for name, value in values.items():
        set_setting(db.session, registry, org, f"membership.signup_{name}", value)
    db.session.commit()


def join(org) -> str:
    return f"/join/{org.id}/"


def form_token(client, org) -> str:
    page = client.get(join(org))
    assert page.status_code == 200, page.status_code
    return CSRF.search(page.get_data(as_text=True)).group(1)


def send(client, org, **fields):
    data = {**ELS, "type_id": "", **fields}
    return client.post(join(org), data={**{k: v for k, v in data.items() if v is not None},
                                        "csrf_token": form_token(client, org)})


def stored() -> list[Application]:
    db.session.expire_all()
    return list(db.session.execute(sa.select(Application).order_by(Application.id)).scalars())


def els_people() -> list[Person]:
    return list(db.session.execute(sa.select(Person).where(Person.first_name == "Els")).scalars())


def outbox() -> list:
    """The mail sent since the last call, once the jobs queued until now have run (whole messages)."""
    current_app.extensions["federa"].jobs.join()
    messages = [mail.read_outbox(m.name) for m in mail.list_outbox()[0]]
    for message in messages:
        (mail.outbox_dir() / message.name).unlink()
    return messages


def test_a_closed_form_takes_nothing(client, world):
    page = client.get(join(world.club_a))
    assert page.status_code == 404 and "does not take applications" in page.get_data(as_text=True)
    r = client.get(api(world.club_a, "signup"))
    assert r.status_code == 200 and r.json["open"] is False
    r = client.post(api(world.club_a, "signup"), json={**ELS, "consent": True, "type_id": world.adult.id})
    assert r.status_code == 409
    assert stored() == []
    # Not a club, or a club without the module: no form at all.
    configure(world.fed, open=True)
    assert client.get(join(world.fed)).status_code == 404
    db.session.execute(sa.delete(ModuleOverride).where(ModuleOverride.org_id == world.club_b.id))
    db.session.commit()
    assert client.get(join(world.club_b)).status_code == 404


def test_an_application_arrives_with_its_e_mails(client, world):
    configure(world.club_a, open=True, notify="secretariaat@skgent.be", confirmation_text="Training op dinsdag.")
    page = client.get(join(world.club_a)).get_data(as_text=True)
    assert "SK Gent" in page and "Volwassene" in page and "Steunend lid" in page and "Vreemd" not in page
    r = send(client, world.club_a, type_id=str(world.adult.id))
    assert r.status_code == 302 and r.headers["Location"].endswith("/sent")
    (item,) = stored()
    assert (item.status, item.first_name, item.email, item.phone, item.type_id) == (
        "new", "Els", "els@example.org", "+32470123456", world.adult.id)
    assert item.consent_at is not None and item.source_hash and "127.0.0.1" not in item.source_hash
    assert els_people() == []  # nobody's record is made or touched before the club decides
    messages = {m.to: m for m in outbox()}
    assert set(messages) == {"els@example.org", "secretariaat@skgent.be"}
    received = messages["els@example.org"]
    assert "SK Gent" in received.subject and "Training op dinsdag." in received.text
    notice = messages["secretariaat@skgent.be"]
    assert "Els Claes" in notice.subject and f"/membership/applications/{item.id}" in notice.text


def test_bad_input_is_refused_field_by_field_and_stores_nothing(client, world):
    configure(world.club_a, open=True, ask_national_number=True)
    r = send(client, world.club_a, first_name="", birth_date="01/02/1990", email="geen-mail", consent=None,
             national_number="12345678901", type_id=str(world.foreign.id), remarks="x" * 2001)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    for message in ("this field is required", "not a valid date", "not a valid e-mail address",
                    "the club needs your consent", "choose one of the membership types offered",
                    "at most 2000 characters"):
        assert message in html, message
    assert 'value="Claes"' in html  # what was typed stays in the form
    # A child cannot take an adults' membership; the API answers with the same field errors.
    r = client.post(api(world.club_a, "signup"), json={**ELS, "birth_date": "2016-05-05", "consent": True,
                                                       "type_id": world.adult.id})
    assert r.status_code == 422 and "at least 18" in r.json["errors"]["json"]["type_id"][0]
    r = client.post(api(world.club_a, "signup"), json={**ELS, "consent": False, "type_id": world.adult.id,
                                                       "national_number": "90020100229", "birth_date": "1991-01-01"})
    assert r.status_code == 422 and set(r.json["errors"]["json"]) == {"consent", "national_number"}
    assert stored() == []


def test_a_double_click_and_a_robot_store_nothing_twice(client, world):
    configure(world.club_a, open=True)
    assert send(client, world.club_a, type_id=str(world.adult.id)).status_code == 302
    assert send(client, world.club_a, type_id=str(world.adult.id), first_name="ELS ").status_code == 302
    r = client.post(api(world.club_a, "signup"), json={**ELS, "consent": True, "type_id": world.adult.id})
    assert r.status_code == 201 and r.json == {"status": "new", "already_received": True}
    assert len(stored()) == 1
    assert len(outbox()) == 2  # the confirmation and the club's notice, once
    # A filled-in hidden field: looks sent, is not stored.
    assert send(client, world.club_a, first_name="Bot", website="http://spam.example").status_code == 302
    assert len(stored()) == 1


def test_one_address_sends_at_most_five_applications_an_hour(client, world):
    configure(world.region, open=True)  # both clubs
    for number in range(applications.MAX_PER_HOUR):  # to one club or another: the same sender
        club = world.club_a if number % 2 else world.club_b
        r = client.post(api(club, "signup"), json={**ELS, "first_name": f"Kind{number}", "consent": True,
                                                   "type_id": world.adult.id})
        assert r.status_code == 201, r.json
    r = client.post(api(world.club_a, "signup"), json={**ELS, "first_name": "Zes", "consent": True,
                                                       "type_id": world.adult.id})
    assert r.status_code == 429
    assert len(stored()) == applications.MAX_PER_HOUR


def test_the_waiting_list(client, world):
    add_member(world.club_a, world.adult, "An", "Aerts")
    configure(world.club_a, open=True, waiting_list=True)  # no maximum: everyone waits
    r = client.post(api(world.club_a, "signup"), json={**ELS, "consent": True, "type_id": world.adult.id})
    assert r.json["status"] == "waiting"
    configure(world.club_a, capacity=5)  # room left: handled straight away
    r = client.post(api(world.club_a, "signup"), json={**ELS, "first_name": "Tom", "consent": True,
                                                       "type_id": world.adult.id})
    assert r.json["status"] == "new"
    configure(world.club_a, capacity=1)  # full: waits
    assert send(client, world.club_a, first_name="Wim", type_id=str(world.adult.id)).headers["Location"].endswith(
        "waiting=1")
    configure(world.club_a, waiting_list=False)  # full without a waiting list: the form is closed
    assert client.get(join(world.club_a)).status_code == 404
    r = client.post(api(world.club_a, "signup"), json={**ELS, "first_name": "Lot", "consent": True,
                                                       "type_id": world.adult.id})
    assert r.status_code == 409 and "full" in r.json["message"]
    assert [(a.first_name, a.status) for a in stored()] == [("Els", "waiting"), ("Tom", "new"), ("Wim", "waiting")]
    r = client.get(api(world.club_a, "applications") + "?status=waiting", headers=world.admin_a)
    assert [(i["first_name"], i["waiting_position"]) for i in r.json["items"]] == [("Els", 1), ("Wim", 2)]
    tom = stored()[1]
    r = client.post(api(world.club_a, "applications", tom.id, "wait"), headers=world.admin_a)
    assert r.json["waiting_position"] == 2  # the list keeps the order of arrival
    r = client.get(api(world.club_a, "applications") + "?status=waiting", headers=world.admin_a)
    assert [i["first_name"] for i in r.json["items"]] == ["Els", "Tom", "Wim"]


def test_accepting_makes_a_new_member_and_empties_the_copy(client, world):
    configure(world.club_a, open=True, welcome_text="Welkom op de training!")
    send(client, world.club_a, type_id=str(world.adult.id))
    (item,) = stored()
    outbox()
    web_login(client, "admin-a@example.org")
    page = client.get(f"/o/{world.club_a.id}/membership/applications/{item.id}")
    assert page.status_code == 200 and "Ik speelde vroeger in Brugge." in page.get_data(as_text=True)
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    r = client.post(f"/o/{world.club_a.id}/membership/applications/{item.id}", data={
        "csrf_token": token, "action": "accept", "type_id": str(world.adult.id), "starts_on": "2026-01-01"})
    assert r.status_code == 302
    (person,) = els_people()
    assert (person.first_name, person.email, person.phone, person.city) == ("Els", "els@example.org",
                                                                             "+32470123456", "Gent")
    membership = db.session.execute(sa.select(Membership)).scalar_one()
    assert (membership.person_id, membership.org_id, membership.type_id, membership.status) == (
        person.id, world.club_a.id, world.adult.id, "active")
    (item,) = stored()
    assert (item.status, item.person_id, item.membership_id) == ("accepted", person.id, membership.id)
    # The person has the data now; the application keeps only the address the welcome e-mail goes to.
    assert all(getattr(item, key) is None for key in applications.PERSONAL_FIELDS if key != "email")
    # The application's trail (arrival, the admin's view, the decision) is now part of the person's record.
    trail = db.session.execute(sa.select(AuditLog.action).where(
        AuditLog.entity_type == "membership_application", AuditLog.entity_id == str(item.id))
        .order_by(AuditLog.id)).scalars().all()
    assert trail[:2] == ["create", "view"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.entity_type == "membership_application", AuditLog.person_id.is_(None))) == 0
    (welcome,) = outbox()
    assert welcome.to == "els@example.org" and "Welkom op de training!" in welcome.text
    assert "01/01/2026" in welcome.text
    # Decided once: a second accept is refused.
    r = client.post(api(world.club_a, "applications", item.id, "accept"), headers=world.admin_a, json={})
    assert r.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership)) == 1


def test_an_applicant_who_exists_is_never_duplicated(client, world):
    known, _ = add_member(world.club_b, world.adult, "Els", "Claes", birth=dt.date(1990, 2, 1), phone="+3291234567")
    configure(world.club_a, open=True)
    send(client, world.club_a, type_id=str(world.adult.id))
    (item,) = stored()
    r = client.get(api(world.club_a, "applications", item.id), headers=world.admin_a)
    assert r.json["matches"] == [{"person_id": known.id, "name": "Els Claes", "birth_date": "1990-02-01",
                                  "certain": False, "in_club": False}]
    people_before = db.session.scalar(sa.select(sa.func.count()).select_from(Person))
    r = client.post(api(world.club_a, "applications", item.id, "accept"), headers=world.admin_a, json={})
    assert r.status_code == 409 and r.json["errors"]["json"]["person_id"]
    someone = add_member(world.club_b, world.adult, "Tom", "Maes")[0]
    r = client.post(api(world.club_a, "applications", item.id, "accept"), headers=world.admin_a,
                    json={"person_id": someone.id})
    assert r.status_code == 422  # not one of the matches: no linking of arbitrary people
    r = client.post(api(world.club_a, "applications", item.id, "accept"), headers=world.admin_a,
                    json={"person_id": known.id})
    assert r.status_code == 201 and r.json["person_id"] == known.id
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == people_before + 1  # Tom only
    # Someone from another club: their record is not changed by a form anyone can fill in.
    assert (known.email, known.phone) == (None, "+3291234567")
    assert db.session.execute(sa.select(PersonOrganisation).where(
        PersonOrganisation.person_id == known.id, PersonOrganisation.org_id == world.club_a.id)).scalar_one()
    assert [m.to for m in outbox() if m.subject.startswith("Welkom")] == ["els@example.org"]


def test_a_member_the_club_knows_gets_empty_fields_filled_in(client, world):
    known, _ = add_member(world.club_a, world.supporter, "Els", "Claes", birth=dt.date(1990, 2, 1),
                          phone="+3291234567")
    configure(world.club_a, open=True)
    send(client, world.club_a, type_id=str(world.adult.id))
    (item,) = stored()
    r = client.post(api(world.club_a, "applications", item.id, "accept"), headers=world.admin_a,
                    json={"person_id": known.id})
    assert r.status_code == 201
    db.session.expire_all()
    assert (known.email, known.phone, known.city) == ("els@example.org", "+3291234567", "Gent")


def test_a_failed_accept_changes_nothing(client, world):
    known, _ = add_member(world.club_b, world.adult, "Els", "Claes", birth=dt.date(1990, 2, 1))
    configure(world.club_a, open=True)
    send(client, world.club_a, type_id=str(world.adult.id))
    (item,) = stored()
    r = client.post(api(world.club_a, "applications", item.id, "accept"), headers=world.admin_a,
                    json={"person_id": known.id, "type_id": world.youth.id})  # too old for youth
    assert r.status_code == 422 and "at most 17" in r.json["errors"]["json"]["type_id"][0]
    (item,) = stored()
    assert (item.status, item.first_name) == ("new", "Els")
    assert db.session.execute(sa.select(PersonOrganisation).where(
        PersonOrganisation.person_id == known.id, PersonOrganisation.org_id == world.club_a.id)).first() is None


def twice_at_once(work) -> list:
    """Run `work()` in two threads (own sessions) that start together; what each returned or raised.
    SQLite answers "database is locked" past its busy timeout: that try is repeated."""
    app = current_app._get_current_object()
    barrier = threading.Barrier(2)
    outcomes: list = []

    def run():
        with app.app_context():
            try:
                barrier.wait()
                for _attempt in range(20):
                    try:
                        result = work()
                        db.session.commit()
                        outcomes.append(result)
                        break
                    except sa.exc.OperationalError:
                        db.session.rollback()
            except DomainError as exc:
                db.session.rollback()
                outcomes.append(type(exc).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_admins_accepting_at_the_same_moment_make_one_member(ctx, client, world):
    configure(world.club_a, open=True)
    send(client, world.club_a, type_id=str(world.adult.id))
    (item,) = stored()

    def accept():
        club = db.session.merge(world.club_a)
        applications.accept(db.session, club, applications.get_application(db.session, club, item.id), {}, None)
        return "accepted"

    assert sorted(twice_at_once(accept)) == ["Conflict", "accepted"]
    assert len(els_people()) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership)) == 1


def test_the_same_application_sent_twice_at_the_same_moment_is_stored_once(ctx, world):
    configure(world.club_a, open=True)
    registry = current_app.extensions["federa"].settings

    def submit():
        club = db.session.merge(world.club_a)
        settings = applications.form_settings(db.session, registry, club)
        return applications.submit(db.session, club, settings, {**ELS, "type_id": world.adult.id})[1]

    assert sorted(twice_at_once(submit)) == [False, True]
    assert len(stored()) == 1


def test_someone_else_with_the_same_name_or_the_same_national_number(client, world):
    add_member(world.club_b, world.adult, "Els", "Claes", birth=dt.date(1990, 2, 1))
    configure(world.club_a, open=True, ask_national_number=True)
    send(client, world.club_a, type_id=str(world.adult.id))
    first = stored()[0]
    r = client.post(api(world.club_a, "applications", first.id, "accept"), headers=world.admin_a,
                    json={"new_person": True})
    assert r.status_code == 201
    assert len(els_people()) == 2
    # The same national register number and name is the same person: no new record, whatever the admin says.
    numbered, _ = add_member(world.club_b, world.adult, "Elisa", "Claes", birth=dt.date(1990, 2, 1),
                             national_number=NN_1990)
    send(client, world.club_a, first_name="Elisa", type_id=str(world.supporter.id), national_number=NN_1990)
    second = stored()[1]
    r = client.get(api(world.club_a, "applications", second.id), headers=world.admin_a)
    assert [(m["person_id"], m["certain"]) for m in r.json["matches"]] == [(numbered.id, True)]
    r = client.post(api(world.club_a, "applications", second.id, "accept"), headers=world.admin_a,
                    json={"new_person": True})
    assert r.status_code == 409
    r = client.post(api(world.club_a, "applications", second.id, "accept"), headers=world.admin_a,
                    json={"person_id": numbered.id})
    assert r.status_code == 201 and r.json["person_id"] == numbered.id


def test_a_national_number_of_someone_else_neither_links_nor_tells_who_it_is(client, world):
    other, _ = add_member(world.other_club, world.foreign, "Eliza", "Claessens", birth=dt.date(1990, 2, 1),
                          national_number=NN_1990)
    configure(world.club_a, open=True, ask_national_number=True)
    send(client, world.club_a, first_name="Mallory", last_name="X", national_number=NN_1990,
         email="mallory@example.org", type_id=str(world.adult.id))
    (item,) = stored()
    r = client.get(api(world.club_a, "applications", item.id), headers=world.admin_a)
    assert r.json["matches"] == [] and "another name" in r.json["match_problem"]
    assert "Eliza" not in r.get_data(as_text=True)
    for body in ({"person_id": other.id}, {"new_person": True}, {}):
        r = client.post(api(world.club_a, "applications", item.id, "accept"), headers=world.admin_a, json=body)
        assert r.status_code == 409, body
    db.session.expire_all()
    assert other.email is None and [link.org_id for link in other.links] == [world.other_club.id]


def test_declining_tells_the_applicant_and_the_data_go_after_the_retention_period(ctx, client, world):
    configure(world.club_a, open=True, retention_days=30)
    send(client, world.club_a, type_id=str(world.adult.id))
    (item,) = stored()
    outbox()
    r = client.post(api(world.club_a, "applications", item.id, "decline"), headers=world.admin_a,
                    json={"reason": "Onze ploegen zijn volzet.", "tell_applicant": True})
    assert r.status_code == 200 and r.json["status"] == "declined"
    (message,) = outbox()
    assert "Onze ploegen zijn volzet." in message.text
    registry = ctx.extensions["federa"].settings
    assert applications.purge_applications(db.session, registry, now=dt.datetime.now(dt.timezone.utc)) == 0
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)
    assert applications.purge_applications(db.session, registry, now=later) == 1
    db.session.commit()
    assert stored() == []
    entries = db.session.execute(sa.select(AuditLog).where(AuditLog.entity_type == "membership_application")).scalars()
    assert all(entry.changes is None for entry in entries)  # who did what, when stays; the values go
    # The next applicant gets a new number (never the erased one's), and so their own e-mails.
    send(client, world.club_a, type_id=str(world.adult.id))
    (again,) = stored()
    assert again.id != item.id and len(outbox()) == 2
    # Nobody decides on it: a year later it goes too (a waiting list is not kept for ever).
    assert applications.purge_applications(db.session, registry, now=later) == 0
    assert applications.purge_applications(db.session, registry, now=later + dt.timedelta(days=366)) == 1
    db.session.commit()
    assert stored() == []


def test_applications_stay_in_their_club(client, world, make):
    configure(world.club_a, open=True)
    send(client, world.club_a, type_id=str(world.adult.id))
    (item,) = stored()
    assert client.get(api(world.club_b, "applications", item.id), headers=world.contact_b).status_code == 404
    assert client.get(api(world.club_a, "applications"), headers=world.contact_b).status_code == 404
    assert client.post(api(world.club_a, "applications", item.id, "decline"), headers=world.contact_b,
                       json={}).status_code == 404
    assert client.get(api(world.club_a, "applications"), headers=world.member_a).status_code == 403
    # The federation's secretariat handles its clubs' applications.
    r = client.get(api(world.club_a, "applications"), headers=world.secretariat)
    assert [i["first_name"] for i in r.json["items"]] == ["Els"]
    web_login(client, "contact-b@example.org")
    assert client.get(f"/o/{world.club_a.id}/membership/applications/{item.id}").status_code == 404
    assert stored()[0].status == "new"


def test_the_club_sets_up_its_form_and_finds_its_applications(client, world):
    web_login(client, "admin-a@example.org")
    base = f"/o/{world.club_a.id}/membership/applications"
    html = client.get(base).get_data(as_text=True)
    assert "Sign-up form closed" in html and "Applications" in client.get(f"/o/{world.club_a.id}/").get_data(
        as_text=True)
    page = client.get(base + "/form").get_data(as_text=True)
    token = CSRF.search(page).group(1)
    r = client.post(base + "/form", data={"csrf_token": token, "open": "1", "ask_phone": "1", "capacity": "abc",
                                          "notify": "a@example.org, geen-adres", "retention_days": "90",
                                          "undecided_days": "365",
                                          "privacy_url": "javascript:alert(1)"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "geen-adres" in html and "https://" in html
    assert client.get(join(world.club_a)).status_code == 404  # nothing saved
    r = client.post(base + "/form", data={"csrf_token": token, "open": "1", "ask_phone": "1", "capacity": "0",
                                          "notify": "a@example.org", "retention_days": "90", "undecided_days": "365",
                                          "intro": "Welkom bij SK Gent!", "privacy_url": "https://skgent.be/privacy"})
    assert r.status_code == 302
    form = client.get(join(world.club_a)).get_data(as_text=True)
    assert "Welkom bij SK Gent!" in form and 'href="https://skgent.be/privacy"' in form
    assert 'name="street"' not in form and 'name="phone"' in form  # the address was switched off
    client.get("/logout")
    send(client, world.club_a, type_id=str(world.adult.id), street=None, house_number=None, postal_code=None,
         city=None)
    web_login(client, "admin-a@example.org")
    assert "Els Claes" in client.get(base).get_data(as_text=True)
    assert "1 new application to become a member" in client.get(f"/o/{world.club_a.id}/").get_data(as_text=True)


def test_the_applicant_is_part_of_the_persons_gdpr_export_and_erasure(client, world):
    from core.audit import audit_for_person
    from core.gates import call_org_hook

    configure(world.club_a, open=True)
    send(client, world.club_a, type_id=str(world.adult.id))
    (item,) = stored()
    client.post(api(world.club_a, "applications", item.id, "accept"), headers=world.admin_a, json={})
    (person,) = els_people()
    exported = next(r for r in call_org_hook("person_export", world.club_a, person=person) if "applications" in r)
    assert [(a["status"], a["membership_id"]) for a in exported["applications"]] == [("accepted", item.membership_id)]
    trail = [e for e in audit_for_person(db.session, person.id) if e.entity_type == "membership_application"]
    assert trail[0].action == "create" and trail[0].changes["first_name"] == "Els"
    assert trail[0].ip is None  # the applicant's address is never kept
    results = call_org_hook("person_erase", world.club_a, person=person)
    assert any(r.get("applications_erased") == 1 for r in results)
    db.session.commit()
    assert stored() == []


def applied_and_opened_by_the_admin(client, world) -> tuple[str, str]:
    """Els applies at club A; its admin opens the application: (its URL, the page)."""
    configure(world.club_a, open=True)
    send(client, world.club_a, type_id=str(world.adult.id))
    (item,) = stored()
    web_login(client, "admin-a@example.org")
    url = f"/o/{world.club_a.id}/membership/applications/{item.id}"
    return url, client.get(url).get_data(as_text=True)


def test_a_new_person_gets_the_custom_fields_the_federation_requires(client, world):
    from core.models import CustomField

    db.session.add(CustomField(org_id=world.fed.id, key="tshirt", label="T-shirtmaat", field_type="choice",
                               choices=["S", "M", "L"], required=True))
    db.session.commit()
    url, page = applied_and_opened_by_the_admin(client, world)
    assert "T-shirtmaat" in page
    data = {"csrf_token": CSRF.search(page).group(1), "action": "accept", "type_id": str(world.adult.id),
            "starts_on": "2026-01-01"}
    r = client.post(url, data=data)
    assert r.status_code == 422 and 'name="cf.tshirt" aria-invalid="true"' in r.get_data(as_text=True)
    assert stored()[0].status == "new" and els_people() == []
    r = client.post(url, data={**data, "cf.tshirt": "M"})
    assert r.status_code == 302 and len(els_people()) == 1


def test_choosing_someone_else_on_the_page_makes_a_new_person(client, world):
    known, _ = add_member(world.club_b, world.adult, "Els", "Claes", birth=dt.date(1990, 2, 1))
    url, page = applied_and_opened_by_the_admin(client, world)
    assert f'name="person_id" value="{known.id}"' in page and 'name="person_id" value="new"' in page
    r = client.post(url, data={"csrf_token": CSRF.search(page).group(1), "action": "accept", "person_id": "new",
                               "type_id": str(world.adult.id), "starts_on": "2026-01-01"})
    assert r.status_code == 302
    assert len(els_people()) == 2 and [link.org_id for link in known.links] == [world.club_b.id]


def test_what_the_club_leaves_as_it_is_stays_inherited_from_the_federation(client, world):
    configure(world.fed, retention_days=60, intro="Welkom bij onze federatie.")
    web_login(client, "admin-a@example.org")
    url = f"/o/{world.club_a.id}/membership/applications/form"
    page = client.get(url).get_data(as_text=True)
    assert 'value="60"' in page and "Welkom bij onze federatie." in page
    r = client.post(url, data={"csrf_token": CSRF.search(page).group(1), "open": "1", "ask_address": "1",
                               "ask_phone": "1", "capacity": "0", "retention_days": "60", "undecided_days": "365",
                               "intro": "Welkom bij onze federatie.", "notify": "", "privacy_url": ""})
    assert r.status_code == 302
    configure(world.fed, retention_days=30)
    registry = current_app.extensions["federa"].settings
    settings = applications.form_settings(db.session, registry, world.club_a)
    assert (settings.open, settings.retention_days, settings.intro) == (True, 30, "Welkom bij onze federatie.")


def test_the_new_member_is_invited_to_the_member_app(client, world, make):
    from core.models import RoleAssignment, User

    configure(world.club_a, open=True)
    send(client, world.club_a, type_id=str(world.adult.id))
    send(client, world.club_a, type_id=str(world.adult.id), first_name="Tom", email="sec@example.org")
    els, tom = stored()
    outbox()
    web_login(client, "admin-a@example.org")  # a club admin without the right to give roles: no invitation
    assert 'name="invite"' not in client.get(f"/o/{world.club_a.id}/membership/applications/{els.id}").get_data(
        as_text=True)
    client.get("/logout")
    web_login(client, "sec@example.org")
    for item in (els, tom):
        url = f"/o/{world.club_a.id}/membership/applications/{item.id}"
        page = client.get(url).get_data(as_text=True)
        assert 'name="invite" value="1" checked' in page
        r = client.post(url, data={"csrf_token": CSRF.search(page).group(1), "action": "accept", "invite": "1",
                                   "type_id": str(world.adult.id), "starts_on": "2026-01-01"}, follow_redirects=True)
        assert r.status_code == 200
    html = r.get_data(as_text=True)
    # Tom's address is already another login's: he is a member all the same, without an invitation.
    assert "No invitation to the member app" in html and "already exists" in html
    (person,) = els_people()
    user = db.session.execute(sa.select(User).where(User.person_id == person.id)).scalar_one()
    assert user.email == "els@example.org"
    assert db.session.execute(sa.select(RoleAssignment).where(
        RoleAssignment.user_id == user.id, RoleAssignment.org_id == world.club_a.id)).scalar_one().role.key == "member"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership)) == 2
    assert sorted(m.to for m in outbox()) == ["els@example.org", "els@example.org", "sec@example.org"]


def test_the_api_invites_to_the_member_app_when_asked_and_allowed(client, world):
    from core.models import User

    configure(world.club_a, open=True)
    send(client, world.club_a, type_id=str(world.adult.id))
    (item,) = stored()
    r = client.post(api(world.club_a, "applications", item.id, "accept"), headers=world.admin_a,
                    json={"invite_to_app": True})
    assert r.status_code == 403 and stored()[0].status == "new"  # a club admin gives no roles
    r = client.post(api(world.club_a, "applications", item.id, "accept"), headers=world.secretariat,
                    json={"invite_to_app": True})
    assert r.status_code == 201 and r.json["invitation"] is None
    (person,) = els_people()
    assert db.session.execute(sa.select(User.email).where(User.person_id == person.id)).scalar_one() == \
        "els@example.org"

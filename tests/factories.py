"""Test data that reads like sentences: `make.club("KV Mechelen", parent=federation)`."""
from __future__ import annotations

import datetime as dt
import itertools

import sqlalchemy as sa
from flask import current_app

from core import auth
from core.models import Organisation, Package, Person, PersonOrganisation, Role, Subscription, User
from core.services.organisations import create_organisation
from core.services.users import assign_role, builtin_role, create_user

_seq = itertools.count(1)
PASSWORD = "secret-pass"


class Factory:
    def __init__(self, session):
        self.session = session

    def org(self, name: str | None = None, kind: str = "club", parent: Organisation | None = None, **fields) -> Organisation:
        org = create_organisation(self.session, name=name or f"Org {next(_seq)}", kind=kind, parent=parent, **fields)
        self.session.commit()
        return org

    def federation(self, name: str = "Federatie", **fields) -> Organisation:
        return self.org(name, "federation", **fields)

    def region(self, parent: Organisation, name: str | None = None) -> Organisation:
        return self.org(name or f"Regio {next(_seq)}", "region", parent=parent)

    def club(self, parent: Organisation, name: str | None = None, **fields) -> Organisation:
        return self.org(name or f"Club {next(_seq)}", "club", parent=parent, **fields)

    def person(self, first_name: str = "Jan", last_name: str | None = None, org: Organisation | None = None,
               **fields) -> Person:
        person = Person(first_name=first_name, last_name=last_name or f"Peeters{next(_seq)}", **fields)
        self.session.add(person)
        self.session.flush()
        if org is not None:
            self.session.add(PersonOrganisation(person_id=person.id, org_id=org.id))
        self.session.commit()
        return person

    def user(self, email: str | None = None, role: str | None = None, org: Organisation | None = None,
             password: str = PASSWORD, person: Person | None = None) -> User:
        email = email or f"user{next(_seq)}@example.org"
        person = person or self.person(first_name="User", last_name=email.split("@")[0], email=email, org=org)
        user = create_user(self.session, person, email, password)
        if role is not None:
            assign_role(self.session, user, builtin_role(self.session, role), org)
        self.session.commit()
        return user

    def token(self, user: User) -> str:
        raw, _ = auth.issue_token(self.session, user)
        self.session.commit()
        return raw

    def headers(self, user: User) -> dict:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def package(self, key: str, plugins: list[str], name: str | None = None) -> Package:
        package = Package(key=key, name=name or key.title(), plugins=plugins)
        self.session.add(package)
        self.session.commit()
        return package

    def subscribe(self, org: Organisation, package: Package, include_descendants: bool = False,
                  starts_on: dt.date | None = None, ends_on: dt.date | None = None) -> Subscription:
        sub = Subscription(org_id=org.id, package_id=package.id, include_descendants=include_descendants,
                           starts_on=starts_on or dt.date(2020, 1, 1), ends_on=ends_on)
        self.session.add(sub)
        self.session.commit()
        return sub

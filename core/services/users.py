"""Users, roles and assignments, with the club admin limit."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from core.auth import hash_password, set_password
from core.db import db
from core.models import Organisation, Person, Role, RoleAssignment, RolePermission, User
from core.permissions import ADMIN_ROLES, CLUB_ADMIN, CLUB_CONTACT, PLATFORM_ADMIN, PermissionRegistry
from core.services import Conflict, DomainError


def builtin_role(session: Session, key: str) -> Role:
    role = session.execute(sa.select(Role).where(Role.key == key)).scalar_one_or_none()
    if role is None:
        raise DomainError(f"built-in role {key!r} is missing; run `federa db upgrade`")
    return role


def create_user(session: Session, person: Person, email: str, password: str | None = None) -> User:
    email = email.strip().lower()
    if session.execute(sa.select(User.id).where(User.email == email)).first():
        raise Conflict("a user with this e-mail address already exists", field="email")
    if session.execute(sa.select(User.id).where(User.person_id == person.id)).first():
        raise Conflict("this person already has a login", field="person_id")
    user = User(person=person, email=email)
    if password:
        user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    return user


def assign_role(session: Session, user: User, role: Role, org: Organisation | None, settings=None) -> RoleAssignment:
    """Give `user` `role` on `org`. Enforces: platform admin is global, other roles need an organisation,
    custom roles only within their owner's subtree, one contact person and at most N admins per club."""
    if role.key == PLATFORM_ADMIN:
        if org is not None:
            raise DomainError("the platform admin role is global; give no organisation", field="org_id")
    elif org is None:
        raise DomainError("this role needs an organisation", field="org_id")
    if role.org_id is not None and (org is None or role.org_id not in org.ancestor_ids):
        raise DomainError("this role belongs to another organisation", field="role_id")
    existing = session.execute(sa.select(RoleAssignment).where(
        RoleAssignment.user_id == user.id, RoleAssignment.role_id == role.id,
        RoleAssignment.org_id.is_(None) if org is None else RoleAssignment.org_id == org.id,
    )).scalar_one_or_none()
    if existing is not None:
        return existing
    if role.key in ADMIN_ROLES and org is not None:
        _check_admin_limit(session, role, org, settings)
    assignment = RoleAssignment(user=user, role=role, org_id=org.id if org else None)
    session.add(assignment)
    session.flush()
    return assignment


def _check_admin_limit(session: Session, role: Role, org: Organisation, settings) -> None:
    counts = dict(session.execute(
        sa.select(Role.key, sa.func.count(RoleAssignment.id))
        .join(Role, Role.id == RoleAssignment.role_id)
        .where(RoleAssignment.org_id == org.id, Role.key.in_(ADMIN_ROLES))
        .group_by(Role.key)
    ).all())
    if role.key == CLUB_CONTACT and counts.get(CLUB_CONTACT, 0) >= 1:
        raise Conflict("this club already has a contact person; remove that assignment first", field="role_id")
    if role.key == CLUB_ADMIN:
        from core.settings import get_setting

        registry = settings or current_app.extensions["federa"].settings
        limit = int(get_setting(session, registry, org, "core.max_club_admins"))
        if counts.get(CLUB_ADMIN, 0) >= limit:
            raise Conflict(f"this club already has {limit} admins besides the contact person, "
                           f"the most its federation allows", field="role_id", limit=limit)


def create_platform_admin(email: str, password: str, first_name: str = "Platform", last_name: str = "Admin") -> User:
    session = db.session
    user = session.execute(sa.select(User).where(User.email == email.strip().lower())).scalar_one_or_none()
    if user is None:
        person = Person(first_name=first_name, last_name=last_name, email=email.strip().lower())
        session.add(person)
        session.flush()
        user = create_user(session, person, email)
    set_password(user, password)
    assign_role(session, user, builtin_role(session, PLATFORM_ADMIN), None)
    session.commit()
    return user


def create_custom_role(session: Session, org: Organisation, name: str, permissions: list[str],
                       registry: PermissionRegistry, description: str | None = None) -> Role:
    unknown = [p for p in permissions if p not in registry]
    if unknown:
        raise DomainError(f"unknown permissions: {', '.join(unknown)}", field="permissions")
    role = Role(name=name, description=description, org_id=org.id)
    role.permission_rows = [RolePermission(permission=p) for p in sorted(set(permissions))]
    session.add(role)
    session.flush()
    return role

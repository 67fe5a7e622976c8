"""Users, roles and role assignments: custom roles, granting and revoking, the club admin limit.

Two rules hold everywhere a role is made or given:
- nobody passes on a permission they do not hold themselves on that organisation (`check_can_grant`),
  and only a platform admin makes another platform admin;
- a club has one contact person and at most N other admins (`core.max_club_admins`, set by the federation).
Custom roles belong to an organisation and can be given in its subtree; built-in roles cannot be changed.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, joinedload

from core import validation
from core.auth import hash_password, set_password
from core.db import db
from core.models import Organisation, Person, PersonOrganisation, Role, RoleAssignment, RolePermission, User
from core.permissions import (
    ADMIN_ROLES, BUILTIN_ROLES, CLUB_ADMIN, CLUB_CONTACT, PLATFORM_ADMIN, PermissionRegistry,
    module_levels_to_permissions,
)
from core.services import Conflict, DomainError, NotFound
from core.services.organisations import in_subtree  # noqa: F401  (views use users.in_subtree)

UNSCOPED = {"federa_unscoped": True}


class Forbidden(DomainError):
    """The user may not do this (e.g. grant more than they hold)."""

    status = 403


@dataclass(frozen=True)
class Granter:
    """Who is granting: what they hold on the organisation concerned (`Access.held_permissions`)."""

    held: frozenset[str]
    is_platform_admin: bool


# --- users ------------------------------------------------------------------------------------

def builtin_role(session: Session, key: str) -> Role:
    role = session.execute(sa.select(Role).where(Role.key == key)).scalar_one_or_none()
    if role is None:
        raise DomainError(f"built-in role {key!r} is missing; run `federa db upgrade`")
    return role


def create_user(session: Session, person: Person, email: str, password: str | None = None) -> User:
    try:
        email = validation.email(email or "").lower()
    except ValueError as exc:
        raise DomainError(str(exc), field="email") from None
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


# --- roles ------------------------------------------------------------------------------------

def role_permissions(role: Role, registry: PermissionRegistry) -> frozenset[str]:
    """Built-in roles take theirs from the registry (`Permission.default_roles`); custom roles store them."""
    if role.key is not None:
        return registry.for_role_key(role.key)
    return frozenset(row.permission for row in role.permission_rows)


def _builtin_position(role: Role) -> int:
    return BUILTIN_ROLES.index(role.key) if role.key in BUILTIN_ROLES else len(BUILTIN_ROLES)


def roles_for_org(session: Session, org: Organisation) -> list[Role]:
    """Built-in roles, then the custom roles of `org` and its ancestors (those can be given here)."""
    roles = session.execute(
        sa.select(Role).where(sa.or_(Role.key.is_not(None), Role.org_id.in_(org.ancestor_ids)))
    ).scalars().all()
    return sorted(roles, key=lambda r: (r.key is None, _builtin_position(r), r.name.lower(), r.id))


def roles_query(org: Organisation):
    """A select of the roles usable on `org`, for paginated lists."""
    return (sa.select(Role)
            .where(sa.or_(Role.key.is_not(None), Role.org_id.in_(org.ancestor_ids)))
            .order_by(Role.org_id.is_not(None), Role.org_id, Role.name, Role.id))


def role_for_org(session: Session, org: Organisation, role_id: int) -> Role:
    """A role usable on `org` (built-in or owned by it or an ancestor); others do not exist from here."""
    role = session.get(Role, role_id)
    if role is None or (role.key is None and role.org_id not in org.ancestor_ids):
        raise NotFound("no such role", field="role_id")
    return role


def resolve_role(session: Session, org: Organisation, role_id: int | None = None, key: str | None = None) -> Role:
    """The role named by id or by built-in key, as given in a request."""
    if (role_id is None) == (key is None):
        raise DomainError("give either role_id or role", field="role_id")
    if key is not None:
        role = session.execute(sa.select(Role).where(Role.key == key)).scalar_one_or_none()
        if role is None:
            raise DomainError(f"unknown role {key!r}; built-in roles are {', '.join(BUILTIN_ROLES)}", field="role")
        return role
    try:
        return role_for_org(session, org, role_id)
    except NotFound:
        raise DomainError("no such role in this organisation", field="role_id") from None


def permissions_from_input(registry: PermissionRegistry, modules: dict | None = None,
                           permissions: list | None = None) -> set[str]:
    """A role's permissions given as module levels or as an explicit list (exactly one of them)."""
    if (modules is None) == (permissions is None):
        raise DomainError("give either modules or permissions", field="modules")
    if modules is not None:
        try:
            return module_levels_to_permissions(registry, modules)
        except ValueError as exc:
            raise DomainError(str(exc), field="modules") from None
    unknown = sorted({p for p in permissions if p not in registry})
    if unknown:
        raise DomainError(f"unknown permissions: {', '.join(unknown)}", field="permissions")
    return set(permissions)


def check_can_grant(granter: Granter | None, permissions, role_key: str | None = None) -> None:
    """Refuse to pass on what the granter does not hold (no privilege escalation). None = system (CLI, demo)."""
    if granter is None or granter.is_platform_admin:
        return
    if role_key == PLATFORM_ADMIN:
        raise Forbidden("only a platform admin can make someone a platform admin", field="role")
    missing = sorted(set(permissions) - granter.held)
    if missing:
        raise Forbidden("you cannot grant permissions you do not hold yourself: " + ", ".join(missing),
                        field="permissions", missing=missing)


def _clean_name(session: Session, org: Organisation, name: str | None, role: Role | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError("a name is required", field="name")
    if len(name) > 100:
        raise DomainError("at most 100 characters", field="name")
    clash = session.execute(sa.select(Role.id).where(
        Role.org_id == org.id, sa.func.lower(Role.name) == name.lower(),
        Role.id != (role.id if role is not None else -1),
    )).first()
    if clash:
        raise Conflict("this organisation already has a role with this name", field="name")
    return name


def create_custom_role(session: Session, org: Organisation, name: str, permissions, registry: PermissionRegistry,
                       description: str | None = None, granter: Granter | None = None) -> Role:
    unknown = sorted({p for p in permissions if p not in registry})
    if unknown:
        raise DomainError(f"unknown permissions: {', '.join(unknown)}", field="permissions")
    check_can_grant(granter, permissions)
    role = Role(name=_clean_name(session, org, name), description=(description or "").strip() or None, org_id=org.id)
    role.permission_rows = [RolePermission(permission=p) for p in sorted(set(permissions))]
    session.add(role)
    session.flush()
    return role


def _own_custom_role(org: Organisation, role: Role) -> None:
    if role.builtin:
        raise Forbidden("built-in roles cannot be changed or deleted; make a custom role instead", field="role_id")
    if role.org_id != org.id:
        raise Forbidden("this role belongs to a parent organisation; change it there", field="role_id")


def update_custom_role(session: Session, org: Organisation, role: Role, registry: PermissionRegistry, *,
                       name: str | None = None, description: str | None = None, permissions=None,
                       granter: Granter | None = None) -> Role:
    """Change a custom role owned by `org`. Only given values change (None = keep)."""
    _own_custom_role(org, role)
    if name is not None:
        role.name = _clean_name(session, org, name, role)
    if description is not None:
        role.description = description.strip() or None
    if permissions is not None:
        unknown = sorted({p for p in permissions if p not in registry})
        if unknown:
            raise DomainError(f"unknown permissions: {', '.join(unknown)}", field="permissions")
        # Only what is added must be held: an admin may still take away permissions they lack.
        check_can_grant(granter, set(permissions) - role_permissions(role, registry))
        wanted = set(permissions)
        role.permission_rows = [row for row in role.permission_rows if row.permission in wanted]
        have = {row.permission for row in role.permission_rows}
        role.permission_rows.extend(RolePermission(permission=p) for p in sorted(wanted - have))
    session.flush()
    return role


def delete_custom_role(session: Session, org: Organisation, role: Role) -> None:
    _own_custom_role(org, role)
    holders = session.scalar(sa.select(sa.func.count()).select_from(RoleAssignment)
                             .where(RoleAssignment.role_id == role.id))
    if holders:
        raise Conflict(f"this role is still given to {holders} user(s); remove those assignments first",
                       field="role_id", assignments=holders)
    session.delete(role)
    session.flush()


# --- assignments ------------------------------------------------------------------------------

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


def assignments_query(org: Organisation):
    """A select of the assignments on `org` and its subtree, with user, person, role and organisation loaded."""
    return (sa.select(RoleAssignment)
            .join(Organisation, Organisation.id == RoleAssignment.org_id)
            .join(User, User.id == RoleAssignment.user_id)
            .join(Person, Person.id == User.person_id)
            .where(Organisation.path.startswith(org.path))
            .options(joinedload(RoleAssignment.user).joinedload(User.person),
                     joinedload(RoleAssignment.role), joinedload(RoleAssignment.organisation))
            .order_by(Organisation.depth, Organisation.name, Person.last_name, Person.first_name, RoleAssignment.id))


def filter_assignments(query, role: Role | None = None, target_org_id: int | None = None, q: str | None = None):
    if role is not None:
        query = query.where(RoleAssignment.role_id == role.id)
    if target_org_id is not None:
        query = query.where(RoleAssignment.org_id == target_org_id)
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(sa.or_(
            sa.func.lower(User.email).like(like),
            sa.func.lower(Person.first_name + " " + Person.last_name).like(like),
        ))
    return query


def assignment_in(session: Session, org: Organisation, assignment_id: int) -> RoleAssignment:
    assignment = session.get(RoleAssignment, assignment_id)
    if assignment is None or assignment.organisation is None or not in_subtree(org, assignment.organisation):
        raise NotFound("no such assignment", field="assignment_id")
    return assignment


def _visible_people_filter(org: Organisation):
    """People linked to an organisation in the subtree, or holding a role there."""
    subtree = sa.select(Organisation.id).where(Organisation.path.startswith(org.path))
    linked = sa.select(PersonOrganisation.person_id).where(PersonOrganisation.org_id.in_(subtree))
    with_role = (sa.select(User.person_id).join(RoleAssignment, RoleAssignment.user_id == User.id)
                 .where(RoleAssignment.org_id.in_(subtree)))
    return sa.or_(Person.id.in_(linked), Person.id.in_(with_role))


def visible_person(session: Session, org: Organisation, person_id: int) -> Person | None:
    return session.execute(
        sa.select(Person).where(Person.id == person_id, _visible_people_filter(org)), execution_options=UNSCOPED
    ).scalar_one_or_none()


def search_people(session: Session, org: Organisation, q: str, limit: int = 20) -> list[Person]:
    """People visible in `org`'s subtree matching an id or a piece of name or e-mail (for the role picker)."""
    q = (q or "").strip()
    if not q:
        return []
    query = sa.select(Person).where(_visible_people_filter(org), Person.merged_into_id.is_(None))
    if q.isdigit():
        query = query.where(Person.id == int(q))
    else:
        like = f"%{q.lower()}%"
        query = query.where(sa.or_(
            sa.func.lower(Person.first_name + " " + Person.last_name).like(like),
            sa.func.lower(sa.func.coalesce(Person.email, "")).like(like),
        ))
    return list(session.execute(query.order_by(Person.last_name, Person.first_name, Person.id).limit(limit),
                                execution_options=UNSCOPED).scalars())


def grant_role(session: Session, org: Organisation, registry: PermissionRegistry, *, role: Role,
               target_org: Organisation | None = None, user_id: int | None = None, person_id: int | None = None,
               email: str | None = None, granter: Granter | None = None, settings=None,
               inviter_name: str | None = None) -> tuple[RoleAssignment, bool]:
    """Give a role to a person visible in `org`'s subtree, on `target_org` (default `org`, must be in its subtree).

    A person without a login gets one with `email` and an invitation e-mail with a set-password link.
    Returns the assignment and whether an invitation was sent. The caller commits."""
    target = target_org or org
    if not in_subtree(org, target):
        raise DomainError("this organisation is not in your organisation's subtree", field="org_id")
    if (user_id is None) == (person_id is None):
        raise DomainError("give either user_id or person_id", field="person_id")
    user: User | None = None
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or visible_person(session, org, user.person_id) is None:
            raise DomainError("no such user in this organisation", field="user_id")
        person = user.person
    else:
        person = visible_person(session, org, person_id)
        if person is None:
            raise DomainError("no such person in this organisation", field="person_id")
        user = session.execute(sa.select(User).where(User.person_id == person.id)).scalar_one_or_none()
    if person.merged_into_id is not None:
        raise DomainError(f"this person was merged into person {person.merged_into_id}", field="person_id")
    if role.key is None and role.org_id not in target.ancestor_ids:
        raise DomainError("this role cannot be given on that organisation", field="role_id")
    if role.key == PLATFORM_ADMIN:
        check_can_grant(granter, (), PLATFORM_ADMIN)
        target = None
    else:
        check_can_grant(granter, role_permissions(role, registry), role.key)
    invited = False
    if user is None:
        address = email or person.email
        if not address:
            raise DomainError("this person has no login yet: give an e-mail address for the invitation",
                              field="email")
        user = create_user(session, person, address)
        invited = True
    if not user.is_active:
        raise Conflict("this login is blocked", field="user_id")
    assignment = assign_role(session, user, role, target, settings)
    if invited:
        from core.auth import send_invitation

        send_invitation(user, inviter_name=inviter_name, org_name=(target or org).name)
    return assignment, invited


def revoke_assignment(session: Session, org: Organisation, assignment: RoleAssignment, registry: PermissionRegistry,
                      granter: Granter | None = None) -> None:
    """Remove an assignment in `org`'s subtree; only someone who could have granted it may take it away."""
    if assignment.organisation is None or not in_subtree(org, assignment.organisation):
        raise NotFound("no such assignment", field="assignment_id")
    check_can_grant(granter, role_permissions(assignment.role, registry), assignment.role.key)
    session.delete(assignment)
    session.flush()

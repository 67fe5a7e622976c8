"""What the current user may see and do: organisation visibility and permissions.

An assignment on an organisation applies to its whole subtree. A user who holds no
assignment on an organisation or one of its ancestors does not see it at all (404);
one who sees it but lacks a permission gets 403. Permissions of a module that is off
for the organisation do not count there.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import g
from sqlalchemy.orm import Session

from core.models import Organisation, Role, RoleAssignment, RolePermission, User
from core.permissions import PLATFORM_ADMIN, PermissionRegistry


@dataclass
class Access:
    user: User | None
    # (org_id or None, role_id, role_key) for every assignment the user holds
    assignments: list[tuple[int | None, int, str | None]] = field(default_factory=list)
    _role_permissions: dict[int, frozenset[str]] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict)

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None

    @property
    def is_platform_admin(self) -> bool:
        return any(key == PLATFORM_ADMIN for _, _, key in self.assignments)

    @property
    def org_ids(self) -> set[int]:
        """Organisations the user holds an assignment on (roots of what they can see)."""
        return {org_id for org_id, _, _ in self.assignments if org_id is not None}

    def can_see(self, org: Organisation) -> bool:
        if self.is_platform_admin:
            return True
        ancestors = set(org.ancestor_ids)
        return any(org_id in ancestors for org_id in self.org_ids)

    def role_keys_on(self, org: Organisation) -> set[str]:
        ancestors = set(org.ancestor_ids)
        return {key for org_id, _, key in self.assignments if key and org_id in ancestors}

    def held_permissions(self, org: Organisation) -> frozenset[str]:
        """Every permission the user's roles give on `org`, whether or not its module is enabled there.

        This is what a user may pass on (grant to others, put in a role): nobody grants more than they hold."""
        key = ("held", org.id)
        if key not in self._cache:
            ancestors = set(org.ancestor_ids)
            perms: set[str] = set()
            for org_id, role_id, role_key in self.assignments:
                if role_key == PLATFORM_ADMIN or org_id in ancestors:
                    perms |= self._role_permissions.get(role_id, frozenset())
            self._cache[key] = frozenset(perms)
        return self._cache[key]

    def granter(self, org: Organisation):
        """This user as the one granting roles on `org` (`core.services.users.Granter`)."""
        from core.services.users import Granter

        return Granter(held=self.held_permissions(org), is_platform_admin=self.is_platform_admin)

    def permissions_on(self, org: Organisation) -> frozenset[str]:
        """The permissions that count on `org`: those held there, limited to the modules enabled for it."""
        key = ("perms", org.id)
        if key not in self._cache:
            from core.gates import active_modules  # per-request cached

            enabled = active_modules(org)
            self._cache[key] = frozenset(p for p in self.held_permissions(org) if p.split(".", 1)[0] in enabled)
        return self._cache[key]

    def forget(self) -> None:
        """Drop what was worked out (after a change to modules or assignments within the request)."""
        self._cache.clear()

    def has(self, permission: str, org: Organisation) -> bool:
        if permission.split(".", 1)[0] == "core":
            # Core is on everywhere: no need to work out the organisation's modules for its permissions.
            return permission in self.held_permissions(org)
        return permission in self.permissions_on(org)


def load_access(session: Session, user: User | None, registry: PermissionRegistry) -> Access:
    """One query for the assignments, one for custom-role permissions."""
    if user is None:
        return Access(user=None)
    rows = session.execute(
        sa.select(RoleAssignment.org_id, Role.id, Role.key)
        .join(Role, Role.id == RoleAssignment.role_id)
        .where(RoleAssignment.user_id == user.id)
    ).all()
    assignments = [(org_id, role_id, key) for org_id, role_id, key in rows]
    role_permissions: dict[int, frozenset[str]] = {}
    custom_ids = [role_id for _, role_id, key in assignments if key is None]
    if custom_ids:
        grouped: dict[int, set[str]] = {}
        for role_id, perm in session.execute(
            sa.select(RolePermission.role_id, RolePermission.permission).where(RolePermission.role_id.in_(custom_ids))
        ):
            grouped.setdefault(role_id, set()).add(perm)
        role_permissions.update({rid: frozenset(p) for rid, p in grouped.items()})
    for _, role_id, key in assignments:
        if key is not None:
            role_permissions[role_id] = registry.for_role_key(key)
    return Access(user=user, assignments=assignments, _role_permissions=role_permissions)


def current_access() -> Access:
    access = getattr(g, "access", None)
    if access is None:
        access = g.access = Access(user=None)
    return access


def visible_org_filter(access: Access):
    """SQL condition on `Organisation` selecting what `access` can see."""
    if access.is_platform_admin:
        return sa.true()
    roots = list(access.org_ids)
    if not roots:
        return sa.false()
    # An organisation is visible when some root's path is a prefix of its path.
    root = sa.orm.aliased(Organisation)
    return sa.exists(sa.select(root.id).where(root.id.in_(roots), Organisation.path.startswith(root.path)))

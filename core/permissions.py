"""Permissions are declared as data by core and plugins; roles are sets of them.

Built-in roles get their permissions from `Permission.default_roles`, so a new plugin's
permissions reach the built-in roles without a data migration. Custom roles store names.

Custom roles are made per module with a level (`module_levels_to_permissions`):
- "read" grants the module's permissions whose name ends in ".read";
- "write" grants all of the module's permissions (read, write and special ones such as
  `core.people.merge`);
- "none" (or leaving the module out) grants nothing of it.
`permissions_to_module_levels` is the reverse, for showing a role; a role whose permissions of a
module match neither level (made through the API with an explicit list) shows as "custom".
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from dataclasses import dataclass, field

PLATFORM_ADMIN = "platform_admin"
FEDERATION_SECRETARIAT = "federation_secretariat"
CLUB_CONTACT = "club_contact"
CLUB_ADMIN = "club_admin"
MEMBER = "member"

LEVELS = ("none", "read", "write")

BUILTIN_ROLES = (PLATFORM_ADMIN, FEDERATION_SECRETARIAT, CLUB_CONTACT, CLUB_ADMIN, MEMBER)
# Roles that count towards a club's admin limit (one contact person plus at most N admins).
ADMIN_ROLES = (CLUB_CONTACT, CLUB_ADMIN)

ADMINS = (FEDERATION_SECRETARIAT, CLUB_CONTACT, CLUB_ADMIN)


@dataclass(frozen=True)
class Permission:
    name: str  # "<module>.<object>.<read|write>" or "<module>.<read|write>"
    label: str
    description: str = ""
    default_roles: tuple[str, ...] = ADMINS

    @property
    def module(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def level(self) -> str:
        """"read" or "write" (anything not ending in .read counts as write)."""
        return "read" if self.name.endswith(".read") else "write"


class PermissionRegistry:
    def __init__(self) -> None:
        self._by_name: dict[str, Permission] = {}

    def add(self, permission: Permission, owner: str) -> None:
        if permission.name in self._by_name:
            raise RuntimeError(f"duplicate permission {permission.name!r} (declared again by {owner})")
        self._by_name[permission.name] = permission

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __iter__(self):
        return iter(sorted(self._by_name.values(), key=lambda p: p.name))

    def get(self, name: str) -> Permission | None:
        return self._by_name.get(name)

    def for_builtin_role(self, role_key: str) -> frozenset[str]:
        return frozenset(p.name for p in self._by_name.values() if role_key in p.default_roles)

    def modules(self) -> list[str]:
        return sorted({p.module for p in self._by_name.values()})

    def of_module(self, module: str) -> list[Permission]:
        return [p for p in self if p.module == module]

    def for_role_key(self, role_key: str) -> frozenset[str]:
        """Permissions of a built-in role: every permission for the platform admin, else `default_roles`."""
        if role_key == PLATFORM_ADMIN:
            return frozenset(self._by_name)
        return self.for_builtin_role(role_key)

    def grouped(self) -> dict[str, list[Permission]]:
        """The catalogue by module, modules sorted by name."""
        result: dict[str, list[Permission]] = {}
        for permission in self:
            result.setdefault(permission.module, []).append(permission)
        return result


def module_levels_to_permissions(registry: PermissionRegistry, levels: dict[str, str]) -> set[str]:
    """{"core": "read", "membership": "write"} -> permission names (rule in the module docstring).

    Raises `ValueError` naming the module at fault for an unknown module or level."""
    known = set(registry.modules())
    granted: set[str] = set()
    for module, level in levels.items():
        if module not in known:
            raise ValueError(f"unknown module {module!r}")
        if level not in LEVELS:
            raise ValueError(f"level of {module!r} must be one of {', '.join(LEVELS)}")
        for permission in registry.of_module(module):
            if level == "write" or (level == "read" and permission.level == "read"):
                granted.add(permission.name)
    return granted


def permissions_to_module_levels(registry: PermissionRegistry, names) -> dict[str, str]:
    """Permission names -> {module: "read" | "write" | "custom"}; modules with none are left out."""
    names = set(names)
    levels: dict[str, str] = {}
    for module in registry.modules():
        perms = registry.of_module(module)
        held = {p.name for p in perms} & names
        if not held:
            continue
        everything = {p.name for p in perms}
        reads = {p.name for p in perms if p.level == "read"}
        if held == everything:
            levels[module] = "write"
        elif held == reads:
            levels[module] = "read"
        else:
            levels[module] = "custom"
    return levels


CORE_PERMISSIONS = [
    Permission("core.organisation.read", _l("View organisations"), default_roles=ADMINS),
    Permission("core.organisation.write", _l("Edit organisations and their settings"), default_roles=(FEDERATION_SECRETARIAT, CLUB_CONTACT, CLUB_ADMIN)),
    Permission("core.organisation.create", _l("Create and move organisations below this one"), default_roles=(FEDERATION_SECRETARIAT,)),
    Permission("core.people.read", _l("View people"), default_roles=ADMINS),
    Permission("core.people.write", _l("Create and edit people"), default_roles=ADMINS),
    Permission("core.people.merge", _l("Merge duplicate people"), default_roles=(FEDERATION_SECRETARIAT,)),
    Permission("core.people.national_number", _l("See full national register numbers and bank accounts"), default_roles=(FEDERATION_SECRETARIAT, CLUB_CONTACT)),
    Permission("core.custom_fields.write", _l("Define custom fields"), default_roles=(FEDERATION_SECRETARIAT, CLUB_CONTACT, CLUB_ADMIN)),
    Permission("core.roles.read", _l("View roles and who holds them"), default_roles=ADMINS),
    Permission("core.roles.write", _l("Manage roles and assignments"), default_roles=(FEDERATION_SECRETARIAT, CLUB_CONTACT)),
    Permission("core.modules.read", _l("View enabled modules and subscriptions"), default_roles=ADMINS),
    Permission("core.modules.write", _l("Manage packages, subscriptions and module overrides"), default_roles=(FEDERATION_SECRETARIAT,)),
    Permission("core.audit.read", _l("Read the audit log"), default_roles=(FEDERATION_SECRETARIAT, CLUB_CONTACT)),
    Permission("core.jobs.read", _l("Follow background jobs"), default_roles=ADMINS),
]

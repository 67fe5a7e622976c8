"""Per-organisation settings declared by core and plugins, with defaults.

A value set on an organisation applies to its subtree unless a descendant sets its own
(e.g. a federation's `core.max_club_admins` holds for all its clubs).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.models import Organisation, OrganisationSetting


@dataclass(frozen=True)
class SettingSpec:
    key: str  # "<module>.<name>"
    label: str
    default: Any
    type: type = str
    description: str = ""


class SettingRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, SettingSpec] = {}

    def add(self, spec: SettingSpec, owner: str) -> None:
        if spec.key in self._specs:
            raise RuntimeError(f"duplicate setting {spec.key!r} (declared again by {owner})")
        self._specs[spec.key] = spec

    def __getitem__(self, key: str) -> SettingSpec:
        return self._specs[key]

    def __contains__(self, key: str) -> bool:
        return key in self._specs

    def __iter__(self):
        return iter(self._specs.values())


class SettingError(ValueError):
    pass


def get_setting(session: Session, registry: SettingRegistry, org: Organisation, key: str) -> Any:
    """The value on `org` or its nearest ancestor, else the declared default."""
    spec = registry[key]
    ancestors = org.ancestor_ids
    rows = dict(session.execute(
        sa.select(OrganisationSetting.org_id, OrganisationSetting.value).where(
            OrganisationSetting.key == key, OrganisationSetting.org_id.in_(ancestors)
        ),
        execution_options={"federa_unscoped": True},
    ).all())
    for org_id in reversed(ancestors):
        if org_id in rows:
            return rows[org_id]
    return spec.default


def set_setting(session: Session, registry: SettingRegistry, org: Organisation, key: str, value: Any) -> None:
    if key not in registry:
        raise SettingError(f"unknown setting {key!r}")
    spec = registry[key]
    try:
        value = spec.type(value) if value is not None else None
    except (TypeError, ValueError) as exc:
        raise SettingError(f"{key}: expected {spec.type.__name__}") from exc
    row = session.execute(
        sa.select(OrganisationSetting).where(OrganisationSetting.org_id == org.id, OrganisationSetting.key == key),
        execution_options={"federa_unscoped": True},
    ).scalar_one_or_none()
    if row is None:
        session.add(OrganisationSetting(org_id=org.id, key=key, value=value))
    else:
        row.value = value


CORE_SETTINGS = [
    SettingSpec("core.max_club_admins", "Maximum number of club admins besides the contact person", 5, int),
]

"""Which modules (plugins) are enabled for an organisation.

enabled(org) = plugins of its own active subscriptions
             ∪ plugins of active subscriptions of ancestors that include descendants
             ∪ overrides switched on for it, closed over `requires`,
             minus overrides switched off for it and whatever requires those.
Disabling never deletes data. The result is cached per request (see `core.gates`).
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.models import ModuleOverride, Organisation, Package, Subscription
from core.plugins import PluginRegistry

UNSCOPED = {"federa_unscoped": True}


def compute_enabled(session: Session, registry: PluginRegistry, org: Organisation,
                    today: dt.date | None = None) -> frozenset[str]:
    today = today or dt.date.today()
    ancestors = org.ancestor_ids[:-1]
    rows = session.execute(
        sa.select(Package.plugins)
        .join(Subscription, Subscription.package_id == Package.id)
        .where(
            sa.or_(
                Subscription.org_id == org.id,
                sa.and_(Subscription.org_id.in_(ancestors), Subscription.include_descendants.is_(True)),
            ),
            Subscription.starts_on <= today,
            sa.or_(Subscription.ends_on.is_(None), Subscription.ends_on >= today),
        ),
        execution_options=UNSCOPED,
    ).scalars()
    names: set[str] = set()
    for plugins in rows:
        names.update(plugins or ())
    overrides = session.execute(
        sa.select(ModuleOverride.plugin, ModuleOverride.enabled).where(ModuleOverride.org_id == org.id),
        execution_options=UNSCOPED,
    ).all()
    names.update(plugin for plugin, on in overrides if on)
    names = registry.close_over_requires(names)
    for plugin, on in overrides:
        if not on and plugin in names:
            names.discard(plugin)
            names -= registry.dependants(plugin)
    return frozenset(n for n in names if n in registry and registry[n].optional)


def module_sources(session: Session, registry: PluginRegistry, org: Organisation) -> dict[str, list[str]]:
    """For the modules overview: why each plugin is on (package names, 'override', 'required by X')."""
    today = dt.date.today()
    ancestors = org.ancestor_ids[:-1]
    sources: dict[str, list[str]] = {}
    subs = session.execute(
        sa.select(Subscription, Package)
        .join(Package, Subscription.package_id == Package.id)
        .where(
            sa.or_(
                Subscription.org_id == org.id,
                sa.and_(Subscription.org_id.in_(ancestors), Subscription.include_descendants.is_(True)),
            ),
            Subscription.starts_on <= today,
            sa.or_(Subscription.ends_on.is_(None), Subscription.ends_on >= today),
        ),
        execution_options=UNSCOPED,
    ).all()
    for sub, package in subs:
        for plugin in package.plugins or ():
            sources.setdefault(plugin, []).append(package.name)
    for override in session.execute(
        sa.select(ModuleOverride).where(ModuleOverride.org_id == org.id), execution_options=UNSCOPED
    ).scalars():
        sources.setdefault(override.plugin, []).append("override:on" if override.enabled else "override:off")
    return sources


class ModuleError(ValueError):
    """An unknown module name or a change that cannot be made."""


def set_override(session: Session, registry: PluginRegistry, org: Organisation, plugin: str,
                 enabled: bool | None) -> None:
    """Switch a module on/off for one organisation (None removes the override). Data is never deleted."""
    if plugin not in registry or not registry[plugin].optional:
        raise ModuleError(f"unknown module {plugin!r}")
    row = session.execute(
        sa.select(ModuleOverride).where(ModuleOverride.org_id == org.id, ModuleOverride.plugin == plugin),
        execution_options=UNSCOPED,
    ).scalar_one_or_none()
    if enabled is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(ModuleOverride(org_id=org.id, plugin=plugin, enabled=enabled))
    else:
        row.enabled = enabled

"""Which modules (plugins) are enabled for an organisation, and the packages and subscriptions behind it.

enabled(org) = plugins of its own active subscriptions
             ∪ plugins of active subscriptions of ancestors that include descendants
             ∪ overrides switched on for it, closed over `requires`,
             minus overrides switched off for it and whatever requires those.
Disabling never deletes data. The result is cached per request (see `core.gates`).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from flask_babel import gettext
import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.models import ModuleOverride, Organisation, Package, Subscription
from core.plugins import PluginRegistry
from core.services import Conflict, DomainError, NotFound

UNSCOPED = {"federa_unscoped": True}
PACKAGE_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")


def _active_on(today: dt.date):
    return sa.and_(Subscription.starts_on <= today,
                   sa.or_(Subscription.ends_on.is_(None), Subscription.ends_on >= today))


def _granting(org: Organisation):
    """Subscriptions that count for `org`: its own, and its ancestors' that include descendants."""
    return sa.or_(
        Subscription.org_id == org.id,
        sa.and_(Subscription.org_id.in_(org.ancestor_ids[:-1]), Subscription.include_descendants.is_(True)),
    )


def compute_enabled(session: Session, registry: PluginRegistry, org: Organisation,
                    today: dt.date | None = None) -> frozenset[str]:
    return compute_enabled_many(session, registry, [org], today)[org.id]


def compute_enabled_many(session: Session, registry: PluginRegistry, orgs, today: dt.date | None = None,
                         chunk: int = 1000) -> dict[int, frozenset[str]]:
    """`compute_enabled` of each of `orgs` by id, in two queries per `chunk` organisations (a bulk action
    over a thousand clubs sends its events to each club's modules)."""
    today = today or dt.date.today()
    orgs = list({org.id: org for org in orgs}.values())
    result: dict[int, frozenset[str]] = {}
    for start in range(0, len(orgs), chunk):
        part = orgs[start:start + chunk]
        granting = sorted({i for org in part for i in org.ancestor_ids} | {org.id for org in part})
        subscriptions: dict[int, list] = {}
        for org_id, descendants, plugins in session.execute(
                sa.select(Subscription.org_id, Subscription.include_descendants, Package.plugins)
                .join(Package, Package.id == Subscription.package_id)
                .where(Subscription.org_id.in_(granting), _active_on(today)), execution_options=UNSCOPED):
            subscriptions.setdefault(org_id, []).append((descendants, plugins or ()))
        overrides: dict[int, list] = {}
        for org_id, plugin, on in session.execute(
                sa.select(ModuleOverride.org_id, ModuleOverride.plugin, ModuleOverride.enabled)
                .where(ModuleOverride.org_id.in_([org.id for org in part])), execution_options=UNSCOPED):
            overrides.setdefault(org_id, []).append((plugin, on))
        for org in part:
            names: set[str] = set()
            for _, plugins in subscriptions.get(org.id, ()):  # its own subscriptions
                names.update(plugins)
            for ancestor in org.ancestor_ids[:-1]:  # ancestors' that include descendants
                for descendants, plugins in subscriptions.get(ancestor, ()):
                    if descendants:
                        names.update(plugins)
            own = overrides.get(org.id, ())
            names.update(plugin for plugin, on in own if on)
            names = registry.close_over_requires(names)
            for plugin, on in own:
                if not on and plugin in names:
                    names.discard(plugin)
                    names -= registry.dependants(plugin)
            result[org.id] = frozenset(n for n in names if n in registry and registry[n].optional)
    return result


# --- the modules overview -----------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """One reason a module is on (or off) for an organisation.

    kind: "package" (own subscription), "inherited" (an ancestor's subscription for its subtree),
    "override" (switched on/off for this organisation), "required_by" (another enabled module needs it)."""

    kind: str
    package: str | None = None
    package_id: int | None = None
    org_id: int | None = None
    org_name: str | None = None
    plugin: str | None = None
    enabled: bool | None = None


@dataclass
class ModuleState:
    name: str
    label: str
    description: str
    requires: tuple[str, ...]
    enabled: bool
    override: bool | None = None
    sources: list[Source] = field(default_factory=list)


def module_overview(session: Session, registry: PluginRegistry, org: Organisation,
                    today: dt.date | None = None) -> list[ModuleState]:
    """Every optional loaded plugin, whether it is on for `org`, and why."""
    today = today or dt.date.today()
    enabled = compute_enabled(session, registry, org, today)
    sources: dict[str, list[Source]] = {}
    rows = session.execute(
        sa.select(Subscription.org_id, Package.id, Package.name, Package.plugins, Organisation.name)
        .join(Package, Subscription.package_id == Package.id)
        .join(Organisation, Organisation.id == Subscription.org_id)
        .where(_granting(org), _active_on(today))
        .order_by(Organisation.depth, Package.name),
        execution_options=UNSCOPED,
    ).all()
    for sub_org_id, package_id, package_name, plugins, org_name in rows:
        kind = "package" if sub_org_id == org.id else "inherited"
        for plugin in plugins or ():
            source = Source(kind, package=package_name, package_id=package_id, org_id=sub_org_id, org_name=org_name)
            if source not in sources.setdefault(plugin, []):
                sources[plugin].append(source)
    overrides = dict(session.execute(
        sa.select(ModuleOverride.plugin, ModuleOverride.enabled).where(ModuleOverride.org_id == org.id),
        execution_options=UNSCOPED,
    ).all())
    for plugin, on in overrides.items():
        sources.setdefault(plugin, []).append(Source("override", enabled=on))
    for plugin in registry.optional:
        if plugin.name in enabled:
            for required in plugin.requires:
                sources.setdefault(required, []).append(Source("required_by", plugin=plugin.name))
    return [
        ModuleState(name=p.name, label=str(p.label or p.name), description=p.description,
                    requires=tuple(p.requires), enabled=p.name in enabled, override=overrides.get(p.name),
                    sources=sources.get(p.name, []))
        for p in sorted(registry.optional, key=lambda p: p.name)
    ]


def module_sources(session: Session, registry: PluginRegistry, org: Organisation) -> dict[str, list[str]]:
    """Short text reasons per plugin (package names, 'override:on/off', 'required by X')."""
    result: dict[str, list[str]] = {}
    for state in module_overview(session, registry, org):
        for s in state.sources:
            text = {"package": s.package, "inherited": s.package, "override": f"override:{'on' if s.enabled else 'off'}",
                    "required_by": f"required by {s.plugin}"}[s.kind]
            result.setdefault(state.name, []).append(text)
    return result


class ModuleError(ValueError):
    """An unknown module name or a change that cannot be made."""


def check_module(registry: PluginRegistry, plugin: str) -> None:
    if plugin not in registry or not registry[plugin].optional:
        raise ModuleError(gettext("unknown module %(module)r", module=plugin))


def set_override(session: Session, registry: PluginRegistry, org: Organisation, plugin: str,
                 enabled: bool | None) -> None:
    """Switch a module on/off for one organisation (None removes the override). Data is never deleted.

    Switching on also switches on what it requires (through `compute_enabled`'s closure); switching off
    also switches off the modules that require it."""
    check_module(registry, plugin)
    row = session.execute(
        sa.select(ModuleOverride).where(ModuleOverride.org_id == org.id, ModuleOverride.plugin == plugin),
        execution_options=UNSCOPED,
    ).scalar_one_or_none()
    if enabled is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(ModuleOverride(org_id=org.id, plugin=plugin, enabled=enabled))
    elif row.enabled != enabled:
        row.enabled = enabled
    session.flush()


# --- packages ------------------------------------------------------------------------------------

def _check_plugins(registry: PluginRegistry, plugins) -> list[str]:
    if not isinstance(plugins, (list, tuple)) or not all(isinstance(p, str) for p in plugins):
        raise DomainError(gettext("a list of module names is expected"), field="plugins")
    unknown = [p for p in plugins if p not in registry or not registry[p].optional]
    if unknown:
        raise DomainError(gettext("unknown module: %(modules)s", modules=", ".join(unknown)), field="plugins", unknown=unknown)
    return sorted(set(plugins))


def list_packages(session: Session) -> list[Package]:
    return list(session.execute(sa.select(Package).order_by(Package.name)).scalars())


def create_package(session: Session, registry: PluginRegistry, key: str, name: str, plugins: list[str],
                   description: str | None = None) -> Package:
    key = (key or "").strip()
    if not PACKAGE_KEY_RE.match(key):
        raise DomainError(gettext("a package key is 2-40 lower-case letters, digits, - or _"), field="key")
    if not (name or "").strip():
        raise DomainError(gettext("a name is required"), field="name")
    plugins = _check_plugins(registry, plugins)
    if session.execute(sa.select(Package.id).where(Package.key == key)).first():
        raise Conflict(gettext("a package with key %(key)r already exists", key=key), field="key")
    package = Package(key=key, name=name.strip(), description=description, plugins=plugins)
    session.add(package)
    session.flush()
    return package


def update_package(session: Session, registry: PluginRegistry, package: Package, **fields) -> Package:
    if "plugins" in fields:
        fields["plugins"] = _check_plugins(registry, fields["plugins"])
    if "name" in fields and not (fields["name"] or "").strip():
        raise DomainError(gettext("a name is required"), field="name")
    if "key" in fields and fields["key"] != package.key:
        key = (fields["key"] or "").strip()
        if not PACKAGE_KEY_RE.match(key):
            raise DomainError(gettext("a package key is 2-40 lower-case letters, digits, - or _"), field="key")
        if session.execute(sa.select(Package.id).where(Package.key == key)).first():
            raise Conflict(gettext("a package with key %(key)r already exists", key=key), field="key")
        fields["key"] = key
    for key, value in fields.items():
        setattr(package, key, value.strip() if key == "name" else value)
    session.flush()
    return package


# --- subscriptions ---------------------------------------------------------------------------------

def subscriptions_of(session: Session, org: Organisation, inherited: bool = False) -> list[Subscription]:
    """`org`'s own subscriptions, newest first; with `inherited`, the ancestors' that include descendants."""
    where = (sa.and_(Subscription.org_id.in_(org.ancestor_ids[:-1]), Subscription.include_descendants.is_(True))
             if inherited else Subscription.org_id == org.id)
    return list(session.execute(
        sa.select(Subscription).where(where).order_by(Subscription.starts_on.desc(), Subscription.id.desc()),
        execution_options=UNSCOPED,
    ).scalars())


def is_active(sub: Subscription, today: dt.date | None = None) -> bool:
    today = today or dt.date.today()
    return sub.starts_on <= today and (sub.ends_on is None or sub.ends_on >= today)


def subscribe(session: Session, org: Organisation, package_id: int, starts_on: dt.date | None = None,
              ends_on: dt.date | None = None, include_descendants: bool = False) -> Subscription:
    package = session.get(Package, package_id) if package_id is not None else None
    if package is None:
        raise DomainError(gettext("no such package"), field="package_id")
    starts_on = starts_on or dt.date.today()
    if ends_on is not None and ends_on < starts_on:
        raise DomainError(gettext("the end date lies before the start date"), field="ends_on")
    sub = Subscription(org_id=org.id, package_id=package.id, starts_on=starts_on, ends_on=ends_on,
                       include_descendants=bool(include_descendants))
    session.add(sub)
    session.flush()
    return sub


def get_subscription(session: Session, org: Organisation, subscription_id: int) -> Subscription:
    sub = session.execute(
        sa.select(Subscription).where(Subscription.id == subscription_id, Subscription.org_id == org.id),
        execution_options=UNSCOPED,
    ).scalar_one_or_none()
    if sub is None:
        raise NotFound(gettext("no such subscription"))
    return sub


def end_subscription(session: Session, sub: Subscription, today: dt.date | None = None) -> Subscription | None:
    """End a subscription now: it stays on record with `ends_on` yesterday, so its modules are off today.

    One that has not started before today never gave anything and is removed (returns None)."""
    today = today or dt.date.today()
    if sub.starts_on >= today:
        session.delete(sub)
        session.flush()
        return None
    yesterday = today - dt.timedelta(days=1)
    if sub.ends_on is None or sub.ends_on > yesterday:
        sub.ends_on = yesterday
    session.flush()
    return sub

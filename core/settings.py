"""Per-organisation settings declared by core and plugins, with defaults.

A value set on an organisation applies to its subtree unless a descendant sets its own
(e.g. a federation's `core.max_club_admins` holds for all its clubs). Clearing a value (None)
makes the organisation inherit again. A spec may name the permission needed to change it, so a
club admin cannot raise a limit its federation set (`core.max_club_admins` needs
`core.organisation.create`, which by default only the federation secretariat holds).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.models import Organisation, OrganisationSetting

UNSCOPED = {"federa_unscoped": True}
TYPE_NAMES = {str: "string", int: "integer", bool: "boolean", float: "number"}


@dataclass(frozen=True)
class SettingSpec:
    key: str  # "<module>.<name>"
    label: str
    default: Any
    type: type = str
    description: str = ""
    #: Allowed values (empty: any value of `type`).
    choices: tuple = ()
    min_value: int | float | None = None
    max_value: int | float | None = None
    #: Permission needed on the organisation to change it (default `core.organisation.write`).
    write_permission: str = "core.organisation.write"

    @property
    def module(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, self.type.__name__)


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
    """A value that does not fit the setting's declaration; `key` names the setting."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key
        self.message = message


def coerce(spec: SettingSpec, value: Any) -> Any:
    """Check and convert `value` (JSON from the API, or text from a web form) to the spec's type."""
    if spec.type is bool:
        if isinstance(value, bool):
            result = value
        elif isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
            result = True
        elif isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
            result = False
        else:
            raise SettingError(spec.key, gettext("expected yes or no (true/false)"))
    elif spec.type in (int, float):
        if isinstance(value, bool):
            raise SettingError(spec.key, gettext("expected a whole number") if spec.type is int else gettext("expected a number"))
        try:
            if isinstance(value, str):
                value = value.strip()
            result = spec.type(value)
            if spec.type is int and isinstance(value, float) and value != result:
                raise ValueError
        except (TypeError, ValueError):
            raise SettingError(spec.key, gettext("expected a whole number") if spec.type is int else gettext("expected a number")) from None
        if spec.min_value is not None and result < spec.min_value:
            raise SettingError(spec.key, gettext("must be at least %(min)s", min=spec.min_value))
        if spec.max_value is not None and result > spec.max_value:
            raise SettingError(spec.key, gettext("must be at most %(max)s", max=spec.max_value))
    else:
        if not isinstance(value, str):
            raise SettingError(spec.key, gettext("expected text"))
        result = value.strip()
    if spec.choices and result not in spec.choices:
        raise SettingError(spec.key, gettext("must be one of: %(choices)s", choices=", ".join(str(c) for c in spec.choices)))
    return result


def _values_on(session: Session, org_ids: list[int], keys=None) -> dict[tuple[int, str], Any]:
    query = sa.select(OrganisationSetting.org_id, OrganisationSetting.key, OrganisationSetting.value).where(
        OrganisationSetting.org_id.in_(org_ids))
    if keys is not None:
        query = query.where(OrganisationSetting.key.in_(list(keys)))
    return {(org_id, key): value for org_id, key, value in session.execute(query, execution_options=UNSCOPED)}


def get_setting(session: Session, registry: SettingRegistry, org: Organisation, key: str) -> Any:
    """The value on `org` or its nearest ancestor, else the declared default."""
    spec = registry[key]
    ancestors = org.ancestor_ids
    values = _values_on(session, ancestors, [key])
    for org_id in reversed(ancestors):
        if (org_id, key) in values:
            return values[(org_id, key)]
    return spec.default


@dataclass(frozen=True)
class EffectiveSetting:
    spec: SettingSpec
    value: Any
    #: "own", "inherited" or "default"
    source: str
    source_org_id: int | None = None

    @property
    def own_value(self) -> Any:
        return self.value if self.source == "own" else None


def effective_settings(session: Session, registry: SettingRegistry, org: Organisation,
                       modules: frozenset[str] | set[str] | None = None) -> list[EffectiveSetting]:
    """Every declared setting (of core and, when given, the enabled `modules`) with its value and origin."""
    specs = [s for s in registry if modules is None or s.module == "core" or s.module in modules]
    ancestors = org.ancestor_ids
    values = _values_on(session, ancestors, [s.key for s in specs])
    result = []
    for spec in sorted(specs, key=lambda s: s.key):
        for org_id in reversed(ancestors):
            if (org_id, spec.key) in values:
                source = "own" if org_id == org.id else "inherited"
                result.append(EffectiveSetting(spec, values[(org_id, spec.key)], source, org_id))
                break
        else:
            result.append(EffectiveSetting(spec, spec.default, "default"))
    return result


def set_setting(session: Session, registry: SettingRegistry, org: Organisation, key: str, value: Any) -> None:
    """Store a value on `org` (None removes it, so the organisation inherits again)."""
    if key not in registry:
        raise SettingError(key, gettext("unknown setting %(key)r", key=key))
    spec = registry[key]
    if value is not None:
        value = coerce(spec, value)
    row = session.execute(
        sa.select(OrganisationSetting).where(OrganisationSetting.org_id == org.id, OrganisationSetting.key == key),
        execution_options=UNSCOPED,
    ).scalar_one_or_none()
    if value is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(OrganisationSetting(org_id=org.id, key=key, value=value))
    elif row.value != value:
        row.value = value
    session.flush()


def set_settings(session: Session, registry: SettingRegistry, org: Organisation, values: dict[str, Any],
                 allowed=lambda spec: True, modules=None, keep_inherited: bool = False) -> None:
    """Set several values at once: all are checked first, so one bad value changes nothing.

    Raises `SettingErrors` with a message per key, or `SettingForbidden` when `allowed(spec)` is false
    for one of them. `allowed(spec)` tells whether the caller may change a
    setting; `modules` (when given) limits to settings of core and those enabled modules.
    `keep_inherited`: a value equal to the one `org` inherits (or the default) is not stored as its own, so a
    later change above still reaches it (for forms that show every value, with no "inherit" choice)."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    forbidden: list[SettingSpec] = []
    for key, value in values.items():
        spec = registry[key] if key in registry else None
        if spec is None or (modules is not None and spec.module != "core" and spec.module not in modules):
            errors[key] = gettext("unknown setting")
            continue
        if not allowed(spec):
            forbidden.append(spec)
            continue
        try:
            clean[key] = coerce(spec, value) if value is not None else None
        except SettingError as exc:
            errors[key] = exc.message
    if forbidden:
        raise SettingForbidden(forbidden)
    if errors:
        raise SettingErrors(errors)
    if keep_inherited:
        current = {s.spec.key: s for s in effective_settings(session, registry, org)}
        clean = {key: value for key, value in clean.items()
                 if current[key].source == "own" or value != current[key].value}
    for key, value in clean.items():
        set_setting(session, registry, org, key, value)


class SettingErrors(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("invalid settings: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class SettingForbidden(PermissionError):
    def __init__(self, specs: list[SettingSpec]):
        super().__init__(gettext("changing %(settings)s needs permission %(permissions)s",
                                 settings=", ".join(s.key for s in specs),
                                 permissions=", ".join(sorted({s.write_permission for s in specs}))))
        self.specs = specs


CORE_SETTINGS = [
    SettingSpec("core.max_club_admins", _l("Maximum number of club admins besides the contact person"), 5, int,
                description=_l("Set by the federation; applies to every club below it."),
                min_value=0, max_value=100, write_permission="core.organisation.create"),
]

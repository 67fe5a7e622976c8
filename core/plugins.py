"""Plugin loading: entry points, load order, pluggy manager, start-up checks.

A plugin is a class with `name`, `label`, `requires` and `@hookimpl` methods, found through
the entry-point group `federa.plugins`. One `PluginManager` per app (tests build apps with
different plugin sets), kept with the plugin registry in `app.extensions["federa"]`.
"""
from __future__ import annotations

import importlib
import inspect
from graphlib import CycleError, TopologicalSorter
from importlib.metadata import entry_points
from pathlib import Path

import pluggy

from core import hookspecs

ENTRY_POINT_GROUP = "federa.plugins"
CORE = "core"


class Plugin:
    """Base class for plugins. The docstring's first line is the description."""

    name: str = ""
    label: str = ""
    requires: tuple[str, ...] = ()
    #: Set False for plugins that are always on (core's own default plugin).
    optional: bool = True

    @property
    def description(self) -> str:
        return (inspect.getdoc(self) or "").split("\n", 1)[0]

    @property
    def package(self) -> str:
        return type(self).__module__.rsplit(".", 1)[0]

    @property
    def migrations_dir(self) -> Path | None:
        module = importlib.import_module(self.package)
        if not getattr(module, "__file__", None):
            return None
        path = Path(module.__file__).parent / "migrations" / "versions"
        return path if path.is_dir() else None

    def __repr__(self) -> str:
        return f"<Plugin {self.name}>"


class PluginError(RuntimeError):
    """A plugin set that cannot start: unknown name, missing requirement, cycle, bad hook."""


def discover() -> dict[str, type[Plugin]]:
    """Installed plugin classes by name, from the entry-point group."""
    found: dict[str, type[Plugin]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        found[cls.name or ep.name] = cls
    return found


def load_order(plugins: dict[str, Plugin]) -> list[str]:
    """Topological on `requires`, ties broken by name."""
    for plugin in plugins.values():
        missing = [req for req in plugin.requires if req not in plugins]
        if missing:
            raise PluginError(f"plugin {plugin.name!r} requires {', '.join(missing)}, which is not loaded")
    sorter = TopologicalSorter({name: set(p.requires) for name, p in plugins.items()})
    try:
        sorter.prepare()
    except CycleError as exc:
        raise PluginError(f"plugin requirements form a cycle: {exc.args[1]}") from exc
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order


class PluginRegistry:
    """The loaded plugins of one app, in load order, and their pluggy manager."""

    def __init__(self, plugins: list[Plugin]) -> None:
        by_name: dict[str, Plugin] = {}
        for plugin in plugins:
            if not plugin.name:
                raise PluginError(f"{type(plugin).__name__} has no name")
            if plugin.name in by_name:
                raise PluginError(f"two plugins are called {plugin.name!r}")
            by_name[plugin.name] = plugin
        self.order = load_order(by_name)
        self.plugins = {name: by_name[name] for name in self.order}
        self.pm = pluggy.PluginManager("federa")
        self.pm.add_hookspecs(hookspecs)
        for name in self.order:
            self.pm.register(self.plugins[name], name=name)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(str(exc)) from exc
        self._subset_callers: dict[tuple[str, frozenset[str]], object] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.plugins

    def __getitem__(self, name: str) -> Plugin:
        return self.plugins[name]

    @property
    def always_on(self) -> frozenset[str]:
        """Core and the plugins that are not switched per organisation (`optional = False`)."""
        return frozenset(p.name for p in self.plugins.values() if not p.optional)

    @property
    def optional(self) -> list[Plugin]:
        """Plugins that organisations switch on and off (everything but core's own)."""
        return [p for p in self.plugins.values() if p.optional]

    def close_over_requires(self, names) -> set[str]:
        """`names` plus everything they (transitively) require, limited to loaded plugins."""
        result: set[str] = set()
        stack = [n for n in names if n in self.plugins]
        while stack:
            name = stack.pop()
            if name in result:
                continue
            result.add(name)
            stack.extend(r for r in self.plugins[name].requires if r not in result)
        return result

    def dependants(self, name: str) -> set[str]:
        """Plugins that (transitively) require `name`."""
        result: set[str] = set()
        changed = True
        while changed:
            changed = False
            for plugin in self.plugins.values():
                if plugin.name not in result and (name in plugin.requires or result & set(plugin.requires)):
                    result.add(plugin.name)
                    changed = True
        return result

    def hook_for(self, hook_name: str, enabled: frozenset[str]):
        """The hook caller that reaches only core and the plugins in `enabled` (gate 2)."""
        disabled = frozenset(p.name for p in self.optional if p.name not in enabled)
        key = (hook_name, disabled)
        caller = self._subset_callers.get(key)
        if caller is None:
            if disabled:
                caller = self.pm.subset_hook_caller(hook_name, remove_plugins=[self.plugins[n] for n in disabled])
            else:
                caller = getattr(self.pm.hook, hook_name)
            self._subset_callers[key] = caller
        return caller

    def collect(self, hook_name: str, **kwargs) -> list[tuple[str, object]]:
        """Call an app-scoped hook on every plugin; return `(plugin_name, item)` for each item returned."""
        results = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            items = impl.function(**{k: kwargs[k] for k in impl.argnames})
            for item in items or ():
                results.append((impl.plugin_name, item))
        return results


def build_registry(config: dict, extra_plugins=()) -> PluginRegistry:
    """Instantiate core's default plugin, the installed plugins chosen by `FEDERA_PLUGINS`, and `extra_plugins`."""
    from core.default_plugin import CorePlugin

    installed = discover()
    wanted = config.get("PLUGINS")
    if wanted is None:
        chosen = list(installed)
    else:
        unknown = [name for name in wanted if name not in installed]
        if unknown:
            raise PluginError(f"FEDERA_PLUGINS names unknown plugins: {', '.join(unknown)} "
                              f"(installed: {', '.join(sorted(installed)) or 'none'})")
        chosen = list(wanted)
    instances: list[Plugin] = [CorePlugin()] + [installed[name]() for name in chosen]
    instances += [p() if isinstance(p, type) else p for p in extra_plugins]
    return PluginRegistry(instances)


def check_model_prefixes(registry: PluginRegistry, mappers=None) -> None:
    """Every table a plugin's models define must start with `<plugin>_` (Indico checks the same at load)."""
    if mappers is None:
        from core.db import Base

        mappers = Base.registry.mappers
    owners = [p for p in registry.plugins.values() if p.name != CORE]
    for mapper in mappers:
        module = mapper.class_.__module__
        matching = [p for p in owners if module.startswith(p.package + ".")]
        if not matching:
            continue
        # The innermost package owns the model; plugins sharing a package may use any of their prefixes.
        longest = max(len(p.package) for p in matching)
        prefixes = sorted(p.name + "_" for p in matching if len(p.package) == longest)
        for table in mapper.tables:
            if not table.name.startswith(tuple(prefixes)):
                raise PluginError(f"table {table.name!r} of plugin {prefixes[0][:-1]!r} must be prefixed "
                                  f"with {' or '.join(map(repr, prefixes))}")

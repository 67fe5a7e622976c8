"""Plugin loading: entry points, load order, check_pending and the start-up checks."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Blueprint
from sqlalchemy.orm import Mapped, mapped_column

from core.hookspecs import hookimpl
from core.permissions import Permission
from core.plugins import Plugin, PluginError, PluginRegistry, check_model_prefixes, load_order
from tests.sample_plugin.plugin import SampleExtraPlugin, SamplePlugin


def named(name, requires=()):
    return type(f"P_{name}", (Plugin,), {"name": name, "requires": tuple(requires)})()


def test_load_order_is_topological_with_ties_by_name():
    plugins = {p.name: p for p in [named("zeta"), named("billing", ["membership"]), named("membership"),
                                   named("alpha"), named("documents", ["membership", "billing"])]}
    assert load_order(plugins) == ["alpha", "membership", "zeta", "billing", "documents"]


def test_missing_requirement_stops_start_up():
    with pytest.raises(PluginError, match="requires membership"):
        load_order({"billing": named("billing", ["membership"])})


def test_requirement_cycle_stops_start_up():
    with pytest.raises(PluginError, match="cycle"):
        load_order({"a": named("a", ["b"]), "b": named("b", ["a"])})


def test_misspelt_hook_fails_at_start_up():
    class Misspelt(Plugin):
        name = "misspelt"

        @hookimpl
        def menu_item(self, org, access):  # the hook is called menu_items
            return []

    with pytest.raises(PluginError, match="menu_item"):
        PluginRegistry([Misspelt()])


def test_duplicate_permission_stops_start_up(make_app):
    class Dup(Plugin):
        name = "dup"

        @hookimpl
        def register_permissions(self):
            return [Permission("core.people.read", "again")]

    with pytest.raises(RuntimeError, match="duplicate permission 'core.people.read'"):
        make_app(plugins=[Dup])


def test_unknown_plugin_in_config_stops_start_up(make_app):
    with pytest.raises(PluginError, match="unknown plugins: nonexistent"):
        make_app(PLUGINS=["nonexistent"])


def test_plugin_endpoint_without_org_must_be_marked(make_app):
    bp = Blueprint("leaky_web", __name__)

    @bp.route("/leaky/everything")
    def everything():
        return "all organisations' data"

    class Leaky(Plugin):
        name = "leaky"

        @hookimpl
        def register_blueprints(self, app):
            return [bp]

    with pytest.raises(RuntimeError, match="leaky_web.everything .* no org_id"):
        make_app(plugins=[Leaky])


def test_plugin_tables_must_carry_the_plugin_prefix():
    from sqlalchemy.orm import DeclarativeBase

    class OtherBase(DeclarativeBase):
        pass

    class Thing(OtherBase):
        __tablename__ = "thing"
        id: Mapped[int] = mapped_column(primary_key=True)

    Thing.__module__ = "badprefix.models"

    class BadPrefix(Plugin):
        name = "badprefix"

    BadPrefix.__module__ = "badprefix.plugin"
    registry = PluginRegistry([BadPrefix()])
    with pytest.raises(PluginError, match="'thing' of plugin 'badprefix' must be prefixed"):
        check_model_prefixes(registry, OtherBase.registry.mappers)
    Thing.__table__.name = "badprefix_thing"
    check_model_prefixes(registry, OtherBase.registry.mappers)


def test_sample_plugins_load_in_requires_order(sample_app):
    registry = sample_app.extensions["federa"].plugins
    order = registry.order
    assert order[0] == "core" and order.index("sample") < order.index("sample_extra")
    assert registry.close_over_requires({"sample_extra"}) == {"sample", "sample_extra"}
    assert registry.dependants("sample") == {"sample_extra"}


def test_plugin_cli_commands_are_registered(sample_app):
    result = sample_app.test_cli_runner().invoke(args=["sample-hello"])
    assert result.output.strip() == "hello from sample"

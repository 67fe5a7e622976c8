"""The `federa` command: db upgrade, demo-data, serve, worker, create-admin (+ plugin commands)."""
from __future__ import annotations

import getpass
import importlib
import os
import signal
import sys
import threading
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext


def _create_app(*args, **kwargs) -> Flask:
    from core.app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def main() -> None:
    """Federa platform administration."""


def register_plugin_cli(app: Flask, registry) -> None:
    for owner, command in registry.collect("register_cli"):
        app.cli.add_command(command)


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply all migrations (core and every loaded plugin)."""
    from core.migrations import upgrade

    from core.db import db as database
    from core.reference_data import ensure_reference_data

    upgrade(current_app._get_current_object(), revision)
    ensure_reference_data(database.session)  # kinds and built-in roles added since the first revision
    database.session.commit()
    click.echo("database is up to date")


@db.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    from core.migrations import check

    check(current_app._get_current_object())
    click.echo("models and migrations agree")


@db.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--branch", default="core", show_default=True, help="core or a plugin name")
@click.option("--autogenerate/--empty", default=True)
def db_revision(message: str, branch: str, autogenerate: bool) -> None:
    """Write a new migration for core or a plugin (developers); autogenerate looks at that branch's tables only."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from core.migrations import HERE, alembic_config

    app = current_app._get_current_object()
    registry = app.extensions["federa"].plugins
    if branch not in registry:
        raise click.ClickException(f"unknown branch {branch!r}: core or a loaded plugin")
    plugin = registry[branch]
    if branch == "core":
        version_path = HERE / "versions"
    else:
        version_path = Path(importlib.import_module(plugin.package).__file__).parent / "migrations" / "versions"
        version_path.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config(app)  # after creating the folder, so it is among the version locations
    cfg.attributes["branch"] = branch
    script = ScriptDirectory.from_config(cfg)
    first = not any(branch in (rev.branch_labels or ()) for rev in script.walk_revisions())
    kwargs = {"version_path": str(version_path)}
    if first:
        # A new branch starts at base, labelled with its name, after the branches it needs.
        kwargs.update(head="base", branch_label=branch)
        needs = [] if branch == "core" else ["core", *plugin.requires]
        depends = [script.get_revision(f"{name}@head").revision for name in needs]
        if depends:
            kwargs["depends_on"] = depends
    else:
        kwargs["head"] = f"{branch}@head"
    command.revision(cfg, message=message, autogenerate=autogenerate, **kwargs)


@main.command("demo-data")
@with_appcontext
def demo_data() -> None:
    """Load the demo federation, clubs, people and logins (idempotent)."""
    from core.demo import load_demo_data

    summary = load_demo_data()
    click.echo(summary)


@main.command("create-admin")
@click.option("--email", required=True)
@click.option("--first-name", default="Platform")
@click.option("--last-name", default="Admin")
@click.option("--password", default=None, help="prompted when omitted")
@with_appcontext
def create_admin(email: str, first_name: str, last_name: str, password: str | None) -> None:
    """Create (or promote) a platform admin."""
    from core.services.users import create_platform_admin

    if password is None:
        password = getpass.getpass("Password: ")
    user = create_platform_admin(email=email, password=password, first_name=first_name, last_name=last_name)
    click.echo(f"platform admin {user.email} ready")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, threads: int) -> None:
    """Serve the platform (with in-process jobs unless FEDERA_REDIS_URL is set)."""
    from werkzeug.serving import run_simple

    app = current_app._get_current_object()
    runner = app.extensions["federa"].jobs
    stop = threading.Event()
    if runner.inprocess:
        runner.start_inprocess_worker()
        threading.Thread(target=runner.run_scheduler, args=(stop,), daemon=True, name="federa-scheduler").start()
    click.echo(f"Federa on http://{host}:{port}/ (jobs: {runner.broker_name})")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        stop.set()
        runner.stop()


@main.command("worker")
@click.option("--threads", default=4, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="do not enqueue periodic jobs from this worker")
def worker(threads: int, no_scheduler: bool) -> None:
    """Run background jobs from Redis (needs FEDERA_REDIS_URL). Stops gracefully on SIGTERM/SIGINT."""
    import dramatiq

    app = current_app._get_current_object()
    runner = app.extensions["federa"].jobs
    if runner.inprocess:
        raise click.ClickException("federa worker needs FEDERA_REDIS_URL; without it jobs run inside `federa serve`")
    stop = threading.Event()

    def _stop(*_):
        stop.set()

    # Before anything starts: a SIGTERM right after start-up must still stop gracefully.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    runner.broker.emit_after("process_boot")
    worker = dramatiq.Worker(runner.broker, worker_threads=threads)
    worker.start()
    if not no_scheduler:
        threading.Thread(target=runner.run_scheduler, args=(stop,), daemon=True, name="federa-scheduler").start()
    click.echo(f"worker running ({threads} threads, {len(runner.actors)} actors, broker {runner.broker_name})")
    sys.stdout.flush()  # supervisors and tests wait for this line
    stop.wait()
    worker.stop()
    click.echo("worker stopped")

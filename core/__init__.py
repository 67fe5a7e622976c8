"""Federa core: organisations, people, users, roles, permissions, packages, plugins, jobs.

`create_app` is the one entry point; see `core.app`.
"""
from core.app import create_app

__all__ = ["create_app"]

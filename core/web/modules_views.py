"""Admin pages: modules. (being written)"""
from __future__ import annotations

from core.web import web

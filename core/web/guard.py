"""Permission checks for admin pages (the route gate has already checked the organisation)."""
from __future__ import annotations

import functools

from flask import abort, g

from core.access import current_access


def require(permission: str):
    """Decorator: the current user needs `permission` on the organisation of the URL (else 403)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            org = getattr(g, "org", None)
            access = current_access()
            allowed = access.has(permission, org) if org is not None else access.is_platform_admin
            if not allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def can(permission: str) -> bool:
    org = getattr(g, "org", None)
    return org is not None and current_access().has(permission, org)

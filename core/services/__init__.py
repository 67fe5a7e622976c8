"""Core domain logic: plain functions taking a session and values; no Flask request objects."""


class DomainError(ValueError):
    """A rule of the domain refused the change; `field` names the input at fault when there is one."""

    status = 422

    def __init__(self, message: str, field: str | None = None, **details):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class Conflict(DomainError):
    status = 409


class NotFound(DomainError):
    status = 404

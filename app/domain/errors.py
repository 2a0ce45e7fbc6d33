"""Errors the domain raises; views turn them into HTTP answers with the message shown."""
from __future__ import annotations


class DomainError(Exception):
    """A refusal with a message for the user (already translated by the caller's locale)."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """Missing, or outside the user's scope: the two are not told apart, so that a scope
    check does not reveal that a record exists."""

    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    status = 422

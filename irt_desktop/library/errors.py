"""Errors the library raises on purpose; each message says what happened and what to do."""

from __future__ import annotations


class LibraryError(Exception):
    """A user-facing library failure (bad input, unusable folder, broken catalog)."""


class NoModelError(LibraryError):
    """No descriptor model is installed or active in this library: indexing and search need one."""


class SchemaTooNew(LibraryError):
    """The catalog was written by a newer irt-desktop; opening it here could lose data."""


class QueryError(LibraryError):
    """The query image could not be read; `.reason` is the decoder's short explanation."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message

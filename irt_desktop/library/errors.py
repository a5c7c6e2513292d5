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


class LibraryUnavailable(LibraryError):
    """The input was fine, but the library cannot do it now: in use, damaged, read-only, disk full.

    The CLI exits 1 for these (2 for other LibraryErrors, which are bad input)."""


class NoLibrary(LibraryError):
    """There is no library in the folder named (a mistyped --library must not create an empty one)."""


class LibraryBusy(LibraryUnavailable):
    """Another process holds the library's writer lock; `.holder` says who (None: unknown)."""

    def __init__(self, message: str, holder: object = None) -> None:
        super().__init__(message)
        self.holder = holder


class CatalogDamaged(LibraryUnavailable):
    """catalog.sqlite is damaged, empty or not a catalog; `irt-desktop repair` restores a backup."""


class StorageError(LibraryUnavailable):
    """A write could not be done: the disk is full, the folder is read-only, an I/O error."""


class BundleUnusable(NoModelError, LibraryUnavailable):
    """The library's model bundle is there but broken (card or weights); one line naming it."""

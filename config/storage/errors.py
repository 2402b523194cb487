"""What a store raises: `StorageError` for any failure, and subclasses for the refusals a
caller answers differently (a taken name or number, a version that cannot be used)."""

from __future__ import annotations

__all__ = [
    "NameTaken",
    "StorageError",
    "TokenNameTaken",
    "UnknownVersion",
    "VersionArchived",
    "VersionConflict",
    "VersionInUse",
]


class StorageError(Exception):
    """The store cannot be opened, migrated or used."""


class TokenNameTaken(StorageError):
    """A container already has a live (not revoked) token with that name."""


class VersionConflict(StorageError):
    """The version number is already taken (another create got there first)."""


class UnknownVersion(StorageError):
    """The container has no version with that number."""


class VersionArchived(StorageError):
    """An archived version cannot be published or rolled back to."""


class VersionInUse(StorageError):
    """A version an environment points to cannot be archived."""


class NameTaken(StorageError):
    """A user with that email, or a client with that id, already exists."""

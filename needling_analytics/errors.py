"""Exceptions and warnings raised by needling-analytics.

Every error carries the context a user needs to fix the input (the file,
and where known the line and column) as attributes, and says what to do in
its message. Every error of the package derives from
:class:`NeedlingAnalyticsError`, every warning from
:class:`NeedlingAnalyticsWarning`, so that a caller can catch or filter them
all at once.
"""

from __future__ import annotations

from pathlib import Path


class NeedlingAnalyticsError(Exception):
    """Base class of every error raised on purpose by needling-analytics."""


class NeedlingAnalyticsWarning(UserWarning):
    """Base class of every warning issued by needling-analytics."""


class InputError(NeedlingAnalyticsError):
    """The input cannot be read at all (as opposed to rows that are bad).

    Attributes
    ----------
    path : Path or None
        The file or folder concerned.
    hint : str
        What the user can do about it.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str = ""):
        self.path = Path(path) if path is not None else None
        self.hint = hint
        text = f"{path}: {message}" if path is not None else message
        if hint:
            text = f"{text}\n  What to do: {hint}"
        super().__init__(text)


class MissingTableError(InputError):
    """A required table (patients, episodes or sessions) has no file."""


class UnreadableFileError(InputError):
    """A file exists but is not a table we can read (binary, broken CSV...)."""


class MissingColumnsError(InputError):
    """A table lacks required columns after the mapping was applied.

    Attributes
    ----------
    missing : list of str
        The canonical columns that were not found.
    found : list of str
        The columns the file has.
    """

    def __init__(self, message: str, *, path=None, hint: str = "", missing=(), found=()):
        self.missing = list(missing)
        self.found = list(found)
        super().__init__(message, path=path, hint=hint)


class NothingKeptError(InputError):
    """A load kept no row of a required table, or lost most of a table to another's quarantined rows.

    Attributes
    ----------
    quality : QualityReport
        What the load found, so that it can still be written and read.
    """

    quality = None


class MappingError(InputError):
    """The mapping file is malformed or refers to unknown tables or columns."""


class DatabaseError(InputError):
    """A database cannot be reached or queried: no server, refused login, unknown database, or a failing query.

    The message names the server, the database and, for a query, the table;
    it never contains the password.
    """


class DataQualityWarning(NeedlingAnalyticsWarning):
    """Rows were quarantined or values adjusted while loading."""

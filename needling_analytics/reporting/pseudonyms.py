"""Practitioner pseudonyms for the clinic report: keyed, stable from month to month, never clashing.

Practitioner IDs in clinic records are often names or initials. Unless the
run configuration sets ``show_practitioner_ids = true``, the clinic report
calls each practitioner by a pseudonym such as ``"Practitioner 7F3A"``: the
first hex digits of HMAC-SHA256 of the ID under a secret key. The key is a
file of 32 random bytes that the runner creates once in the output folder
(:data:`KEY_FILE_NAME`, owner-only) and reuses, so a practitioner keeps the
same pseudonym every month. Without the key nobody can recompute a
pseudonym from an ID; a plain hash of initials could be reversed by trying
every pair of letters (DOMAIN.md, Privacy).

The clinic owner can tell each practitioner their own pseudonym::

    needling-analytics practitioners --config clinic.toml

prints the mapping (:func:`pseudonym_table`). Keep that output private.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..errors import InputError, NeedlingAnalyticsWarning
from ..permissions import warn_if_shared
from .text import Paragraph

#: Name of the key file in the output folder.
KEY_FILE_NAME = ".practitioner-key"
#: Size of a new key, and the shortest key accepted, in bytes (256 bits).
KEY_BYTES = 32
#: Hex digits of a pseudonym; more are used for practitioners whose first digits would clash.
SHORTEST = 4
#: Words before the hex digits.
PREFIX = "Practitioner "
_DOMAIN = b"clinic-report-practitioner:"  # keeps these pseudonyms unrelated to the research export's


class KeyFileWarning(NeedlingAnalyticsWarning):
    """The practitioner key file can be read by other users."""


def ensure_key_file(folder: str | Path) -> Path:
    """The practitioner key file in ``folder``: created the first time (32 random bytes, mode 0600), then reused.

    The file is written under a temporary name and linked into place, so
    two runs starting together end up with the same key.

    Returns
    -------
    Path
        ``folder / ".practitioner-key"``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)  # its mode follows the run's permissions; the key itself is 0600
    path = folder / KEY_FILE_NAME
    if not path.exists():
        draft = folder / f".{KEY_FILE_NAME}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES))
        try:
            os.link(draft, path)  # fails if another run made the key first: theirs is kept
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    read_key(path)
    return path


def read_key(path: str | Path) -> bytes:
    """The bytes of a practitioner key file.

    Raises
    ------
    InputError
        When the file is missing or shorter than 32 bytes.

    Warns
    -----
    KeyFileWarning
        When the group or others can read the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "practitioner key file not found",
            path=path,
            hint="the monthly run creates it in the output folder; run a clinic report, or pass the right path",
        )
    warn_if_shared(path, "practitioner key file", KeyFileWarning)
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise InputError(
            f"the practitioner key is {len(key)} bytes long; at least {KEY_BYTES} are needed",
            path=path,
            hint="delete the file and let the next run create a new one (pseudonyms will change once)",
        )
    return key


def practitioner_pseudonyms(ids: Iterable, key: bytes, *, shortest: int = SHORTEST) -> pd.Series:
    """Pseudonyms of practitioner IDs: ``"Practitioner "`` and the first hex digits of their keyed HMAC-SHA256.

    Each ID gets ``shortest`` upper-case hex digits; IDs whose digits would
    clash get more, until every pseudonym differs. A pseudonym depends on
    the ID and the key only, unless a practitioner who joins later clashes
    with it (about 1 chance in 65,000 for each pair of practitioners):
    then both get longer.

    Parameters
    ----------
    ids : iterable
        Practitioner IDs (text); missing values and repeats are ignored.
    key : bytes
        The secret key, at least 32 bytes (:func:`read_key`).

    Returns
    -------
    Series of str
        Indexed by practitioner ID (sorted), named ``pseudonym``.
    """
    if not isinstance(key, bytes) or len(key) < KEY_BYTES:
        raise ValueError(f"`key` must be bytes, at least {KEY_BYTES} long (see `read_key`)")
    unique = sorted({str(i) for i in pd.Series(list(ids), dtype=object).dropna()})
    digests = pd.Series(
        [hmac.digest(key, _DOMAIN + i.encode("utf-8", "surrogatepass"), "sha256").hex().upper() for i in unique],
        index=pd.Index(unique, name="practitioner_id"),
        dtype=object,
    )
    length = pd.Series(shortest, index=digests.index)
    codes = pd.Series([d[:n] for d, n in zip(digests, length, strict=True)], index=digests.index, dtype=object)
    while codes.duplicated(keep=False).any():
        length[codes.duplicated(keep=False)] += 1
        codes = pd.Series([d[:n] for d, n in zip(digests, length, strict=True)], index=digests.index, dtype=object)
    return (PREFIX + codes).rename("pseudonym")


def practitioner_labels(clinic, *, key_file: str = "", show_ids: bool = False) -> pd.Series:
    """How the clinic report names each practitioner of ``clinic``: a pseudonym, or the ID when allowed.

    Pseudonyms are made for every practitioner with a session in
    ``clinic`` at once, so that a practitioner has the same pseudonym in
    every table and chart. Without ``key_file`` a one-off key is used: the
    pseudonyms protect the IDs but change from one report to the next.

    Returns
    -------
    Series of str
        Indexed by practitioner ID, named ``pseudonym``.
    """
    ids = clinic.sessions["practitioner_id"].dropna().unique()
    if show_ids:
        unique = sorted({str(i) for i in ids})
        return pd.Series(unique, index=pd.Index(unique, name="practitioner_id"), name="pseudonym", dtype=object)
    key = read_key(key_file) if key_file else secrets.token_bytes(KEY_BYTES)
    return practitioner_pseudonyms(ids, key)


def label_practitioners(frame: pd.DataFrame, labels: pd.Series, *, column: str = "practitioner_id") -> pd.DataFrame:
    """A copy of ``frame`` with each practitioner ID in ``column`` replaced by its label (:func:`practitioner_labels`).

    Missing IDs stay missing; ``attrs`` are kept.

    Raises
    ------
    ValueError
        When ``frame`` holds an ID ``labels`` does not know (the IDs are not
        named, so that the message cannot leak them into a report).
    """
    if column not in frame.columns:
        raise ValueError(f"`column` {column!r} is not in `frame`; its columns are {list(frame.columns)}")
    present = frame[column].notna()
    names = frame[column].astype(str).map(labels).where(present)
    unknown = int((present & names.isna()).sum())
    if unknown:
        raise ValueError(
            f"`frame` has {unknown} practitioner ID(s) that `labels` does not know; make the labels from the same clinic"
        )
    out = frame.copy()
    out[column] = names.astype(object)
    out.attrs = dict(frame.attrs)
    return out


def pseudonym_note(*, key_file: str = "", show_ids: bool = False) -> Paragraph:
    """The sentence a clinic report prints about how practitioners are named."""
    if show_ids:
        return Paragraph(
            "Practitioners are named by the IDs in the clinic's records, because the run configuration allows it "
            "(show_practitioner_ids)."
        )
    text = (
        'Practitioners are not named: each is shown under a code name, "Practitioner" followed by letters and '
        "digits. The clinic owner can tell each practitioner which code name is theirs."
    )
    if key_file:
        return Paragraph(text + " A practitioner keeps the same code name in every month's report.")
    return Paragraph(text + " These code names were made for this report only and change from one report to the next.")


def pseudonym_table(clinic, key_file: str | Path) -> pd.DataFrame:
    """Each practitioner's pseudonym under the key in ``key_file``, for the clinic owner.

    Returns
    -------
    DataFrame
        ``practitioner_id``, ``pseudonym``, by practitioner ID.
    """
    return practitioner_labels(clinic, key_file=str(key_file)).reset_index()

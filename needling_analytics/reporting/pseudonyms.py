"""Practitioner code names in the clinic report: which practitioner is shown how, and the sentence saying so.

Practitioner IDs in clinic records are often names or initials. Unless the
run configuration sets ``show_practitioner_ids = true``, the clinic report
calls each practitioner by a code name such as ``"Practitioner 7F3A"``
(:func:`~needling_analytics.privacy.pseudonyms.practitioner_pseudonyms`).
The key is a file that the runner creates once in the output folder
(:data:`KEY_FILE_NAME`, owner-only; :mod:`needling_analytics.privacy.keys`)
and reuses, so a practitioner keeps the same code name every month.

The clinic owner can tell each practitioner their own code name::

    needling-analytics practitioners --config clinic.toml

prints the mapping (:func:`pseudonym_table`). Keep that output private.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pandas as pd

from ..privacy.keys import KEY_BYTES, load_key
from ..privacy.pseudonyms import practitioner_pseudonyms
from .text import Paragraph

#: Name of the practitioner key file in the output folder.
KEY_FILE_NAME = ".practitioner-key"


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
    key = load_key(key_file=key_file) if key_file else secrets.token_bytes(KEY_BYTES)
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

"""Keyed pseudonyms: HMAC-SHA256 of an identifier under a secret key, within a domain.

One core, :func:`keyed_digests`, makes every pseudonym: the hex digest of
HMAC-SHA256(key, domain + ":" + ID). Without the key nobody can recompute a
pseudonym from an ID, which a plain hash of a guessable ID (initials, record
numbers) would allow (DOMAIN.md, Privacy). The domain keeps uses apart: the
same ID under the same key gets unrelated pseudonyms in different domains.

- :func:`pseudonym`: the research export's IDs; the domain is the kind of
  identifier (``patient``, ``episode``, ...), the pseudonym a prefix and 16
  hex characters (``P3f0c...``);
- :func:`practitioner_pseudonyms`: the clinic report's code names
  (``"Practitioner 7F3A"``), domain :data:`PRACTITIONER_DOMAIN`.

Keys come from :mod:`needling_analytics.privacy.keys`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..errors import NeedlingAnalyticsError
from .keys import KEY_BYTES

#: Pseudonym prefix of each kind of identifier in the research export.
PREFIXES = {"patient": "P", "episode": "E", "session": "S", "practitioner": "PR", "assessment": "A"}
#: Hex characters of the HMAC kept in a research pseudonym (64 bits).
PSEUDONYM_HEX_CHARS = 16
#: Domain of the clinic report's practitioner code names.
PRACTITIONER_DOMAIN = "clinic-report-practitioner"
#: Hex digits of a practitioner code name; more are used for practitioners whose first digits would clash.
SHORTEST = 4
#: Words before the hex digits of a practitioner code name.
PREFIX = "Practitioner "


def check_key(key) -> bytes:
    """``key`` as bytes, or a ValueError when it is not bytes of at least :data:`KEY_BYTES` (never showing it)."""
    if not isinstance(key, bytes | bytearray) or len(key) < KEY_BYTES:
        got = f"{len(key)} bytes" if isinstance(key, bytes | bytearray) else f"a {type(key).__name__}"
        raise ValueError(f"`key` must be bytes of at least {KEY_BYTES} (see `load_key`), got {got}")
    return bytes(key)


def keyed_digests(values: Iterable, key: bytes, *, domain: str) -> list[str]:
    """The hex HMAC-SHA256 of ``domain + ":" + value`` under ``key``, for each value (as text).

    Examples
    --------
    >>> keyed_digests(["PR01"], bytes(32), domain="practitioner")[0][:16]
    '6e4d47e5f7007473'
    """
    key = check_key(key)
    start = f"{domain}:".encode()
    return [hmac.digest(key, start + str(v).encode("utf-8", "surrogatepass"), "sha256").hex() for v in values]


def pseudonym(values: pd.Series, key: bytes, *, kind: str) -> pd.Series:
    """The research export's pseudonyms of identifiers: the kind's prefix and 16 hex characters of their HMAC.

    The kind is the domain, so a patient and a session with the same raw ID
    get unrelated pseudonyms. Each distinct value is hashed once.

    Parameters
    ----------
    values : Series
        Raw identifiers; missing values stay missing.
    key : bytes
        The secret key (at least 32 bytes), e.g. from
        :func:`~needling_analytics.privacy.keys.load_key`.
    kind : {"patient", "episode", "session", "practitioner", "assessment"}
        What the values identify.

    Returns
    -------
    Series of string
        Same index and name as ``values``: the kind's prefix (``P``, ``E``,
        ``S``, ``PR`` or ``A``) followed by the first 16 hex characters (64 bits)
        of the HMAC.

    Raises
    ------
    ValueError
        For an unknown ``kind`` or a key that is not bytes of at least 32.
    """
    if kind not in PREFIXES:
        raise ValueError(f"`kind` must be one of {list(PREFIXES)}, got {kind!r}")
    key = check_key(key)
    codes, uniques = pd.factorize(values)
    digests = keyed_digests(np.asarray(uniques, dtype=object), key, domain=kind)
    named = np.array([PREFIXES[kind] + d[:PSEUDONYM_HEX_CHARS] for d in digests], dtype=object)
    if len(set(named)) < len(named):  # 64 bits: about 1 in 10^8 for a million IDs
        raise NeedlingAnalyticsError(f"two different {kind} IDs received the same pseudonym; use another key")
    out = np.full(len(codes), None, dtype=object)
    found = codes >= 0
    out[found] = named[codes[found]]
    return pd.Series(out, index=values.index, name=values.name, dtype="string")


def practitioner_pseudonyms(ids: Iterable, key: bytes, *, shortest: int = SHORTEST) -> pd.Series:
    """Code names of practitioner IDs: ``"Practitioner "`` and the first hex digits of their HMAC, upper case.

    Each ID gets ``shortest`` hex digits; IDs whose digits would clash get
    more, until every code name differs. A code name depends on the ID and
    the key only, unless a practitioner who joins later clashes with it
    (about 1 chance in 65,000 for each pair of practitioners): then both
    get longer.

    Parameters
    ----------
    ids : iterable
        Practitioner IDs (text); missing values and repeats are ignored.
    key : bytes
        The secret key, at least 32 bytes
        (:func:`~needling_analytics.privacy.keys.load_key`).

    Returns
    -------
    Series of str
        Indexed by practitioner ID (sorted), named ``pseudonym``.
    """
    key = check_key(key)
    unique = sorted({str(i) for i in pd.Series(list(ids), dtype=object).dropna()})
    digests = pd.Series(
        [d.upper() for d in keyed_digests(unique, key, domain=PRACTITIONER_DOMAIN)],
        index=pd.Index(unique, name="practitioner_id"),
        dtype=object,
    )
    length = pd.Series(shortest, index=digests.index)
    codes = pd.Series([d[:n] for d, n in zip(digests, length, strict=True)], index=digests.index, dtype=object)
    while codes.duplicated(keep=False).any():
        length[codes.duplicated(keep=False)] += 1
        codes = pd.Series([d[:n] for d, n in zip(digests, length, strict=True)], index=digests.index, dtype=object)
    return (PREFIX + codes).rename("pseudonym")

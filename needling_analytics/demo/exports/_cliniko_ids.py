"""Cliniko-shaped record IDs: 19-digit time-ordered ones and legacy short ones.

Records created since 2024 have 19-digit IDs larger than 2**53 (for example
``1390726237298631770``, a booking created 2024-04-02T20:04:46Z in the
Pipedream sample of the Cliniko API). They behave like time-ordered IDs
whose high bits are the creation time in milliseconds and whose low 23 bits
vary; :data:`_EPOCH_MS` is fitted to that one public sample, so a demo ID
created at the same moment has the same leading digits. Records created
earlier keep their 7-9-digit IDs, and both kinds coexist in one export.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_LOW_BITS = 23
_SAMPLE_ID = 1390726237298631770
_SAMPLE_CREATED = pd.Timestamp("2024-04-02T20:04:46Z")
_EPOCH_MS = _SAMPLE_CREATED.value // 1_000_000 - (_SAMPLE_ID >> _LOW_BITS)

#: Records created before this moment get a legacy 7-9-digit ID.
LONG_IDS_SINCE = pd.Timestamp("2024-01-01T00:00:00Z")


class IdMaker:
    """Draws unique Cliniko IDs (as text) for records created at given times."""

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self._used: set[str] = set()

    def new(self, created: pd.Timestamp) -> str:
        """One ID for a record created at ``created`` (a UTC timestamp)."""
        created = pd.Timestamp(created)
        created = created.tz_localize("UTC") if created.tzinfo is None else created
        while True:
            if created < LONG_IDS_SINCE:
                value = int(self._rng.integers(10**6, 10**9))
            else:
                millis = created.value // 1_000_000 - _EPOCH_MS
                value = (millis << _LOW_BITS) | int(self._rng.integers(0, 2**_LOW_BITS))
            text = str(value)
            if text not in self._used:
                self._used.add(text)
                return text

    def many(self, created: pd.Series) -> list[str]:
        """One ID per creation time, in order."""
        return [self.new(moment) for moment in created]

"""Rows of one table as they are flattened, with where each came from and what was skipped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...read import RawTable
from .resources import Entry

#: Resource statuses whose resources never happened: dropped and counted.
VOID = ("entered-in-error",)


@dataclass
class Rows:
    """The rows of table ``name`` under ``columns``, and the entry each came from."""

    name: str
    columns: list[str]
    rows: list[dict] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    malformed: dict[int, str] = field(default_factory=dict)
    #: what was left out or guessed -> how many times (written into the notes).
    counts: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def add(self, entry: Entry, row: dict, problem: str | None = None) -> None:
        """Add a row; a ``problem`` makes it a malformed record (quarantined whole)."""
        if problem:
            self.malformed[len(self.rows)] = problem
        self.rows.append(row)
        self.entries.append(entry)

    def broken(self, entry: Entry, *, needs_id: bool = True) -> bool:
        """Add ``entry`` as a malformed row when it cannot be flattened; True when it was.

        A line or entry that could not be read cannot be; nor, where the
        table's rows are identified by the resource (``needs_id``), a resource
        without an id.
        """
        why = entry.problem or (None if entry.id or not needs_id else f"{entry.type} without an id")
        if why:
            self.add(entry, {}, why)
        return bool(why)

    def void(self, entry: Entry) -> bool:
        """Count and skip a resource entered in error (it never happened); True when it was."""
        if entry.resource.get("status") in VOID:
            self.counts[f"{entry.type} entered in error dropped"] += 1
            return True
        return False

    def table(self, default_path: Path, label: str) -> RawTable:
        """The rows as a :class:`RawTable` of text (blank where the resource had no value)."""
        frame = pd.DataFrame(self.rows, columns=self.columns or None, dtype=object)
        frame = frame.reindex(columns=list(dict.fromkeys([*self.columns, *frame.columns])))
        frame = frame.where(frame.notna(), "").astype(object)
        paths = {e.path for e in self.entries}
        path = paths.pop() if len(paths) == 1 else default_path
        notes = [*self.notes, *(f"{n} {what}." for what, n in self.counts.items())]
        return RawTable(
            name=self.name,
            path=path,
            frame=frame.reset_index(drop=True),
            lines=np.array([e.position for e in self.entries], dtype=np.int64),
            line_label=label,
            notes=notes,
            malformed=dict(self.malformed),
        )

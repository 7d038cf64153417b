"""A REDCap flat CSV export and its data dictionary.

The export has one row per (record, event, repeating instrument,
instance): ``record_id`` (or whatever the project's first field is
called), then ``redcap_event_name`` (longitudinal projects),
``redcap_repeat_instrument`` and ``redcap_repeat_instance`` (repeating
instruments), ``redcap_data_access_group``, ``redcap_survey_identifier``,
then the fields in dictionary order with a ``<form>_complete`` column after
each form (0 Incomplete, 1 Unverified, 2 Complete). A row's fields outside
its own form are blank (checkboxes: 0).

A table mapping's ``form`` names the instrument its rows come from and
``event`` (optional) the event or events (``baseline_arm_1`` or a list).
:meth:`RedcapSource.read` returns one row per (record, event, instance) of
that form: the repeating rows of the instrument, or the non-repeating rows
where the form holds data (a field filled, a box ticked, or a status of
Unverified or Complete). Rows of other forms are not that table's rows, so
a sparse export never turns into duplicate IDs.

Values are changed in two ways only, both from the data dictionary: coded
choices (radio, dropdown, yes/no, true/false) become their labels, and the
checkbox columns ``field___code`` of one field become one column ``field``
holding the ticked labels separated by ``;``. A value that is not among
its field's choices is kept as written and counted in the notes. Without a
dictionary, fields are assigned to forms by their place before each
``<form>_complete`` column and codes stay unlabelled (a note says so).

Incomplete forms are kept: ``<form>_complete`` stays a column, and the
notes (shown in the quality report) count and list the rows whose form is
Incomplete (0) or Unverified (1), so that they are never taken as final
without it being said.

Finding the export and its dictionary is :mod:`.redcap_files`; reading the
dictionary is :mod:`.redcap_dictionary`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import InputError
from ..mapping import Mapping, TableMapping
from ..read import RawTable
from ..read.text import read_csv
from .redcap_dictionary import DataDictionary, checkbox_suffix, read_dictionary
from .redcap_files import REDCAP_COLUMNS, detect, find_dictionary, find_export

#: What every source module offers (``detect`` and ``open_source``), and this one's row-ID column and source.
__all__ = ["ROW_ID", "RedcapSource", "detect", "open_source"]

#: Column added to every table read: record, event and instance joined by ``/``
#: (REDCap has no identifier of its own for an event's form or a repeating instance).
ROW_ID = "redcap_row_id"
_STATUS = {"0": "Incomplete", "1": "Unverified", "2": "Complete"}
_TICKED = {"1", "checked"}
_UNTICKED = {"", "0", "unchecked"}
_SHOW_LINES = 20


def open_source(path: Path, mapping: Mapping) -> RedcapSource:
    """The REDCap export at ``path`` (the CSV, or the folder holding it) with its dictionary."""
    if not path.exists():
        raise InputError("file not found", path=path, hint="give the REDCap export CSV or the folder holding it.")
    export = find_export(path) if path.is_dir() else path
    dictionary_path = find_dictionary(export, mapping)
    raw = read_csv(export, "redcap", mapping.for_table("*"))
    dictionary = read_dictionary(dictionary_path) if dictionary_path else None
    return RedcapSource(export, raw, dictionary)


@dataclass
class _Form:
    """One form's columns in the export: plain fields, checkbox groups and the status column."""

    name: str
    columns: list[str] = field(default_factory=list)  # export columns, in export order
    complete: str | None = None

    def checkbox_groups(self, source: RedcapSource) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for column in self.columns:
            base = source.checkbox_base(column)
            if base:
                groups.setdefault(base, []).append(column)
        return groups


@dataclass
class RedcapSource:
    """The forms of a REDCap flat export, read as tables (see the module docstring)."""

    export: Path
    raw: RawTable
    dictionary: DataDictionary | None
    kind: str = "redcap"
    forms: dict[str, _Form] = field(init=False)
    record_id: str = field(init=False)
    notes: list[str] = field(init=False)

    def __post_init__(self) -> None:
        header = list(self.raw.frame.columns)
        known = self.dictionary.record_id if self.dictionary else None
        self.record_id = known if known in header else header[0]
        self.notes = list(self.raw.notes)
        if self.dictionary is None:
            self.notes.append(
                "no REDCap data dictionary was found beside the export: coded values stay as codes and "
                "checkboxes list their codes; fields belong to the form whose `_complete` column follows them."
            )
        else:
            self.notes.extend(self.dictionary.notes)
        self.forms = self._assign_columns(header)

    @property
    def location(self) -> str:
        return str(self.export)

    def checkbox_base(self, column: str) -> str | None:
        """The checkbox field a ``field___code`` column belongs to, or None."""
        base, sep, _ = column.partition("___")
        if not sep:
            return None
        if self.dictionary is None:
            return base
        known = self.dictionary.fields.get(base)
        return base if known is not None and known.type == "checkbox" else None

    def _assign_columns(self, header: list[str]) -> dict[str, _Form]:
        """Each export column's form: from the dictionary, else from the ``_complete`` column after it."""
        completes = {c[: -len("_complete")]: c for c in header if c.endswith("_complete")}
        names = list(completes)
        if self.dictionary:
            names = self.dictionary.forms + [n for n in completes if n not in self.dictionary.forms]
        forms = {n: _Form(n, complete=completes.get(n)) for n in names}
        pending, unplaced = [], []
        for column in header:
            if column == self.record_id or column in REDCAP_COLUMNS:
                continue
            if column.endswith("_complete") and column[: -len("_complete")] in forms:
                for waiting in pending:
                    forms[self._form_of(waiting, column[: -len("_complete")])].columns.append(waiting)
                pending = []
                continue
            pending.append(column)
        for column in pending:
            owner = self._form_of(column, None)
            (forms[owner].columns if owner else unplaced).append(column)
        if unplaced:
            self.notes.append(f"export columns on no form were not read: {unplaced}.")
        return forms

    def _form_of(self, column: str, by_place: str | None) -> str | None:
        if self.dictionary:
            name = self.checkbox_base(column) or column
            if name in self.dictionary.fields:
                return self.dictionary.fields[name].form
            if column.endswith("_timestamp") and column[: -len("_timestamp")] in self.dictionary.forms:
                return column[: -len("_timestamp")]
        return by_place

    # -- reading one table ------------------------------------------------------------------------

    def read(self, name: str, mapping: TableMapping) -> RawTable | None:
        """The rows of form ``mapping.form`` (in event(s) ``mapping.event``) for table ``name``.

        Returns
        -------
        RawTable or None
            None when the mapping names no form. Otherwise one row per
            (record, event, instance) of the form, with columns: the record
            ID column (as the export names it), ``redcap_event_name`` and
            ``redcap_repeat_instance`` (when the export has them),
            ``redcap_row_id`` (record/event/instance), the form's fields
            (checkboxes joined into one column, codes as labels) and
            ``<form>_complete``. ``lines`` are the rows' lines in the export.
        """
        for key in ("file", "resource", "query"):
            if getattr(mapping, key, None):
                raise InputError(
                    f"table {name!r} names a `{key}`, which a REDCap export does not have",
                    path=self.export,
                    hint="name the REDCap instrument with `form` (and `event` for a longitudinal project).",
                )
        if not mapping.form:
            return None
        form = self._form(mapping.form)
        events = self._events(name, mapping.event)
        frame = self.raw.frame
        positions, notes = self._select(form, events)
        out = {self.record_id: frame[self.record_id].to_numpy(dtype=object)[positions]}
        for column in ("redcap_event_name", "redcap_repeat_instance"):
            if column in frame:
                out[column] = frame[column].to_numpy(dtype=object)[positions]
        out[ROW_ID] = self._row_ids(positions)
        rows = frame.iloc[positions].reset_index(drop=True)
        groups = form.checkbox_groups(self)
        renamed = {}
        for column in form.columns:
            base = self.checkbox_base(column)
            if base:
                renamed[column] = base
                if base not in out:
                    out[base] = self._checked(base, rows[groups[base]], notes)
            else:
                out[column] = self._labelled(column, rows[column], notes)
        if form.complete:
            out[form.complete] = rows[form.complete].to_numpy(dtype=object)
            notes.extend(self._status_notes(form, rows[form.complete], self.raw.lines[positions]))
        else:
            notes.append(f"the export has no `{form.name}_complete` column: whether each form is complete is unknown.")
        table = pd.DataFrame(out, dtype=object)
        index = {int(p): i for i, p in enumerate(positions)}
        malformed = {index[p]: why for p, why in self.raw.malformed.items() if p in index}
        problems = [
            (index[r], renamed.get(c, c), value, why)
            for r, c, value, why in self.raw.cell_problems
            if r in index and (c in table.columns or c in renamed)
        ]
        return RawTable(
            name,
            self.export,
            table,
            self.raw.lines[positions],
            "line",
            self.notes + notes,
            malformed,
            cell_problems=problems,
        )

    def _form(self, name: str) -> _Form:
        form = self.forms.get(name.strip()) or next(
            (f for n, f in self.forms.items() if n.casefold() == name.strip().casefold()), None
        )
        if form is None:
            raise InputError(
                f"the REDCap export has no form {name!r}",
                path=self.export,
                hint=f"name one of the project's forms (instruments) with `form`: {list(self.forms)}.",
            )
        return form

    def _events(self, table: str, event) -> list[str] | None:
        if not event:
            return None
        wanted = [e.strip() for e in (event.split(",") if isinstance(event, str) else event) if str(e).strip()]
        if "redcap_event_name" not in self.raw.frame:
            raise InputError(
                f"table {table!r} names event(s) {wanted}, but the export is not longitudinal (no redcap_event_name)",
                path=self.export,
                hint="remove `event` from the mapping, or export the project with its events.",
            )
        present = list(dict.fromkeys(self.raw.frame["redcap_event_name"].str.strip()))
        if not set(wanted) & set(present):
            raise InputError(
                f"table {table!r} names event(s) {wanted}, none of which is in the export",
                path=self.export,
                hint=f"events in the export: {present}.",
            )
        return wanted

    def _ticked(self, columns: list[str]) -> pd.DataFrame:
        return self.raw.frame[columns].apply(lambda s: s.str.strip().str.casefold().isin(_TICKED))

    def _has_data(self, form: _Form) -> pd.Series:
        """Rows where ``form`` holds something: a field filled, a box ticked, a status 1 or 2."""
        frame = self.raw.frame
        plain = [c for c in form.columns if not self.checkbox_base(c)]
        boxes = [c for c in form.columns if self.checkbox_base(c)]
        has = pd.Series(False, index=frame.index)
        if plain:
            has |= frame[plain].apply(lambda s: s.str.strip().ne("")).any(axis=1)
        if boxes:
            has |= self._ticked(boxes).any(axis=1)
        if form.complete:
            has |= frame[form.complete].str.strip().isin(["1", "2"])
        return has

    def _select(self, form: _Form, events: list[str] | None) -> tuple[np.ndarray, list[str]]:
        """Positions of the export rows of ``form`` (in ``events``), and notes about them."""
        frame, notes = self.raw.frame, []
        blank = pd.Series("", index=frame.index)
        instrument = frame.get("redcap_repeat_instrument", blank).str.strip()
        in_event = frame["redcap_event_name"].str.strip().isin(events) if events else pd.Series(True, frame.index)
        if events:
            absent = [e for e in events if e not in set(frame["redcap_event_name"].str.strip())]
            if absent:
                notes.append(f"event(s) {absent} have no rows in the export.")
        has = self._has_data(form)
        repeating = instrument.eq(form.name)
        chosen = in_event & (repeating | (instrument.eq("") & has))
        if self.raw.malformed:
            anything = pd.concat([self._has_data(f) for f in self.forms.values()], axis=1).any(axis=1)
            broken = frame.index.isin(list(self.raw.malformed))
            orphan = broken & ~anything & in_event & instrument.isin(["", form.name])
            if orphan.any():
                notes.append(
                    f"{int(orphan.sum())} unreadable export row(s) show no form's data and are listed "
                    f"with every form they could belong to."
                )
            chosen |= orphan
        if not events and "redcap_event_name" in frame:
            several = frame.loc[chosen & instrument.eq(""), [self.record_id, "redcap_event_name"]]
            counts = several.groupby(self.record_id)["redcap_event_name"].nunique()
            if (counts > 1).any():
                notes.append(
                    f"{int((counts > 1).sum())} record(s) have {form.name} data in more than one event "
                    f"({sorted(set(several['redcap_event_name']))}): each is a row; name the event with `event` "
                    f"if only one is meant."
                )
        empty = int((chosen & repeating & ~has).sum())
        if empty:
            notes.append(f"{empty} repeating instance(s) of {form.name} hold no data.")
        notes.insert(0, f"{int(chosen.sum())} of the export's {len(frame)} rows hold form {form.name}.")
        return np.flatnonzero(chosen.to_numpy()), notes

    def _row_ids(self, positions: np.ndarray) -> np.ndarray:
        frame = self.raw.frame
        parts = [frame[self.record_id]]
        parts += [frame[c] for c in ("redcap_event_name", "redcap_repeat_instance") if c in frame]
        ids = [
            "/".join(str(p).strip() for p in values if str(p).strip())
            for values in zip(*(p.to_numpy(dtype=object)[positions] for p in parts), strict=True)
        ]
        return np.asarray(ids, dtype=object)

    def _labelled(self, column: str, values: pd.Series, notes: list[str]) -> np.ndarray:
        """``values`` with codes replaced by their labels where ``column`` is a coded field."""
        spec = self.dictionary.fields.get(column) if self.dictionary else None
        if spec is None or not spec.choices:
            return values.to_numpy(dtype=object)
        stripped = values.str.strip()
        labels = stripped.map(spec.choices)
        unknown = stripped.ne("") & labels.isna()
        if unknown.any():
            shown = sorted(set(stripped[unknown]))[:5]
            notes.append(
                f"{int(unknown.sum())} value(s) of {column} are not among its choices in the data dictionary "
                f"and were kept as written: {shown}."
            )
        return labels.where(~unknown & stripped.ne(""), values).to_numpy(dtype=object)

    def _checked(self, base: str, boxes: pd.DataFrame, notes: list[str]) -> np.ndarray:
        """One text per row: the labels of the ticked boxes of checkbox field ``base``, joined by ``;``."""
        choices = self.dictionary.fields[base].choices if self.dictionary else {}
        by_suffix = {}
        for code, label in choices.items():
            by_suffix[checkbox_suffix(code)] = label
            by_suffix.setdefault(checkbox_suffix(code).replace("_", ""), label)  # REDCap < 5.5.21
        labels, unknown = [], []
        for column in boxes.columns:
            suffix = column.partition("___")[2].casefold()
            label = by_suffix.get(suffix, by_suffix.get(suffix.replace("_", "")))
            if label is None:
                label = suffix
                if choices:
                    unknown.append(column)
            labels.append(label)
        if unknown:
            notes.append(f"checkbox columns {unknown} are not among {base}'s choices; their codes are listed as is.")
        cells = boxes.apply(lambda s: s.str.strip().str.casefold())
        odd = ~cells.isin(_TICKED | _UNTICKED)
        if odd.any().any():
            notes.append(
                f"{int(odd.any(axis=1).sum())} row(s) of {base} hold checkbox values other than 0 or 1; "
                f"they are listed as label=value."
            )
        out = []
        for row, raw_row in zip(cells.to_numpy(dtype=object), boxes.to_numpy(dtype=object), strict=True):
            picked = [
                label if cell in _TICKED else f"{label}={original.strip()}"
                for label, cell, original in zip(labels, row, raw_row, strict=True)
                if cell not in _UNTICKED
            ]
            out.append(";".join(picked))
        return np.asarray(out, dtype=object)

    def _status_notes(self, form: _Form, status: pd.Series, lines: np.ndarray) -> list[str]:
        status = status.str.strip()
        notes = []
        for code in ("0", "1"):
            mask = status.eq(code).to_numpy()
            if mask.any():
                listed = [int(x) for x in lines[mask][:_SHOW_LINES]]
                more = f" and {int(mask.sum()) - _SHOW_LINES} more" if mask.sum() > _SHOW_LINES else ""
                notes.append(
                    f"{int(mask.sum())} {form.name} forms are {_STATUS[code].lower()} (status {code}); "
                    f"their rows are kept but are not final: see column {form.complete} (lines {listed}{more})."
                )
        odd = ~status.isin(["0", "1", "2"])
        if odd.any():
            notes.append(f"{int(odd.sum())} {form.name} forms have no status 0, 1 or 2 in {form.complete}.")
        return notes

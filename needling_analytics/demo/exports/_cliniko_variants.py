"""Cliniko appointments after a trip through Excel: the damage real files carry.

* ``excel-eu/appointments.csv``: the export opened and re-saved by a
  European (German-locale) Excel: ``;`` between fields, cp1252 instead of
  UTF-8, CRLF line ends, a decimal comma, timestamps re-typed as
  ``dd/mm/yyyy hh:mm`` (Excel recognises the date, drops the seconds and
  the ``Z``, so the clock times are still UTC but no longer say so),
  ``true``/``false`` shown as ``WAHR``/``FALSCH``, and long IDs protected
  as ``="1390726237298631770"`` the way Cliniko's own CSV exports write
  them -- except a few that a user re-typed, which Excel has already
  turned into ``1,39073E+18`` (the digits are gone for good).
* ``workbook/appointments.xlsx``: the same rows saved as a workbook with
  IDs kept as text cells, flags as Excel booleans, numbers as numbers and
  the ISO timestamps as text (Excel does not recognise ``...T...Z``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook

#: Appointment columns holding Cliniko IDs.
ID_COLUMNS = ("id", "patient_id", "practitioner_id", "appointment_type_id", "patient_case_id")
TIME_COLUMNS = ("created_at", "updated_at", "starts_at", "ends_at", "cancelled_at")
FLAG_COLUMNS = ("patient_arrived", "did_not_arrive")
#: How many appointment IDs Excel has already turned into scientific notation.
DESTROYED_IDS = 5
_EXCEL_BOOLEANS = {"true": "WAHR", "false": "FALSCH"}


def write_excel_eu(appointments: pd.DataFrame, folder: Path, rng: np.random.Generator) -> Path:
    """Write ``folder/appointments.csv`` as a German-locale Excel re-saves it.

    Returns
    -------
    Path
        The file written: the columns of ``appointments.csv``, ``;``-separated,
        cp1252, IDs as ``="..."`` (a few 19-digit ones as ``1,39073E+18``),
        timestamps ``dd/mm/yyyy hh:mm`` (UTC clock), flags ``WAHR``/``FALSCH``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = appointments.copy()
    for column in TIME_COLUMNS:
        moments = pd.to_datetime(out[column].replace("", None), format="%Y-%m-%dT%H:%M:%SZ")
        out[column] = moments.dt.strftime("%d/%m/%Y %H:%M").fillna("")
    for column in FLAG_COLUMNS:
        out[column] = out[column].map(_EXCEL_BOOLEANS)
    for column in out.columns.difference([*ID_COLUMNS, *TIME_COLUMNS, *FLAG_COLUMNS]):
        out[column] = out[column].map(_decimal_comma)
    for column in ID_COLUMNS:
        out[column] = out[column].map(lambda v: f'="{v}"' if v else "")
    long_ids = np.flatnonzero(appointments["id"].str.len() >= 16)
    for row in rng.choice(long_ids, size=min(DESTROYED_IDS, len(long_ids)), replace=False):
        out.iloc[row, out.columns.get_loc("id")] = excel_scientific(appointments["id"].iloc[row])
    path = folder / "appointments.csv"
    lines = [_excel_line(out.columns)] + [_excel_line(record) for record in out.itertuples(index=False)]
    path.write_bytes("".join(lines).encode("cp1252", errors="replace"))
    return path


def _excel_line(fields) -> str:
    """One CSV line as Excel writes it: ``="..."`` formulas bare, other fields quoted only when needed."""
    cells = []
    for field in fields:
        text = str(field)
        if (";" in text or "\n" in text or '"' in text) and not text.startswith('="'):
            text = '"' + text.replace('"', '""') + '"'
        cells.append(text)
    return ";".join(cells) + "\r\n"


def excel_scientific(digits: str) -> str:
    """How German Excel shows a long number in a General cell: ``1,39073E+18``."""
    mantissa, exponent = f"{float(digits):.5E}".split("E")
    return f"{mantissa.rstrip('0').rstrip('.').replace('.', ',')}E+{int(exponent):02d}"


def _decimal_comma(value):
    text = str(value)
    try:
        float(text)
    except ValueError:
        return value
    return text.replace(".", ",")


def write_workbook(appointments: pd.DataFrame, folder: Path) -> Path:
    """Write ``folder/appointments.xlsx``: IDs as text, flags as booleans, numbers as numbers.

    Returns
    -------
    Path
        The workbook written; its one sheet ``appointments`` has the columns
        of ``appointments.csv``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    sheet = book.active
    sheet.title = "appointments"
    sheet.append(list(appointments.columns))
    for record in appointments.itertuples(index=False):
        sheet.append([_cell(column, value) for column, value in zip(appointments.columns, record, strict=True)])
    for index, column in enumerate(appointments.columns, start=1):
        if column in ID_COLUMNS:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "@"
    path = folder / "appointments.xlsx"
    book.save(path)
    return path


def _cell(column: str, value):
    if value == "" or value is None:
        return None
    if column in ID_COLUMNS or column in TIME_COLUMNS:
        return str(value)
    if column in FLAG_COLUMNS:
        return value == "true"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if number.is_integer() else number

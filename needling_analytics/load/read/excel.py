"""Excel workbooks (.xlsx): one sheet read as it shows, merged cells filled, formulas as their results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import UnreadableFileError
from ..mapping import TableMapping
from .sniff import check_workbook, unparsable_error
from .table import RawTable, unique_columns


def read_excel(path: Path, name: str, mapping: TableMapping) -> RawTable:
    """Read one sheet of a workbook: the mapping's ``sheet``, or the first visible one."""
    from openpyxl import load_workbook

    check_workbook(path)
    try:
        book = load_workbook(path, data_only=True)  # cached results of formulas, never their text
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise unparsable_error(
            path, "Excel workbook", exc, "open it in Excel and save it again as .xlsx, or export CSV."
        ) from None
    notes = []
    try:
        sheet = _pick_sheet(book, path, mapping.sheet)
        others = [s for s in book.sheetnames if s != sheet.title]
        notes.append(f"read sheet {sheet.title!r}" + (f"; other sheets ignored: {others}." if others else "."))
        merged = _fill_merged(sheet)
        if merged:
            shown = f"{merged[:5]}" + (f" and {len(merged) - 5} more" if len(merged) > 5 else "")
            notes.append(f"merged cells {shown} were read as their value repeated in every cell.")
        header, rows, numbers = _sheet_rows(sheet)
    finally:
        book.close()
    if header is None:
        raise UnreadableFileError(
            f"sheet {sheet.title!r} is empty: not even a header row",
            path=path,
            hint="put the table on the first visible sheet, or name its sheet with `sheet` in a mapping.",
        )
    frame = pd.DataFrame(rows, columns=unique_columns(header, notes), dtype=object)
    raw = RawTable(name, path, frame, np.asarray(numbers, dtype=np.int64), "row", notes)
    raw.where = f"sheet {sheet.title!r} (sheets: {book.sheetnames})"
    return raw


def _pick_sheet(book, path: Path, wanted: str | int | None):
    """The worksheet to read: ``wanted`` (a name or a 0-based position) or the first visible one."""
    sheets = book.worksheets
    names = [s.title for s in sheets]
    if wanted is None and sheets:
        return next((s for s in sheets if s.sheet_state == "visible"), sheets[0])
    if isinstance(wanted, int) and 0 <= wanted < len(sheets):
        return sheets[wanted]
    if wanted in names:
        return sheets[names.index(wanted)]
    raise UnreadableFileError(
        f"has no sheet {wanted!r}; its sheets are {names}",
        path=path,
        hint="set `sheet` in the mapping to one of these names (or a position counted from 0).",
    )


def _fill_merged(sheet) -> list[str]:
    """Give every cell of a merged range the range's value, in place; return the ranges."""
    ranges = list(sheet.merged_cells.ranges)
    for merged in ranges:
        value = sheet.cell(merged.min_row, merged.min_col).value
        sheet.unmerge_cells(str(merged))
        for row in sheet.iter_rows(merged.min_row, merged.max_row, merged.min_col, merged.max_col):
            for cell in row:
                cell.value = value
    return [str(r) for r in ranges]


def _sheet_rows(sheet) -> tuple[list[str] | None, list[list], list[int]]:
    """The header (None for an empty sheet), the rows fitted to it, and each row's number in the sheet.

    Blank rows are skipped; trailing blank header cells are dropped.
    """
    header, rows, numbers = None, [], []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if not any(v is not None and str(v).strip() for v in values):
            continue
        if header is None:
            header = [str(v).strip() if v is not None else "" for v in values]
            continue
        rows.append(list(values))
        numbers.append(number)
    if header is None:
        return None, rows, numbers
    while header and not header[-1]:
        header.pop()
    width = len(header)
    return header, [(r + [None] * width)[:width] for r in rows], numbers

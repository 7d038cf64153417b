"""Tables and charts for readers: plain words, rounded numbers, or one sentence when there is nothing to show.

:func:`for_display` turns a tidy frame into text cells a clinic owner can
read; :func:`table_or_note` shows it as a table, and :func:`chart_or_note`
draws a chart, each replaced by the section's one sentence
(:func:`~needling_analytics.reporting.text.section_unavailable`) when there
is no data, so that a report never shows an empty table or chart.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..privacy.suppression import COMPLEMENT
from .text import format_date, label, period_label, section_unavailable

__all__ = ["chart_or_note", "for_display", "table_or_note"]


def _format_column(values: pd.Series, name: str, decimals: int, missing: str) -> pd.Series:
    absent = values.isna().to_numpy()
    dtype = values.dtype
    if isinstance(dtype, pd.PeriodDtype):
        out = [period_label(v) if not pd.isna(v) else "" for v in values]
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        out = [format_date(v) for v in values]
    elif pd.api.types.is_bool_dtype(dtype):
        out = ["yes" if v else "no" for v in values.fillna(False)]
    elif pd.api.types.is_integer_dtype(dtype):
        out = [f"{int(v):,}" if not pd.isna(v) else "" for v in values]
    elif pd.api.types.is_float_dtype(dtype) and name == "p_value":
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        out = ["<0.001" if v < 0.001 else f"{v:.3f}" if np.isfinite(v) else "" for v in numbers]
    elif pd.api.types.is_float_dtype(dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        finite = numbers[np.isfinite(numbers)]
        places = 0 if len(finite) and np.all(np.round(finite, decimals) == np.round(finite)) else decimals
        out = [f"{v:,.{places}f}" if np.isfinite(v) else "" for v in numbers]
    elif name.endswith("_id"):
        out = ["" if pd.isna(v) else str(v) for v in values]
    else:
        out = [label(v) for v in values]
    return pd.Series([missing if a else v for a, v in zip(absent, out, strict=True)], index=values.index, dtype=object)


def for_display(
    frame: pd.DataFrame,
    columns: Mapping[str, str],
    *,
    decimals: int = 1,
    missing: str = "–",
    values: Mapping[str, Mapping] | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` for readers: chosen columns in plain words, numbers rounded, dates in words.

    Parameters
    ----------
    frame : DataFrame
        Any tidy table; a named index (e.g. ``term``) can be picked like a column.
    columns : dict
        ``{column: heading}`` in the order to show; other columns are left out.
    decimals : int
        Decimal places of decimal numbers; a column whose values are all
        whole numbers (after rounding) shows none.
    missing : str
        Text of a missing cell.
    values : dict of dict, optional
        ``{column: {value: text}}``: words for particular values (e.g.
        model terms), applied before formatting.

    Returns
    -------
    DataFrame
        Text cells, headed by the plain-word names. Dates read ``3 Mar 2026``,
        months ``October 2026``, booleans ``yes``/``no``, counts ``1,234``;
        codes become words (``low_back`` -> ``low back``, see
        :data:`~needling_analytics.reporting.text.LABELS`) except in ``*_id``
        columns; a ``p_value`` column reads ``0.034`` or ``<0.001``. Text
        cells already formatted (``"<11"``) pass through.
    """
    if not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"`decimals` must be a whole number, 0 or more, got {decimals!r}")
    data = frame.reset_index() if frame.index.name is not None and frame.index.name in columns else frame
    unknown = [c for c in columns if c not in data.columns]
    if unknown:
        raise ValueError(
            f"`columns` names {unknown!r}, which are not in the table; its columns are {list(data.columns)}"
        )
    out = {}
    for column, heading in columns.items():
        series = data[column]
        if values and column in values:
            series = series.astype(object).map(lambda v, m=values[column]: m.get(v, v))
            series = series if series.map(lambda v: isinstance(v, str)).any() else series.infer_objects()
        out[heading] = _format_column(series, column, decimals, missing).to_numpy()
    return pd.DataFrame(out)


def table_or_note(
    frame: pd.DataFrame,
    columns: Mapping[str, str],
    *,
    section: str | None = None,
    decimals: int = 1,
    values: Mapping[str, Mapping] | None = None,
    missing: str = "–",
):
    """A table ready to display (no index column), or the section's one sentence when ``frame`` has no rows.

    With ``section=None`` an empty frame displays nothing (returns None):
    use it for a table that accompanies a chart that already said so.
    """
    if frame is None or len(frame) == 0:
        return section_unavailable(section) if section else None
    table = for_display(frame, columns, decimals=decimals, values=values, missing=missing)
    words = [c for c in table.columns if not table[c].map(_numeric_text).all()]
    left = {c: [{"selector": "", "props": "text-align: left;"}] for c in words}
    styler = table.style.hide(axis="index").set_table_attributes('class="na-table"')
    return styler.set_table_styles(left, overwrite=False) if left else styler


_NUMBER = re.compile(r"^[<>+\-−]?\d[\d,]*(\.\d+)?%?( points| percentage points)?$")


def _numeric_text(cell: str) -> bool:
    """Whether a formatted cell reads as a number (or is blank, missing or hidden): such columns align right."""
    return cell in ("", "–", COMPLEMENT) or bool(_NUMBER.match(cell))


def _has_data(data, needs: Sequence[str]) -> bool:
    if data is None or len(data) == 0:
        return False
    needs = [needs] if isinstance(needs, str) else list(needs)
    if not needs:
        return True
    return bool(data[needs].notna().any(axis=None))


def chart_or_note(
    plot: Callable, data: pd.DataFrame, *args, section: str | None, needs: str | Sequence[str] = (), **kwargs
):
    """Draw ``plot(data, *args, **kwargs)`` as a PNG image, or return the section's sentence instead.

    The chart is drawn only when ``data`` has rows and, if ``needs`` names
    columns, at least one value in them: a report never shows an empty
    chart. The figure is closed after rendering (so a notebook shows it
    once). With ``section=None`` no data displays nothing (returns None):
    use it for a chart whose section already said why it is not drawn.

    Returns
    -------
    IPython.display.Image, Paragraph or None
    """
    if not _has_data(data, needs):
        return section_unavailable(section) if section else None
    import matplotlib.pyplot as plt
    from IPython.display import Image

    ax = plot(data, *args, **kwargs)
    figure = ax.figure
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return Image(data=buffer.getvalue(), format="png")

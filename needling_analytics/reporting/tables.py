"""Tables for readers, small-cell suppression, and the steps that prepare a report notebook's inputs.

The notebooks stay thin (one package call and one display per cell) because
every decision lives here: which episode a patient report shows, whether a
section has enough data for a chart or says so in one sentence, which
cells of an aggregate table must be hidden.

Sections of this module:

- display: :func:`for_display`, :func:`table_or_note`, :func:`chart_or_note`;
- report inputs: :func:`open_patient`, :func:`select_episode`,
  :func:`open_clinic`, :func:`run_rule`, :func:`run_disclosure`.

Cohort selection (the clinic's window, research cohorts, course-level
outcomes) is :mod:`needling_analytics.cohort`.

The notebooks reach everything through this module, which also re-exports
small-cell suppression (:mod:`.suppression`: :func:`suppress_small_counts`,
:func:`suppression_note`), the suppressed clinic summaries
(:mod:`.summaries`: :func:`kpi_table`, :func:`responders_by`, ...) and
practitioner pseudonyms (:mod:`.pseudonyms`: :func:`practitioner_labels`,
:func:`label_practitioners`).
"""

from __future__ import annotations

import dataclasses
import io
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import metrics
from ..load import Clinic, load_clinic
from .cache import PatientData, read_clinic, read_disclosure, read_patient, read_rule, write_cache
from .pseudonyms import label_practitioners, practitioner_labels, pseudonym_note
from .summaries import (
    KPIS,
    adverse_event_table,
    attendance_table,
    funnel_curve,
    kpi_table,
    prom_summary,
    protect_control_chart,
    protect_funnel,
    residual_table,
    responder_sensitivity_table,
    responders_by,
    rom_summary,
)
from .suppression import COMPLEMENT, SUPPRESSION_NOTE, Disclosure, suppress_small_counts, suppression_note
from .text import format_date, label, period_label, section_unavailable

__all__ = [
    "COMPLEMENT",
    "KPIS",
    "SUPPRESSION_NOTE",
    "adverse_event_table",
    "attendance_table",
    "chart_or_note",
    "for_display",
    "funnel_curve",
    "kpi_table",
    "label_practitioners",
    "open_clinic",
    "open_patient",
    "practitioner_labels",
    "prom_summary",
    "protect_control_chart",
    "protect_funnel",
    "pseudonym_note",
    "residual_table",
    "responder_sensitivity_table",
    "responders_by",
    "rom_summary",
    "run_disclosure",
    "run_rule",
    "select_episode",
    "suppress_small_counts",
    "suppression_note",
    "table_or_note",
]

# ---------------------------------------------------------------- display


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


def chart_or_note(plot: Callable, data: pd.DataFrame, *args, section: str, needs: str | Sequence[str] = (), **kwargs):
    """Draw ``plot(data, *args, **kwargs)`` as a PNG image, or return the section's sentence instead.

    The chart is drawn only when ``data`` has rows and, if ``needs`` names
    columns, at least one value in them: a report never shows an empty
    chart. The figure is closed after rendering (so a notebook shows it
    once).

    Returns
    -------
    IPython.display.Image or Paragraph
    """
    if not _has_data(data, needs):
        return section_unavailable(section)
    import matplotlib.pyplot as plt
    from IPython.display import Image

    ax = plot(data, *args, **kwargs)
    figure = ax.figure
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return Image(data=buffer.getvalue(), format="png")


# ---------------------------------------------------------------- report inputs


def open_clinic(*, cache_dir: str = "", data_dir: str = "data/demo", as_of: str = "") -> Clinic:
    """The clinic a report reads: from a metrics cache when ``cache_dir`` is given, else loaded from ``data_dir``.

    A clinic read from a cache has no data-quality report of its own (the
    run that wrote the cache keeps it); ``as_of`` applies only when loading
    (empty: today).
    """
    if cache_dir:
        return read_clinic(cache_dir)[0]
    return load_clinic(data_dir, as_of=as_of or None)


def run_rule(*, cache_dir: str = "") -> metrics.ResponderRule:
    """The responder rule a clinic report uses: the run's, from its cache (all four fields).

    The patient reports read the same rule from the same cache, so the two
    kinds of report never disagree on who improved. Without a cache (a
    report built straight from ``data_dir``) it is the default rule, as for
    a patient report built that way.
    """
    return read_rule(cache_dir) if cache_dir else metrics.DEFAULT_RULE


def run_disclosure(
    *, cache_dir: str = "", audience: str = "public", method: str = "suppress", min_cell_size: int = 11
) -> Disclosure:
    """Who a clinic report is for and how it protects small counts: the run's, from its cache.

    Like :func:`run_rule`, the run's settings reach the report one way:
    from the cache the run wrote (``cache.json``). Without a cache (a report
    built straight from ``data_dir``) the notebook's own ``audience``,
    ``method`` and ``min_cell_size`` are used. Pass the result wherever a
    ``threshold=`` is taken, and its ``min_cell_size`` to the ``plot_*``
    functions.
    """
    if cache_dir:
        return read_disclosure(cache_dir)
    return Disclosure(audience, method, min_cell_size)


def select_episode(patient: PatientData, episode_id: str = "") -> PatientData:
    """One course of care of a patient: every frame filtered to that episode.

    ``episode_id`` empty means the patient's most recent episode (latest
    start date, then the larger ID). Adverse events are kept when their
    session belongs to the episode; journal entries from 7 days before the
    episode start to its end (or the as-of date while ongoing).

    Raises
    ------
    ValueError
        When the patient is not in the cache, has no episode, or has no
        episode ``episode_id``.
    """
    frames = patient.frames
    if frames["patient"].empty:
        raise ValueError(
            f"`patient_id` {patient.patient_id!r} is not in the metrics cache; check the ID "
            "(IDs are text: leading zeros count)"
        )
    episodes = frames["episodes"].sort_values(["start_date", "episode_id"], kind="stable")
    if episodes.empty:
        raise ValueError(f"patient {patient.patient_id!r} has no course of care (episode) recorded")
    chosen = episode_id or str(episodes["episode_id"].iloc[-1])
    if chosen not in set(episodes["episode_id"].astype(str)):
        raise ValueError(
            f"`episode_id` {episode_id!r} is not an episode of patient {patient.patient_id!r}; "
            f"the patient's episodes are {episodes['episode_id'].astype(str).tolist()!r}"
        )
    row = episodes[episodes["episode_id"] == chosen].iloc[0]
    out = {name: frame for name, frame in frames.items()}
    for name, frame in frames.items():
        if "episode_id" in frame.columns:
            out[name] = frame[frame["episode_id"] == chosen].reset_index(drop=True)
    sessions = set(out["sessions"]["session_id"].astype(str))
    events = frames["adverse_events"]
    out["adverse_events"] = events[events["session_id"].astype(str).isin(sessions)].reset_index(drop=True)
    start = row["start_date"] - pd.Timedelta(days=7)
    end = row["end_date"] if pd.notna(row["end_date"]) else patient.as_of
    journal = frames["journal"]
    out["journal"] = journal[journal["entry_date"].between(start, end)].reset_index(drop=True)
    return dataclasses.replace(patient, frames=out)


def open_patient(
    patient_id: str,
    *,
    episode_id: str = "",
    cache_dir: str = "",
    data_dir: str = "data/demo",
    as_of: str = "",
    clinic_name: str = "",
) -> PatientData:
    """One patient's data for a report, filtered to one episode (:func:`select_episode`).

    From the metrics cache when ``cache_dir`` is given; otherwise the clinic
    in ``data_dir`` is loaded (``as_of`` empty: today), a cache is written
    to a temporary folder, this patient's rows are read and the folder is
    deleted, so no other patient's data stays in memory or on disk.
    """
    if cache_dir:
        return select_episode(read_patient(cache_dir, patient_id), episode_id)
    clinic = load_clinic(data_dir, as_of=as_of or None)
    with tempfile.TemporaryDirectory(prefix="needling-report-") as folder:
        write_cache(clinic, folder, clinic_name=clinic_name)
        patient = read_patient(folder, patient_id)
    return select_episode(patient, episode_id)

"""Tables for readers, small-cell suppression, and the steps that prepare a report notebook's inputs.

The notebooks stay thin (one package call and one display per cell) because
every decision lives here: which episode a patient report shows, whether a
section has enough data for a chart or says so in one sentence, which
cells of an aggregate table must be hidden.

Sections of this module:

- display: :func:`for_display`, :func:`table_or_note`, :func:`chart_or_note`;
- privacy: :func:`suppress_small_counts`, :func:`suppression_note`;
- report inputs: :func:`open_patient`, :func:`select_episode`,
  :func:`open_clinic`, :func:`restrict_clinic`, :func:`clinic_window`,
  :func:`episode_outcomes`, :func:`select_cohort`, :func:`outcome_series`;
- clinic summaries, suppressed: :func:`kpi_table`, :func:`responders_by`,
  :func:`attendance_table`, :func:`rom_summary`, :func:`prom_summary`;
  and :func:`funnel_curve`, :func:`residual_table`.
"""

from __future__ import annotations

import dataclasses
import io
import re
import tempfile
from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import metrics
from ..load import Clinic, load_clinic
from .cache import PatientData, read_clinic, read_patient, write_cache
from .text import Paragraph, format_date, label, period_label, section_unavailable

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


# ---------------------------------------------------------------- privacy

#: Marker of a cell hidden to protect another (complementary suppression).
COMPLEMENT = "*"


def suppression_note(threshold: int = 11) -> Paragraph:
    """The sentence a report prints under suppressed tables."""
    return Paragraph(
        f'To protect patients\' privacy, counts from 1 to {threshold - 1} are shown as "<{threshold}" (zero is shown), '
        f'and cells marked "{COMPLEMENT}" are hidden too, so that a small count cannot be worked out from a total '
        "or from a rate."
    )


#: :func:`suppression_note` for the CMS threshold of 11.
SUPPRESSION_NOTE = suppression_note(11)


def _pinned(hidden_sum: float, n_primary: int, n_complement: int, threshold: int) -> bool:
    """Whether a reader who knows the sum of a group's hidden cells can pin one of them down exactly.

    Primary cells lie in 1..threshold-1, complementary ones at threshold or
    more (zeros are never hidden). The sum pins every cell when it is the
    smallest possible (all at their minimum) or, without complementary
    cells, the largest possible; one hidden cell is always pinned.
    """
    if n_primary + n_complement < 2:
        return True
    if np.isclose(hidden_sum, n_primary + n_complement * threshold):
        return True
    return n_complement == 0 and bool(np.isclose(hidden_sum, n_primary * (threshold - 1)))


def suppress_small_counts(
    table: pd.DataFrame,
    count_columns: Sequence[str],
    *,
    threshold: int = 11,
    rate_columns: Sequence[str] | Mapping[str, str | Sequence[str]] = (),
    totals: Mapping[str, Sequence[str]] | None = None,
    total_row: Hashable | None = None,
    rate_format: str | Mapping[str, str] = "{:.1f}",
) -> pd.DataFrame:
    """Hide small counts (CMS cell-size rule) and the cells from which they could be worked out.

    What is implemented, exactly:

    1. **Primary suppression**: a count from 1 to ``threshold - 1`` is
       shown as ``"<11"`` (for the default threshold). Zero is shown (the
       CMS rule allows it); missing counts are blank.
    2. **Complementary suppression**, for the totals you declare:
       ``totals={"booked": ["attended", "cancelled", "no_show"]}`` says that
       in every row ``booked`` is the sum of those columns; ``total_row``
       names the row (index label) whose counts are the sums of all other
       rows. In each such group whose total is shown, a reader can work
       out the sum of the hidden cells. While that sum pins a hidden cell
       down exactly (one hidden cell; or every hidden cell at its smallest
       possible value, e.g. two hidden cells summing to 2; or, with only
       small cells hidden, at their largest), the smallest shown non-zero
       part is hidden too and marked ``"*"`` (when no part is left, the
       total itself). This repeats until no group pins a cell. Zeros are
       never used as complements (hiding a 0 next to a small cell would
       give both away).
    3. **Rates**: a rate (or mean) column is hidden (``"*"``) in every row
       where a count it is derived from is hidden (``rate_columns`` as a dict
       ``{rate: counts}``; as a list, a rate depends on every count column).

    Limits: each declared total is protected on its own. A reader who solves
    row and column totals together (a linear program) may still narrow a
    hidden cell to a range; a guarantee needs a full audit (e.g. with
    tau-ARGUS). Counts shown in other tables, or in earlier months' reports
    (differencing), are not taken into account; totals not declared are not
    protected. Columns needed only to declare a total (e.g. "not
    responders") can be included and dropped afterwards.

    Parameters
    ----------
    table : DataFrame
        Counts (whole numbers) and rates, one row per group.
    count_columns : sequence of str
        Columns holding counts of people, episodes, sessions or events.
    threshold : int
        Smallest count that may be shown (CMS: 11).
    rate_columns : list, or dict of rate column to the count column(s) it is derived from
    totals : dict of total column to its part columns, optional
    total_row : index label, optional
        The row holding each count column's total.
    rate_format : str or dict of str
        Format of shown rates (``"{:.1f}"``; ``"{:.0%}"`` for fractions).

    Returns
    -------
    DataFrame
        A copy with count and rate columns as text; other columns unchanged.
        ``attrs``: ``threshold``, ``suppressed`` (primary cells),
        ``complementary`` (cells hidden to protect them).

    Examples
    --------
    >>> t = pd.DataFrame({"booked": [30, 25], "attended": [25, 25], "missed": [5, 0]})
    >>> suppress_small_counts(t, ["booked", "attended", "missed"], totals={"booked": ["attended", "missed"]})
      booked attended missed
    0     30        *    <11
    1     25       25      0
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)) or threshold < 1:
        raise ValueError(f"`threshold` must be a whole number, 1 or more, got {threshold!r}")
    count_columns = [count_columns] if isinstance(count_columns, str) else list(count_columns)
    totals = dict(totals or {})
    rates = (
        {r: [s] if isinstance(s, str) else list(s) for r, s in rate_columns.items()}
        if isinstance(rate_columns, Mapping)
        else {r: count_columns for r in rate_columns}
    )
    named = [*count_columns, *rates, *totals, *[p for parts in totals.values() for p in parts]]
    named += [s for sources in rates.values() for s in sources]
    unknown = sorted({c for c in named if c not in table.columns})
    if unknown:
        raise ValueError(f"columns {unknown!r} are not in `table`; its columns are {list(table.columns)}")
    outside = sorted({c for c in [*totals, *[p for ps in totals.values() for p in ps]] if c not in count_columns})
    if outside:
        raise ValueError(f"`totals` must use count columns only; {outside!r} are not in `count_columns`")
    if total_row is not None and total_row not in table.index:
        raise ValueError(f"`total_row` {total_row!r} is not a row label of `table`; its labels are {list(table.index)}")

    values = table[count_columns].to_numpy(dtype=float, na_value=np.nan)
    if np.any(values[np.isfinite(values)] < 0):
        raise ValueError("`count_columns` must hold counts (0 or more); found a negative value")
    primary = (values >= 1) & (values < threshold)
    complement = np.zeros_like(primary)
    col = {c: j for j, c in enumerate(count_columns)}
    groups = [((i, col[t]), [(i, col[p]) for p in parts]) for t, parts in totals.items() for i in range(len(table))]
    if total_row is not None:
        r = table.index.get_loc(total_row)
        groups += [((r, j), [(i, j) for i in range(len(table)) if i != r]) for j in range(len(count_columns))]
    changed = True
    while changed:
        changed = False
        for total, parts in groups:
            hidden = primary | complement
            if hidden[total] or not np.isfinite(values[total]):
                continue
            gone = [p for p in parts if hidden[p]]
            if not gone:
                continue
            shown = sum(values[p] for p in parts if not hidden[p] and np.isfinite(values[p]))
            n_primary = sum(bool(primary[p]) for p in gone)
            if not _pinned(values[total] - shown, n_primary, len(gone) - n_primary, threshold):
                continue
            candidates = [p for p in parts if not hidden[p] and np.isfinite(values[p]) and values[p] > 0]
            chosen = min(candidates, key=lambda p: values[p]) if candidates else total
            complement[chosen] = True
            changed = True

    out = table.copy()
    hidden = primary | complement
    for j, column in enumerate(count_columns):
        cells = [
            f"<{threshold}"
            if primary[i, j]
            else COMPLEMENT
            if complement[i, j]
            else ""
            if not np.isfinite(v)
            else f"{int(v):,}"
            for i, v in enumerate(values[:, j])
        ]
        out[column] = pd.Series(cells, index=out.index, dtype=object)
    for rate, sources in rates.items():
        fmt = rate_format.get(rate, "{:.1f}") if isinstance(rate_format, Mapping) else rate_format
        blocked = hidden[:, [col[s] for s in sources if s in col]].any(axis=1)
        numbers = table[rate].to_numpy(dtype=float, na_value=np.nan)
        out[rate] = pd.Series(
            [
                COMPLEMENT if b else "" if not np.isfinite(v) else fmt.format(v)
                for b, v in zip(blocked, numbers, strict=True)
            ],
            index=out.index,
            dtype=object,
        )
    out.attrs.update(threshold=int(threshold), suppressed=int(primary.sum()), complementary=int(complement.sum()))
    return out


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


def restrict_clinic(clinic: Clinic, episode_ids) -> Clinic:
    """The clinic with only the given episodes, their patients, sessions, measurements and events.

    Journals are kept for the patients kept. The quality report, as-of
    date and supplied tables are those of ``clinic``.
    """
    keep = pd.Index(pd.Series(list(episode_ids), dtype="string").dropna().unique())
    t = clinic.tables
    episodes = t["episodes"][t["episodes"]["episode_id"].isin(keep)]
    patients = pd.Index(episodes["patient_id"].dropna().unique())
    tables = dict(t)
    tables["episodes"] = episodes.reset_index(drop=True)
    for name in ("sessions", "rom", "proms"):
        tables[name] = t[name][t[name]["episode_id"].isin(keep)].reset_index(drop=True)
    tables["adverse_events"] = t["adverse_events"][
        t["adverse_events"]["session_id"].isin(tables["sessions"]["session_id"])
    ].reset_index(drop=True)
    tables["patients"] = t["patients"][t["patients"]["patient_id"].isin(patients)].reset_index(drop=True)
    tables["journal"] = t["journal"][t["journal"]["patient_id"].isin(patients)].reset_index(drop=True)
    return dataclasses.replace(clinic, tables=tables)


def clinic_window(clinic: Clinic, month, *, months: int = 12) -> Clinic:
    """The clinic as it stood at the end of ``month``, with the episodes started in the ``months`` up to it.

    Everything dated after the month's last day is removed (sessions,
    measurements, questionnaires, journal entries; a later discharge
    becomes "ongoing"), as if the report had been run that day, and only
    episodes whose start date falls in the window are kept. The as-of date
    becomes the month's last day (or stays earlier).

    Raises
    ------
    ValueError
        When no episode started in the window (the metrics need at least one).
    """
    if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or months < 1:
        raise ValueError(f"`months` must be a whole number of months, 1 or more, got {months!r}")
    period = metrics.parse_month(month)
    end = period.end_time.normalize()
    start = (period - (months - 1)).start_time
    t = dict(clinic.tables)
    for name, column in (
        ("sessions", "session_date"),
        ("rom", "measured_on"),
        ("proms", "completed_on"),
        ("journal", "entry_date"),
    ):
        t[name] = t[name][~(t[name][column] > end)].reset_index(drop=True)
    episodes = t["episodes"].copy()
    later = episodes["end_date"] > end
    episodes.loc[later, "end_date"] = pd.NaT
    episodes.loc[later, "discharge_reason"] = np.nan
    t["episodes"] = episodes
    cut = dataclasses.replace(clinic, tables=t, as_of=min(clinic.as_of, end))
    started = episodes["start_date"].between(start, end)
    if not started.any():
        first, last = episodes["start_date"].min(), episodes["start_date"].max()
        raise ValueError(
            f"`month` {str(period)!r}: no course of care started between {start:%Y-%m-%d} and {end:%Y-%m-%d}; "
            f"the clinic's episodes start from {first:%Y-%m-%d} to {last:%Y-%m-%d}"
            if len(episodes)
            else f"`month` {str(period)!r}: the clinic has no episodes"
        )
    return restrict_clinic(cut, episodes.loc[started, "episode_id"])


def episode_outcomes(clinic: Clinic, *, rule: metrics.ResponderRule = metrics.DEFAULT_RULE) -> pd.DataFrame:
    """Every episode's pain outcome with its details, attendance and practitioner, for subgroup tables.

    Returns
    -------
    DataFrame
        The columns of :func:`~needling_analytics.metrics.episode_pain`, then
        ``start_date``, ``end_date``, ``body_region``, ``condition``,
        ``symptom_duration_weeks``, ``discharge_reason`` (episodes table),
        ``booked``, ``attended``, ``cancelled``, ``no_show``,
        ``self_discharged``, ``has_follow_up_pain`` (:func:`metrics.attendance`)
        and ``practitioner_id`` (:func:`metrics.attribute_episodes`; missing
        when no practitioner is recorded). ``attrs["responder_rule"]`` is kept.
    """
    pain = metrics.episode_pain(clinic, rule=rule)
    details = clinic.episodes[
        [
            "episode_id",
            "start_date",
            "end_date",
            "body_region",
            "condition",
            "symptom_duration_weeks",
            "discharge_reason",
        ]
    ]
    visits = metrics.attendance(clinic)[
        ["episode_id", "booked", "attended", "cancelled", "no_show", "self_discharged", "has_follow_up_pain"]
    ]
    who = metrics.attribute_episodes(clinic)[["episode_id", "practitioner_id"]]
    out = pain.merge(details, on="episode_id", how="left").merge(visits, on="episode_id", how="left")
    out = out.merge(who, on="episode_id", how="left")
    out.attrs["responder_rule"] = pain.attrs.get("responder_rule")
    return out


def select_cohort(
    clinic: Clinic,
    *,
    rule: metrics.ResponderRule = metrics.DEFAULT_RULE,
    body_regions: Sequence[str] = (),
    start_from: str = "",
    start_to: str = "",
    practitioners: Sequence[str] = (),
    min_baseline: float = 0.0,
    max_baseline: float = 10.0,
) -> Clinic:
    """A research cohort: the clinic restricted to the episodes that pass every filter.

    Empty filters keep everything. ``start_from``/``start_to`` bound the
    episode start date (inclusive, ``YYYY-MM-DD``); ``practitioners`` match
    the practitioner the episode is attributed to (most attended sessions);
    ``min_baseline``/``max_baseline`` bound the first pain score (inclusive).
    Episodes without a pain score are kept only when the baseline range is
    the whole 0-10 scale.
    """
    if not 0 <= min_baseline <= max_baseline <= 10:
        raise ValueError(
            f"`min_baseline` and `max_baseline` must satisfy 0 <= min <= max <= 10, got {min_baseline!r} and {max_baseline!r}"
        )
    outcomes = episode_outcomes(clinic, rule=rule)
    keep = pd.Series(True, index=outcomes.index)
    if body_regions:
        keep &= outcomes["body_region"].astype("string").isin(list(body_regions)).fillna(False)
    if start_from:
        keep &= outcomes["start_date"] >= pd.Timestamp(start_from)
    if start_to:
        keep &= outcomes["start_date"] <= pd.Timestamp(start_to)
    if practitioners:
        keep &= outcomes["practitioner_id"].astype("string").isin(list(practitioners)).fillna(False)
    whole = min_baseline <= 0 and max_baseline >= 10
    keep &= outcomes["baseline"].between(min_baseline, max_baseline) | (outcomes["baseline"].isna() & whole)
    return restrict_clinic(clinic, outcomes.loc[keep, "episode_id"])


def outcome_series(clinic: Clinic, outcome: str = "pain_pre") -> pd.DataFrame:
    """A long table of one outcome over time, for :func:`~needling_analytics.metrics.fit_trajectory`.

    Parameters
    ----------
    outcome : str
        ``"pain_pre"`` (pain before each attended session, NPRS points;
        subject = episode) or a range-of-motion movement written
        ``"joint:movement"`` (e.g. ``"cervical_spine:rotation"``, degrees;
        subject = one series: episode, side and mode, so left and right are
        not mixed).

    Returns
    -------
    DataFrame
        ``subject``, ``patient_id``, ``episode_id``, ``weeks_since_start``
        (weeks since the episode start), ``value`` (the outcome).
        ``attrs["outcome"]`` and ``attrs["unit"]`` describe it.
    """
    columns = ["subject", "patient_id", "episode_id", "weeks_since_start", "value"]
    if outcome == "pain_pre":
        pain = metrics.session_pain(clinic)
        out = pain.assign(subject=pain["episode_id"], value=pain["pain_pre"])[columns]
        out.attrs.update(outcome="pain before each session", unit="points (0-10)")
        return out.reset_index(drop=True)
    joint, _, movement = outcome.partition(":")
    rom = clinic.rom
    if not movement or not ((rom["joint"] == joint) & (rom["movement"] == movement)).any():
        measured = rom[["joint", "movement"]].dropna().drop_duplicates().astype(str)
        choices = ["pain_pre", *sorted(f"{j}:{m}" for j, m in measured.itertuples(index=False))]
        raise ValueError(
            f"`outcome` must be 'pain_pre' or a measured movement 'joint:movement', one of {choices!r}; got {outcome!r}"
        )
    rows = rom[(rom["joint"] == joint) & (rom["movement"] == movement)]
    rows = rows.merge(clinic.episodes[["episode_id", "start_date"]], on="episode_id", how="left")
    subject = rows["episode_id"].astype(str) + "/" + rows["side"].astype(str) + "/" + rows["mode"].astype(str)
    weeks = (rows["measured_on"] - rows["start_date"]).dt.days / 7.0
    out = rows.assign(subject=subject, weeks_since_start=weeks, value=rows["degrees"])[columns]
    out.attrs.update(outcome=f"{label(joint)} {label(movement)}", unit="degrees")
    return out.reset_index(drop=True)


# ---------------------------------------------------------------- clinic summaries

#: Indicators of the monthly KPI table: column of monthly_activity -> (words, kind).
KPIS = {
    "active_patients": ("Patients seen", "count"),
    "new_patients": ("New patients", "count"),
    "new_episodes": ("New courses of care", "count"),
    "sessions_booked": ("Sessions booked", "count"),
    "sessions_attended": ("Sessions attended", "count"),
    "cancelled": ("Sessions cancelled", "count"),
    "no_show": ("Sessions missed", "count"),
    "attendance_rate": ("Attendance rate", "share"),
    "discharges": ("Courses of care completed", "count"),
    "discharged_responder_rate": ("Completed with a clinically important improvement", "share"),
    "mean_pain_reduction": ("Average fall in pain at completion (points)", "points"),
    "adverse_events": ("Adverse events", "count"),
    "ae_rate_per_100": ("Adverse events per 100 sessions", "points"),
}


def kpi_table(monthly: pd.DataFrame, month, *, threshold: int = 11) -> pd.DataFrame:
    """The month's activity beside the month before, with the change, small counts suppressed.

    ``monthly`` is :func:`~needling_analytics.metrics.monthly_activity`.
    Suppression (:func:`suppress_small_counts`) treats sessions booked as the
    total of attended, cancelled and missed, and responders plus the others
    as the discharged episodes assessed; a rate is hidden (``"*"``) when a
    count it comes from is hidden, and so is the change when either month's
    figure is hidden. Blank cells are missing (e.g. no discharge that month).

    Returns
    -------
    DataFrame
        ``indicator`` (words), ``this_month``, ``previous_month``, ``change``
        (text cells; shares as percentages, changes in percentage points).
    """
    period = metrics.parse_month(month)
    rows = monthly.set_index("month").reindex([period - 1, period])
    if rows.isna().all(axis=None):
        raise ValueError(
            f"`monthly` has no row for {period} or the month before; pass monthly_activity(clinic, {str(period)!r})"
        )
    rows = rows.reset_index(drop=True)
    rows["not_responders"] = rows["discharged_assessable"] - rows["discharged_responders"]
    counts = [k for k, (_, kind) in KPIS.items() if kind == "count"] + [
        "discharged_assessable",
        "discharged_responders",
        "not_responders",
    ]
    hidden = suppress_small_counts(
        rows,
        counts,
        threshold=threshold,
        totals={
            "sessions_booked": ["sessions_attended", "cancelled", "no_show"],
            "discharged_assessable": ["discharged_responders", "not_responders"],
        },
        rate_columns={
            "attendance_rate": ["sessions_attended", "sessions_booked"],
            "discharged_responder_rate": ["discharged_responders", "discharged_assessable", "not_responders"],
            "mean_pain_reduction": ["discharges"],
            "ae_rate_per_100": ["adverse_events", "sessions_attended"],
        },
        rate_format={
            "attendance_rate": "{:.0%}",
            "discharged_responder_rate": "{:.0%}",
            "mean_pain_reduction": "{:.1f}",
            "ae_rate_per_100": "{:.1f}",
        },
    )
    out = []
    for column, (words, kind) in KPIS.items():
        now, before = hidden.loc[1, column], hidden.loc[0, column]
        hidden_cell = any(v == COMPLEMENT or v.startswith("<") for v in (now, before))
        change = COMPLEMENT if hidden_cell else ""
        if not hidden_cell and now and before:
            delta = float(rows.loc[1, column]) - float(rows.loc[0, column])
            formats = {"count": f"{delta:+,.0f}", "share": f"{100 * delta:+.0f} percentage points"}
            change = formats.get(kind, f"{delta:+.1f}")
        out.append({"indicator": words, "this_month": now, "previous_month": before, "change": change})
    table = pd.DataFrame(out)
    table.attrs.update(hidden.attrs, months=(str(period), str(period - 1)))
    return table


def responders_by(outcomes: pd.DataFrame, by: str, *, threshold: int = 11, total_label: str = "all") -> pd.DataFrame:
    """Responder rates by a subgroup (body region, practitioner...), with an overall row, small counts suppressed.

    ``outcomes`` is :func:`episode_outcomes` (or :func:`metrics.episode_pain`
    with the ``by`` column). Rates and their exact 95% intervals come from
    :func:`~needling_analytics.metrics.summarize_responders`. The number of
    episodes that could not be assessed is not shown (it is often small and
    would follow from the episodes and assessable counts).

    Returns
    -------
    DataFrame
        ``by`` (in words), ``assessable``, ``responders``, ``responder_rate``,
        ``ci_lower``, ``ci_upper`` (text; rates as percentages), with a last
        row labelled ``total_label``. Totals protected: assessable =
        responders + the others, in every row; each column's overall row.
    """
    groups = metrics.summarize_responders(outcomes, by=by)
    overall = metrics.summarize_responders(outcomes).assign(**{by: total_label})
    table = pd.concat([groups.astype({by: "string"}), overall], ignore_index=True)
    table[by] = table[by].astype("string").map(lambda v: v if v == total_label else label(v))
    table["others"] = table["assessable"] - table["responders"]
    hidden = suppress_small_counts(
        table,
        ["assessable", "responders", "others"],
        threshold=threshold,
        totals={"assessable": ["responders", "others"]},
        total_row=len(table) - 1,
        rate_columns={c: ["responders", "assessable", "others"] for c in ("responder_rate", "ci_lower", "ci_upper")},
        rate_format="{:.0%}",
    )
    return hidden[[by, "assessable", "responders", "responder_rate", "ci_lower", "ci_upper"]]


def attendance_table(visits: pd.DataFrame, *, threshold: int = 11) -> pd.DataFrame:
    """The clinic's attendance and self-discharge in one row, small counts suppressed.

    ``visits`` is :func:`~needling_analytics.metrics.attendance`; the figures
    are :func:`~needling_analytics.metrics.summarize_attendance`.

    Returns
    -------
    DataFrame
        One row: ``booked``, ``attended``, ``cancelled``, ``no_show``,
        ``attendance_rate``, ``episodes``, ``self_discharged``,
        ``self_discharge_rate``, ``follow_up_rate`` (text; rates as percentages).
    """
    row = metrics.summarize_attendance(visits)
    row["stayed"] = row["episodes"] - row["self_discharged"]
    row["without_follow_up"] = row["episodes"] - row["with_follow_up"]
    hidden = suppress_small_counts(
        row,
        [
            "booked",
            "attended",
            "cancelled",
            "no_show",
            "episodes",
            "self_discharged",
            "stayed",
            "with_follow_up",
            "without_follow_up",
        ],
        threshold=threshold,
        totals={
            "booked": ["attended", "cancelled", "no_show"],
            "episodes": ["self_discharged", "stayed"],
        },
        rate_columns={
            "attendance_rate": ["attended", "booked"],
            "self_discharge_rate": ["self_discharged", "stayed"],
            "follow_up_rate": ["with_follow_up", "without_follow_up"],
        },
        rate_format="{:.0%}",
    )
    columns = ["booked", "attended", "cancelled", "no_show", "attendance_rate", "episodes", "self_discharged"]
    return hidden[[*columns, "self_discharge_rate", "follow_up_rate"]]


def rom_summary(rom: pd.DataFrame, *, threshold: int = 11) -> pd.DataFrame:
    """Range-of-motion series per joint by result against measurement error, small counts suppressed.

    ``rom`` is :func:`~needling_analytics.metrics.rom_change` (one row per
    series). Returns ``joint`` (words, with an ``all joints`` row),
    ``series``, ``improved`` (beyond measurement error), ``within``
    (within measurement error), ``worse`` (beyond it), ``not_compared``
    (no follow-up or another device): text cells.
    """
    classes = {
        "improved beyond measurement error": "improved",
        "within measurement error": "within",
        "worse beyond measurement error": "worse",
        "not comparable": "not_compared",
        "no follow-up": "not_compared",
    }
    parts = ["improved", "within", "worse", "not_compared"]
    if rom.empty:
        return pd.DataFrame(columns=["joint", "series", *parts])
    result = rom["change_class"].astype(str).map(classes).fillna("not_compared")
    table = pd.crosstab(rom["joint"].astype(str).map(label), result).reindex(columns=parts, fill_value=0)
    table.loc["all joints"] = table.sum()
    table.insert(0, "series", table.sum(axis=1))
    table = table.rename_axis(index="joint", columns=None).reset_index()
    hidden = suppress_small_counts(
        table, ["series", *parts], threshold=threshold, totals={"series": parts}, total_row=len(table) - 1
    )
    return hidden


def prom_summary(changes: pd.DataFrame, *, threshold: int = 11) -> pd.DataFrame:
    """Questionnaire results per instrument, small counts suppressed.

    ``changes`` is :func:`~needling_analytics.metrics.prom_change`; figures
    from :func:`~needling_analytics.metrics.summarize_proms`. Averages are
    hidden (``"*"``) when the number with a follow-up is hidden; shares and
    intervals when a count they come from is (including the number not
    reaching the threshold, assessable minus reached).
    """
    table = metrics.summarize_proms(changes)
    table["not_reached"] = table["assessable"] - table["reached_mcid"]
    table["no_follow_up"] = table["episodes"] - table["with_follow_up"]
    counts = ["episodes", "with_follow_up", "no_follow_up", "assessable", "reached_mcid", "not_reached"]
    shares = {c: ["reached_mcid", "assessable", "not_reached"] for c in ("share_reached_mcid", "ci_lower", "ci_upper")}
    hidden = suppress_small_counts(
        table,
        counts,
        threshold=threshold,
        totals={"episodes": ["with_follow_up", "no_follow_up"], "assessable": ["reached_mcid", "not_reached"]},
        rate_columns={**shares, "mean_improvement": ["with_follow_up"], "median_improvement": ["with_follow_up"]},
        rate_format={**dict.fromkeys(shares, "{:.0%}"), "mean_improvement": "{:.1f}", "median_improvement": "{:.1f}"},
    )
    columns = ["instrument", "episodes", "with_follow_up", "mean_improvement", "median_improvement", "assessable"]
    return hidden[[*columns, "reached_mcid", "share_reached_mcid", "ci_lower", "ci_upper"]]


def funnel_curve(funnel: pd.DataFrame) -> pd.DataFrame:
    """The control limits to draw behind :func:`~needling_analytics.metrics.practitioner_funnel` output.

    :func:`~needling_analytics.metrics.funnel_limits` around the funnel's
    target, with its levels and dispersion, up to 10% beyond the largest
    practitioner; an empty frame when no practitioner is shown.
    """
    if funnel.empty or not np.isfinite(funnel.attrs.get("target", np.nan)):
        return pd.DataFrame(columns=["n"])
    n_max = int(np.ceil(funnel["n"].max() * 1.1)) + 1
    return metrics.funnel_limits(
        float(funnel.attrs["target"]),
        n_max,
        limits=funnel.attrs.get("limits", (0.95, 0.998)),
        dispersion=float(funnel.attrs.get("dispersion", 1.0)),
    )


def residual_table(fit, *, bands: int = 5) -> pd.DataFrame:
    """Residuals of a trajectory model by band of fitted values: a table instead of a residual plot.

    A good fit has mean residuals near 0 in every band (no curvature) and
    similar SDs (constant variance).

    Returns
    -------
    DataFrame
        ``fitted_from``, ``fitted_to`` (band of fitted values, outcome
        units), ``observations``, ``mean_residual``, ``sd_residual``.
    """
    result = fit.model_result
    fitted = pd.Series(np.asarray(result.fittedvalues, dtype=float))
    residual = pd.Series(np.asarray(result.resid, dtype=float))
    band = pd.qcut(fitted, bands, duplicates="drop")
    grouped = pd.DataFrame({"band": band, "fitted": fitted, "residual": residual}).groupby("band", observed=True)
    return pd.DataFrame(
        {
            "fitted_from": grouped["fitted"].min(),
            "fitted_to": grouped["fitted"].max(),
            "observations": grouped.size().astype("int64"),
            "mean_residual": grouped["residual"].mean(),
            "sd_residual": grouped["residual"].std(),
        }
    ).reset_index(drop=True)

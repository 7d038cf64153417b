"""The home symptom journal: rolling trends and soreness after needling.

Patients may keep a daily diary of pain, stiffness and mobility (0-10) at
home (DOMAIN.md, "Tracking progress"). Two uses here:

- :func:`journal_trend`: the diary day by day with a rolling mean over the
  last ``window_days`` *calendar* days, so a gap in the diary shortens the
  window instead of reaching back to older entries.
- :func:`post_session_soreness`: the pain in the two days after each
  attended session against the pain the day before. Soreness for 24-48 h
  after dry needling is normal aftercare; pain that has not settled after a
  few days is a reason to contact the practitioner (Brady 2014, J Man Manip
  Ther 22:134; DOMAIN.md, "Aftercare").

Day convention: day 0 is the session's date, day 1 the next calendar day.
Diary entries dated on a session day are never used for soreness, because
the diary does not say whether the entry was written before or after the
needling.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..clinic import Clinic

#: Days before a session searched for the "before" pain when day -1 has no entry.
BEFORE_DAYS = 3
#: Days after a session searched for pain back at its level before the session.
SETTLE_DAYS = 14

TREND_COLUMNS = [
    "patient_id", "entry_date", "pain", "stiffness", "mobility",
    "pain_rolling_mean", "stiffness_rolling_mean", "mobility_rolling_mean", "session_day",
]  # fmt: skip
SORENESS_COLUMNS = [
    "session_id", "episode_id", "patient_id", "session_date", "pain_day_before",
    "pain_next_48h", "soreness", "days_to_settle", "settled_within_48h",
]  # fmt: skip
_SCORES = ("pain", "stiffness", "mobility")
#: Day 0 of the integer day keys.
_ORIGIN = np.datetime64("1900-01-01", "D")


def _check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a whole number of days, 1 or more, got {value!r}")


def _attended(clinic) -> pd.DataFrame:
    """Attended sessions (status ``attended``, as in ``_common.attended_sessions``), in table order."""
    sessions = clinic.sessions
    return sessions.loc[sessions["status"] == "attended", ["session_id", "episode_id", "patient_id", "session_date"]]


def _daily_journal(clinic) -> pd.DataFrame:
    """One row per patient and day: several entries on one day are averaged (skipping blanks)."""
    journal = clinic.journal[["patient_id", *_SCORES]].assign(entry_date=clinic.journal["entry_date"].dt.normalize())
    journal = journal[journal["patient_id"].notna() & journal["entry_date"].notna()]
    daily = journal.groupby(["patient_id", "entry_date"], sort=True, observed=True)[list(_SCORES)].mean()
    return daily.reset_index()


def journal_trend(clinic: Clinic, *, window_days: int = 7, min_entries: int = 3) -> pd.DataFrame:
    """The symptom journal day by day, with rolling means over calendar days.

    The window of an entry dated *t* covers the calendar days
    *t - window_days + 1* to *t* (7 days including the day, by default);
    days without an entry are simply absent from it, so a gap in the diary
    is a gap, not a row. A rolling mean needs at least ``min_entries``
    recorded values in its window, else it is missing (NaN). Several
    entries on one day are first averaged into one.

    Parameters
    ----------
    clinic : Clinic
        The loaded clinic (``journal`` and ``sessions`` are used).
    window_days : int
        Length of the window in calendar days, the entry's own day included.
    min_entries : int
        Least number of days with a value in the window for a mean.

    Returns
    -------
    DataFrame
        One row per patient and day with an entry, by patient then date:
        ``patient_id``, ``entry_date``, ``pain`` (NPRS 0-10),
        ``stiffness`` (0-10, higher is stiffer), ``mobility`` (0-10,
        higher is better; both NaN where not recorded),
        ``pain_rolling_mean``, ``stiffness_rolling_mean``,
        ``mobility_rolling_mean`` (mean of the recorded values in the
        window, same units; NaN with fewer than ``min_entries``),
        ``session_day`` (bool: the patient attended a session that day).
        ``attrs["window_days"]`` and ``attrs["min_entries"]`` record the
        options. Empty (with these columns) when there is no journal.

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.clinic import Clinic
    >>> clinic = Clinic.from_frames(**generate_clinic(n_patients=40, seed=1))
    >>> trend = journal_trend(clinic)
    >>> trend.columns[:3].tolist()
    ['patient_id', 'entry_date', 'pain']
    """
    _check_positive_int(window_days, "window_days")
    _check_positive_int(min_entries, "min_entries")
    out = _daily_journal(clinic)
    codes, _ = pd.factorize(out["patient_id"])
    keys = _day_keys(codes, out["entry_date"], _ORIGIN)  # sorted: out is by patient, then day
    # First row inside each row's window: same patient (keys of different patients are 2**32 apart).
    start = np.searchsorted(keys, keys - (window_days - 1), side="left")
    for score in _SCORES:
        values = out[score].to_numpy(dtype=float)
        recorded = ~np.isnan(values)
        # Running sums in extended precision keep the window differences free of visible rounding error.
        total = np.concatenate([[0.0], np.cumsum(np.where(recorded, values, 0.0), dtype=np.longdouble)])
        count = np.concatenate([[0], np.cumsum(recorded)])
        end = np.arange(1, len(values) + 1)
        n = count[end] - count[start]
        mean = (total[end] - total[start]).astype(float) / np.maximum(n, 1)
        out[f"{score}_rolling_mean"] = np.where(n >= min_entries, mean, np.nan)
    sessions = _attended(clinic)
    visited = pd.MultiIndex.from_arrays([sessions["patient_id"], sessions["session_date"].dt.normalize()])
    out["session_day"] = pd.MultiIndex.from_frame(out[["patient_id", "entry_date"]]).isin(visited)
    out = out[TREND_COLUMNS].astype({"session_day": bool, **{c: float for c in TREND_COLUMNS[2:8]}})
    out.attrs.update(window_days=window_days, min_entries=min_entries)
    return out.reset_index(drop=True)


def _day_keys(patient_codes: np.ndarray, dates: pd.Series, origin: np.datetime64) -> np.ndarray:
    """An integer key per (patient, calendar day), ordered by patient then day."""
    days = (dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]") - origin).astype(np.int64)
    return patient_codes.astype(np.int64) * np.int64(1 << 32) + days


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """values[keys == query] for sorted, unique, non-empty ``keys``; NaN where absent."""
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[pos] == query, values[pos], np.nan)


def post_session_soreness(clinic: Clinic, *, settle_days: int = SETTLE_DAYS) -> pd.DataFrame:
    """Soreness in the 48 hours after each session, from the home journal.

    Day 0 is the session date. For every attended session of a patient who
    has journal entries:

    - ``pain_day_before`` is the diary pain on day -1; when day -1 has no
      entry, the latest entry on day -2 or -3; else missing.
    - ``pain_next_48h`` is the mean diary pain over days +1 and +2 (the
      24-48 h in which soreness after needling is normal aftercare,
      DOMAIN.md); one of the two days is enough; the session day itself
      is not used (before or after the needling is unknown).
    - ``soreness`` = pain_next_48h - pain_day_before.
    - ``days_to_settle`` is the first day *k* >= 1 whose diary pain is at
      or below ``pain_day_before``, looking only at days before the
      patient's next attended session and at most ``settle_days`` days
      out. Missing (censored) when no such entry exists there: the diary
      stops, the next session comes first, or pain stays higher. As the
      diary can skip days, *k* is the first *recorded* settled day: the
      pain may have settled on a skipped day before it.
    - ``settled_within_48h`` is True when a diary entry on day 1 or 2 is at
      or below ``pain_day_before``, False when both days have entries
      (before the next session) and both are above it, and missing
      otherwise (including when ``pain_day_before`` is missing).

    A session whose pain has not settled after a few days deserves a call
    (prolonged aggravation is an adverse event: Brady 2014, J Man Manip
    Ther 22:134).

    Parameters
    ----------
    clinic : Clinic
        The loaded clinic (``journal`` and attended ``sessions`` are used).
    settle_days : int
        Farthest day after the session searched for ``days_to_settle``.

    Returns
    -------
    DataFrame
        One row per attended session of a patient with journal entries,
        by patient, date and session: ``session_id``, ``episode_id``,
        ``patient_id``, ``session_date``, ``pain_day_before`` (NPRS
        points), ``pain_next_48h`` (NPRS points), ``soreness`` (points;
        positive means more pain than before the session),
        ``days_to_settle`` (Int64, days; NA when censored),
        ``settled_within_48h`` (nullable boolean). Empty (with these
        columns) when there is no journal.

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.clinic import Clinic
    >>> clinic = Clinic.from_frames(**generate_clinic(n_patients=40, seed=1))
    >>> summary = summarize_soreness(post_session_soreness(clinic))
    >>> bool(0 <= summary.loc[0, "share_settled_within_48h"] <= 1)
    True
    """
    _check_positive_int(settle_days, "settle_days")
    daily = _daily_journal(clinic)
    sessions = _attended(clinic)
    sessions = sessions[sessions["patient_id"].isin(daily["patient_id"].unique()) & sessions["session_date"].notna()]
    out = sessions[["session_id", "episode_id", "patient_id"]].assign(
        session_date=sessions["session_date"].dt.normalize()
    )
    if out.empty:
        return _empty_soreness(out, settle_days)

    codes, _ = pd.factorize(pd.concat([daily["patient_id"], out["patient_id"]], ignore_index=True), sort=True)
    journal_codes, session_codes = codes[: len(daily)], codes[len(daily) :]
    jkeys = _day_keys(journal_codes, daily["entry_date"], _ORIGIN)
    order = np.argsort(jkeys, kind="stable")
    jkeys, jpain = jkeys[order], daily["pain"].to_numpy(dtype=float)[order]
    skeys = _day_keys(session_codes, out["session_date"], _ORIGIN)
    order = np.lexsort((out["session_id"].to_numpy(dtype=str), skeys))
    out, skeys, session_codes = out.iloc[order].reset_index(drop=True), skeys[order], session_codes[order]

    # Days until the patient's next attended session on a later date (inf when there is none).
    next_row = np.searchsorted(skeys, skeys, side="right")
    next_safe = np.minimum(next_row, len(skeys) - 1)
    has_next = (next_row < len(skeys)) & (session_codes[next_safe] == session_codes)
    gap = np.where(has_next, skeys[next_safe] - skeys, np.inf)

    before = _lookup(jkeys, jpain, skeys - 1)
    for k in range(2, BEFORE_DAYS + 1):
        before = np.where(np.isnan(before), _lookup(jkeys, jpain, skeys - k), before)
    # Diary pain on day k after the session, only on days before the next session.
    after = {k: np.where(k < gap, _lookup(jkeys, jpain, skeys + k), np.nan) for k in range(1, max(settle_days, 2) + 1)}

    recorded = (~np.isnan(after[1])).astype(float) + (~np.isnan(after[2]))
    total = np.nan_to_num(after[1]) + np.nan_to_num(after[2])
    next_48h = np.divide(total, recorded, out=np.full(len(skeys), np.nan), where=recorded > 0)
    settled_day = np.full(len(skeys), np.nan)
    for k in range(settle_days, 0, -1):
        settled_day = np.where(after[k] <= before, float(k), settled_day)
    within = np.where((after[1] <= before) | (after[2] <= before), True, None)
    within = np.where((after[1] > before) & (after[2] > before), False, within)

    out["pain_day_before"] = before
    out["pain_next_48h"] = next_48h
    out["soreness"] = out["pain_next_48h"] - out["pain_day_before"]
    out["days_to_settle"] = pd.array(np.where(np.isnan(settled_day), None, settled_day), dtype="Int64")
    out["settled_within_48h"] = pd.array(within, dtype="boolean")
    out.attrs["settle_days"] = settle_days
    return out[SORENESS_COLUMNS]


def _empty_soreness(out: pd.DataFrame, settle_days: int) -> pd.DataFrame:
    out = out.assign(
        pain_day_before=pd.Series(dtype=float),
        pain_next_48h=pd.Series(dtype=float),
        soreness=pd.Series(dtype=float),
        days_to_settle=pd.Series(dtype="Int64"),
        settled_within_48h=pd.Series(dtype="boolean"),
    )
    out.attrs["settle_days"] = settle_days
    return out[SORENESS_COLUMNS].reset_index(drop=True)


def summarize_soreness(per_session: pd.DataFrame) -> pd.DataFrame:
    """Soreness after needling, over all sessions of :func:`post_session_soreness`.

    Parameters
    ----------
    per_session : DataFrame
        The output of :func:`post_session_soreness` (possibly filtered,
        e.g. to one practitioner's sessions).

    Returns
    -------
    DataFrame
        One row: ``sessions`` (rows), ``sessions_with_soreness`` (with
        both a before and an after pain), ``mean_soreness`` (NPRS points,
        over those), ``sessions_settle_known`` (settled_within_48h not
        missing), ``share_settled_within_48h`` (of those, 0-1),
        ``median_days_to_settle`` (days, over sessions whose settling was
        observed; censored sessions are left out, so a slow settle is
        understated). Means and shares are NaN when nothing counts.
    """
    soreness = per_session["soreness"].astype(float)
    known = per_session["settled_within_48h"].dropna()
    days = per_session["days_to_settle"].dropna().astype(float)
    row = {
        "sessions": len(per_session),
        "sessions_with_soreness": int(soreness.notna().sum()),
        "mean_soreness": soreness.mean() if soreness.notna().any() else np.nan,
        "sessions_settle_known": len(known),
        "share_settled_within_48h": known.astype(float).mean() if len(known) else np.nan,
        "median_days_to_settle": days.median() if len(days) else np.nan,
    }
    out = pd.DataFrame([row])
    return out.astype({"sessions": "int64", "sessions_with_soreness": "int64", "sessions_settle_known": "int64"})

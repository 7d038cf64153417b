"""The demo clinic's appointment diary, as a practice-management system holds it.

The canonical ``sessions`` table holds only what happened up to the end of
the demo period. A live diary also holds appointments still to come and
past ones nobody marked. :func:`build_diary` adds both, so that every
export module starts from the same rows:

* **Future bookings**: each course still running at the end of the period
  (``end_date`` blank) and seen in its last four weeks gets its next
  appointment 2-16 days after the last date of the period, on a weekday,
  with the course's last practitioner. (Courses left open by patients who
  stopped coming get none.)
* **Unmarked appointments**: about one in a hundred attended follow-up
  sessions is followed the next weekday by an extra appointment that was
  never marked attended, cancelled or missed (the next session of the
  course is at least three days later, so course boundaries do not move).

Everything is drawn from the ``rng`` passed in, so a seed gives one diary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The demo clinic's time zone: its session dates and times are local here.
CLINIC_TZ = "Australia/Melbourne"

#: Share of attended follow-up sessions followed by an unmarked appointment.
UNMARKED_SHARE = 0.01


def period_end(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """Last date of the demo period: the latest date in sessions or journal."""
    dates = [tables["sessions"]["session_date"].max()]
    if "journal" in tables and len(tables["journal"]):
        dates.append(tables["journal"]["entry_date"].max())
    return pd.Timestamp(max(dates)).normalize()


def build_diary(tables: dict[str, pd.DataFrame], rng: np.random.Generator) -> pd.DataFrame:
    """Every appointment of the demo clinic, past and future, one row each.

    Parameters
    ----------
    tables : dict of str to DataFrame
        The canonical tables of :func:`~needling_analytics.demo.generate_clinic`.
    rng : numpy.random.Generator
        Source of the future bookings and unmarked appointments.

    Returns
    -------
    DataFrame
        The columns of ``sessions`` plus ``start`` (naive local timestamp),
        ``first_of_episode`` (the course's first appointment, an initial
        consultation) and ``canonical`` (False for the rows added here).
        ``status`` is ``booked`` for future bookings and ``unmarked`` for
        unmarked ones; their session_id is blank. Sorted by start.
    """
    if not pd.api.types.is_datetime64_any_dtype(tables["sessions"]["session_date"]):
        raise ValueError(
            "system exports are built from the clean demo clinic (dates as datetimes); "
            "--messy faults are in our own format and cannot be combined with an export format"
        )
    sessions = tables["sessions"].copy()
    sessions["canonical"] = True
    extra = [_future_bookings(tables, rng), _unmarked(sessions, rng, period_end(tables))]
    diary = pd.concat([sessions, *(e for e in extra if len(e))], ignore_index=True)
    diary["session_date"] = pd.to_datetime(diary["session_date"])
    diary["start"] = diary["session_date"] + pd.to_timedelta(diary["session_time"].astype(str) + ":00")
    diary = diary.sort_values(["start", "patient_id"], kind="stable").reset_index(drop=True)
    first = diary.groupby("episode_id")["start"].transform("min")
    diary["first_of_episode"] = diary["canonical"] & (diary["start"] == first)
    return diary


def local_to_utc(local: pd.Series) -> pd.Series:
    """Naive clinic-local timestamps as UTC ones.

    A time repeated when daylight saving ends is taken as standard time; one
    skipped when it starts is moved forward (neither happens in clinic hours).
    """
    ambiguous = np.zeros(len(local), dtype=bool)
    return local.dt.tz_localize(CLINIC_TZ, ambiguous=ambiguous, nonexistent="shift_forward").dt.tz_convert("UTC")


def to_utc_iso(local: pd.Series) -> pd.Series:
    """Naive clinic-local timestamps as UTC ISO 8601 text with ``Z`` (blank stays blank)."""
    return local_to_utc(local).dt.strftime("%Y-%m-%dT%H:%M:%SZ").fillna("")


def next_weekday(day: pd.Timestamp) -> pd.Timestamp:
    """``day`` itself when Monday-Friday, else the following Monday."""
    return day + pd.Timedelta(days=max(0, 7 - day.weekday())) if day.weekday() >= 5 else day


def _future_bookings(tables: dict[str, pd.DataFrame], rng: np.random.Generator) -> pd.DataFrame:
    episodes, sessions = tables["episodes"], tables["sessions"]
    ongoing = episodes.loc[episodes["end_date"].isna(), "episode_id"]
    last = sessions[sessions["episode_id"].isin(ongoing)].sort_values(["session_date", "session_time"])
    last = last.groupby("episode_id").tail(1)
    end = period_end(tables)
    last = last[last["session_date"] > end - pd.Timedelta(days=28)].reset_index(drop=True)
    offsets = rng.integers(2, 17, size=len(last))
    times = rng.choice(sessions["session_time"].dropna().unique(), size=len(last))
    rows = pd.DataFrame(
        {
            "session_id": pd.array([pd.NA] * len(last), dtype="string"),
            "episode_id": last["episode_id"],
            "patient_id": last["patient_id"],
            "practitioner_id": last["practitioner_id"],
            "session_date": [next_weekday(end + pd.Timedelta(days=int(d))) for d in offsets],
            "session_time": pd.array(times, dtype="string"),
            "status": "booked",
            "canonical": False,
        }
    )
    return rows


def _unmarked(sessions: pd.DataFrame, rng: np.random.Generator, end: pd.Timestamp) -> pd.DataFrame:
    ordered = sessions.sort_values(["episode_id", "session_date", "session_time"])
    following = ordered.groupby("episode_id")["session_date"].shift(-1)
    day_after = ordered["session_date"].map(lambda d: next_weekday(d + pd.Timedelta(days=1)))
    earlier = ordered.groupby("episode_id").cumcount() > 0
    eligible = (
        (ordered["status"] == "attended")
        & earlier
        & (following - ordered["session_date"] >= pd.Timedelta(days=3))
        & (following > day_after)
        & (day_after <= end)
    )
    picked = ordered[eligible.to_numpy() & (rng.random(len(ordered)) < UNMARKED_SHARE)]
    rows = picked[["episode_id", "patient_id", "practitioner_id", "session_time"]].copy()
    rows["session_id"] = pd.array([pd.NA] * len(rows), dtype="string")
    rows["session_date"] = day_after[picked.index]
    rows["status"] = "unmarked"
    rows["canonical"] = False
    return rows.reset_index(drop=True)

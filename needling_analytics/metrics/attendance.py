"""Attendance: booked, attended, cancelled and missed sessions, self-discharge, follow-up.

Definitions (see ``docs/metrics.md``):

- *booked*: every appointment row of the episode, whatever its status;
  *attended*, *cancelled*, *no_show*: rows with that status (a blank status
  is loaded as attended, per the data dictionary); *upcoming*: status
  ``booked`` (an appointment still to come); *unmarked*: status
  ``unmarked`` (past, never marked attended, cancelled or missed).
- *attendance rate* = attended / (attended + cancelled + no_show): upcoming
  and unmarked appointments are left out of the denominator (neither
  attended nor missed).
- *self-discharged*: the clinic recorded ``discharge_reason`` =
  ``self_discharged``, **or** the episode is still open (no end date) and
  the patient has not attended for ``self_discharge_days`` days or more
  before ``as_of`` (default 30 days, counting from the last attended
  session, or from the episode start when none was attended) and has no
  upcoming appointment on or after ``as_of``. The cut-off
  is a local convention, not a published threshold: change it and report
  it. Self-discharge is informative dropout (patients who stop coming tend
  to be those doing worse, or better): read outcome rates beside it.
- *follow-up pain*: a ``pain_pre`` recorded at an attended session after
  the baseline session, exactly when :func:`episode_pain` finds a
  ``latest`` score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..clinic import Clinic
from .pain import episode_pain

ATTENDANCE_COLUMNS = [
    "episode_id", "patient_id", "booked", "attended", "cancelled", "no_show", "attendance_rate",
    "first_session", "last_attended", "days_since_last_visit", "ended", "self_discharged", "has_follow_up_pain",
    "self_discharge_source", "upcoming", "unmarked", "next_booked",
]  # fmt: skip
SUMMARY_COLUMNS = [
    "booked", "attended", "cancelled", "no_show", "attendance_rate", "cancellation_rate", "no_show_rate",
    "episodes", "self_discharged", "self_discharge_rate", "with_follow_up", "follow_up_rate", "upcoming", "unmarked",
]  # fmt: skip
#: Appointment counts per status; ``booked`` is their total.
STATUS_COUNTS = ["attended", "cancelled", "no_show", "upcoming", "unmarked"]
#: Statuses whose appointments are in the attendance-rate denominator (the marked past ones).
MARKED = ["attended", "cancelled", "no_show"]


def status_flags(status: pd.Series) -> dict[str, np.ndarray]:
    """0/1 arrays per count of :data:`STATUS_COUNTS` (``upcoming`` is status ``booked``)."""
    codes = {"attended": "attended", "cancelled": "cancelled", "no_show": "no_show", "upcoming": "booked"}
    codes["unmarked"] = "unmarked"
    return {name: (status == code).to_numpy(dtype=bool).astype("int64") for name, code in codes.items()}


def _as_of(clinic, as_of) -> pd.Timestamp:
    if as_of is None:
        return pd.Timestamp(clinic.as_of).normalize()
    try:
        stamp = pd.Timestamp(as_of)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ValueError(f"`as_of` must be a date such as '2026-10-31', got {as_of!r}")
    return stamp.normalize()


def attendance(clinic: Clinic, *, self_discharge_days: float = 30, as_of=None) -> pd.DataFrame:
    """Attendance, self-discharge and follow-up of every episode.

    Parameters
    ----------
    clinic : Clinic
        The loaded clinic (episodes and sessions are used).
    self_discharge_days : float
        An open episode whose patient has not attended for at least this
        many days before ``as_of`` counts as self-discharged (default 30;
        a local convention, not a published threshold).
    as_of : date-like, optional
        The date "days since" are counted to; default ``clinic.as_of``.
        Sessions and discharges after it are not removed: to look back at
        an earlier date, filter the clinic first.

    Returns
    -------
    DataFrame
        One row per episode of ``clinic.episodes``, in its order:

        - ``episode_id``, ``patient_id``,
        - ``booked``: appointments of any status; ``attended``,
          ``cancelled``, ``no_show``: those with that status (counts),
        - ``attendance_rate``: attended / (attended + cancelled + no_show)
          (fraction; NaN when no appointment has been marked: upcoming and
          unmarked ones are not in the denominator),
        - ``first_session``: date of the first booked appointment, any
          status (NaT when none),
        - ``last_attended``: date of the last attended session (NaT when
          none),
        - ``days_since_last_visit``: days from ``last_attended`` to
          ``as_of`` (NaN when never attended; computed for ended episodes
          too),
        - ``ended``: the episode has an end date (bool),
        - ``self_discharged``: recorded as self-discharged, or open,
          inactive for ``self_discharge_days`` or more (bool; exactly
          ``self_discharge_days`` counts) and with no upcoming appointment
          on or after ``as_of``,
        - ``has_follow_up_pain``: a pain score after the baseline session
          exists (bool; see :func:`episode_pain`),
        - ``self_discharge_source``: ``recorded``, ``inactive`` or missing
          (not self-discharged),
        - ``upcoming``: appointments with status ``booked`` (still to come;
          count), ``unmarked``: past appointments never marked (count),
        - ``next_booked``: the first upcoming appointment on or after
          ``as_of`` (NaT when none).

        ``attrs`` records ``self_discharge_days`` and ``as_of``.
    """
    if (
        isinstance(self_discharge_days, bool)
        or not isinstance(self_discharge_days, int | float)
        or not self_discharge_days > 0
    ):
        raise ValueError(f"`self_discharge_days` must be a positive number of days, got {self_discharge_days!r}")
    as_of = _as_of(clinic, as_of)

    sessions = clinic.sessions
    status = sessions["status"]
    flags = status_flags(status)
    is_attended = flags["attended"].astype(bool)
    is_future = flags["upcoming"].astype(bool) & (sessions["session_date"] >= as_of).to_numpy(dtype=bool)
    per_session = pd.DataFrame(
        {
            "episode_id": sessions["episode_id"],
            "booked": 1,
            **flags,
            "first_session": sessions["session_date"],
            "last_attended": sessions["session_date"].where(is_attended),
            "next_booked": sessions["session_date"].where(is_future),
        }
    )
    grouped = per_session.groupby("episode_id", sort=False)
    counts = grouped[["booked", *STATUS_COUNTS]].sum()
    first = grouped["first_session"].min()
    last = grouped["last_attended"].max()
    upcoming = grouped["next_booked"].min()

    episodes = clinic.episodes
    out = episodes[["episode_id", "patient_id"]].copy()
    key = out["episode_id"]
    for column in ["booked", *STATUS_COUNTS]:
        out[column] = key.map(counts[column]).fillna(0).astype("int64")
    marked = out[MARKED].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["attendance_rate"] = out["attended"] / marked.where(marked > 0)
    out["first_session"] = first.reindex(key.to_numpy()).to_numpy(dtype="datetime64[ns]")
    out["last_attended"] = last.reindex(key.to_numpy()).to_numpy(dtype="datetime64[ns]")
    out["next_booked"] = upcoming.reindex(key.to_numpy()).to_numpy(dtype="datetime64[ns]")
    out["days_since_last_visit"] = (as_of - out["last_attended"]).dt.days.astype("float64")
    out["ended"] = episodes["end_date"].notna().to_numpy()

    recorded = (episodes["discharge_reason"] == "self_discharged").to_numpy(dtype=bool)
    reference = out["last_attended"].fillna(episodes["start_date"])
    inactive = (
        ~out["ended"].to_numpy()
        & ((as_of - reference).dt.days >= self_discharge_days).to_numpy(dtype=bool)
        & out["next_booked"].isna().to_numpy()  # a course with a future booking has not been abandoned
    )
    out["self_discharged"] = recorded | inactive
    pain = episode_pain(clinic).set_index("episode_id")["latest"]
    out["has_follow_up_pain"] = key.map(pain.notna()).fillna(False).astype(bool)
    source = np.select([recorded, inactive], ["recorded", "inactive"], default="")
    out["self_discharge_source"] = pd.Series(source, index=out.index, dtype="string").replace("", pd.NA)
    out = out[ATTENDANCE_COLUMNS].reset_index(drop=True)
    out.attrs = {"self_discharge_days": self_discharge_days, "as_of": as_of}
    return out


def summarize_attendance(per_episode: pd.DataFrame, *, by: str | list[str] | None = None) -> pd.DataFrame:
    """Clinic-wide (or grouped) attendance, self-discharge and follow-up rates.

    Parameters
    ----------
    per_episode : DataFrame
        The output of :func:`attendance` (other columns may be added for ``by``).
    by : column name(s), optional
        Group the summary, e.g. by ``practitioner_id`` once added.

    Returns
    -------
    DataFrame
        One row (one per group when ``by`` is given): the ``by`` columns,
        ``booked``, ``attended``, ``cancelled``, ``no_show`` (appointments),
        ``attendance_rate``, ``cancellation_rate``, ``no_show_rate``
        (fractions of the *marked* appointments, attended + cancelled +
        no_show), ``episodes``, ``self_discharged``,
        ``self_discharge_rate`` (fraction of episodes), ``with_follow_up``
        (episodes with a follow-up pain score), ``follow_up_rate``
        (fraction of episodes), ``upcoming`` (status ``booked``) and
        ``unmarked`` appointments (counts; in ``booked``, in no rate).
        Rates are NaN when their denominator is 0.
    """
    keys = [by] if isinstance(by, str) else list(by or [])
    missing = [
        c
        for c in ["booked", "attended", "cancelled", "no_show", "self_discharged", "has_follow_up_pain", *keys]
        if c not in per_episode
    ]
    if missing:
        raise ValueError(f"`per_episode` lacks column(s) {missing}; pass the output of attendance()")
    per_episode = per_episode.assign(
        **{c: per_episode[c] if c in per_episode else 0 for c in ("upcoming", "unmarked")}
    )  # tables made before the two statuses existed
    frame = per_episode.assign(
        episodes=1,
        self_discharged=per_episode["self_discharged"].astype("int64"),
        with_follow_up=per_episode["has_follow_up_pain"].astype("int64"),
    )
    sums = ["booked", *STATUS_COUNTS, "episodes", "self_discharged", "with_follow_up"]
    if keys:
        table = frame.groupby(keys, observed=True, sort=True)[sums].sum().reset_index()
    else:
        table = frame[sums].sum().to_frame().T
    table = table.astype({c: "int64" for c in sums})
    marked = table[MARKED].sum(axis=1)
    booked = marked.where(marked > 0)
    episodes = table["episodes"].where(table["episodes"] > 0)
    table["attendance_rate"] = table["attended"] / booked
    table["cancellation_rate"] = table["cancelled"] / booked
    table["no_show_rate"] = table["no_show"] / booked
    table["self_discharge_rate"] = table["self_discharged"] / episodes
    table["follow_up_rate"] = table["with_follow_up"] / episodes
    rates = ["attendance_rate", "cancellation_rate", "no_show_rate", "self_discharge_rate", "follow_up_rate"]
    table = table.astype({c: "float64" for c in rates})
    return table[[*keys, *SUMMARY_COLUMNS]].reset_index(drop=True)

"""Courses of care derived from the sessions, for sources that have no episodes.

Most practice-management exports have appointments but no "course of care"
table. :func:`derive_episodes` builds one with the mapping's
:class:`~.mapping.EpisodeRule`, per patient (and per body region where one
is known):

- a course starts at the patient's first appointment, at an appointment of
  a new-course type (e.g. "Initial Consultation"), or after a gap longer
  than ``gap_days`` since the previous appointment that took place or is
  booked (attended, booked or unmarked; a cancelled or missed appointment
  neither starts a course nor keeps one open, and belongs to the course
  around its date);
- a course is *discharged* (``end_date`` = its last attended session, or
  its last appointment when none was attended) when no attended or
  unmarked appointment follows within ``discharge_after_days`` of the last
  one and none of the course is booked, or when a later course has
  started; otherwise it is *ongoing*. Its ``discharge_reason`` stays
  blank: the source does not say why care ended. A course whose first
  appointment is still to come starts on that date, in the future.

All of it is vectorised over the whole table (no loop per patient).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .mapping import EpisodeRule

#: Statuses of appointments that took place or will: they start and extend courses.
_COUNTED = ("attended", "booked", "unmarked")


def derive_episodes(sessions: pd.DataFrame, rule: EpisodeRule, as_of: pd.Timestamp) -> tuple[pd.DataFrame, pd.Series]:
    """Courses of care from typed sessions.

    Parameters
    ----------
    sessions : DataFrame
        ``patient_id``, ``session_date`` (datetime64), ``status`` (text,
        blank meaning attended), ``session_time`` and, where the rule names
        them, the type and region columns.
    rule : EpisodeRule
    as_of : Timestamp
        The date the data describes.

    Returns
    -------
    episodes : DataFrame
        ``episode_id`` (``<patient_id>#<n>``, or ``<patient_id>#<region>#<n>``
        per region), ``patient_id``, ``start_date``, ``end_date`` (NaT while
        ongoing), ``body_region`` (the region label as written, or NA).
    episode_of_session : Series
        The ``episode_id`` of each session (same index as ``sessions``; NA
        where the patient or date is missing).
    """
    status = sessions["status"].astype("string").fillna("attended")
    usable = sessions["patient_id"].notna() & sessions["session_date"].notna()
    region = (
        sessions[rule.region_column].astype("string").str.strip()
        if rule.region_column and rule.region_column in sessions
        else pd.Series(pd.NA, index=sessions.index, dtype="string")
    )
    frame = pd.DataFrame(
        {
            "patient_id": sessions["patient_id"].astype("string"),
            "region": region.fillna(""),
            "date": sessions["session_date"],
            "time": sessions.get("session_time", pd.Series(pd.NA, index=sessions.index)).astype("string").fillna(""),
            "counted": status.isin(_COUNTED).to_numpy(),
            "attended": (status == "attended").to_numpy(),
            "booked": (status == "booked").to_numpy(),
        },
        index=sessions.index,
    )[usable.to_numpy()]
    if rule.new_course_types and rule.type_column in sessions:
        types = {t.strip().casefold() for t in rule.new_course_types}
        kind = sessions.loc[frame.index, rule.type_column].astype("string").str.strip().str.casefold()
        frame["opens"] = kind.isin(types).fillna(False).to_numpy() & frame["counted"].to_numpy()
    else:
        frame["opens"] = False
    frame = frame.sort_values(["patient_id", "region", "date", "time"], kind="stable")
    keys = ["patient_id", "region"]

    counted = frame[frame["counted"]]
    previous = counted.groupby(keys, sort=False)["date"].shift()
    gap = (counted["date"] - previous).dt.days
    first = previous.isna()
    starts = first | counted["opens"] | (gap > rule.gap_days)
    course = starts.astype(int).groupby([counted["patient_id"], counted["region"]], sort=False).cumsum()
    frame["course"] = course.reindex(frame.index)
    # cancelled and missed appointments join the course around their date (the one before, else the first)
    frame["course"] = frame.groupby(keys, sort=False)["course"].ffill()
    frame["course"] = frame.groupby(keys, sort=False)["course"].bfill().fillna(1)
    frame["course"] = frame["course"].astype(int)

    region_part = np.where(frame["region"] == "", "", "#" + frame["region"])
    frame["episode_id"] = (
        frame["patient_id"] + pd.Series(region_part, index=frame.index) + "#" + frame["course"].astype(str)
    )

    grouped = frame.groupby("episode_id", sort=False)
    episodes = grouped.agg(
        patient_id=("patient_id", "first"),
        region=("region", "first"),
        course=("course", "first"),
        first_any=("date", "min"),
    )
    counted_dates = frame["date"].where(frame["counted"])
    episodes["start_date"] = counted_dates.groupby(frame["episode_id"]).min().reindex(episodes.index)
    episodes["start_date"] = episodes["start_date"].fillna(episodes["first_any"])
    by_episode = frame.groupby("episode_id", sort=False)
    last_attended = frame["date"].where(frame["attended"]).groupby(frame["episode_id"]).max()
    episodes["last_attended"] = last_attended.reindex(episodes.index)
    # the last sign of the course: an attended or unmarked appointment, else (nothing attended) any appointment
    last_seen = frame["date"].where(frame["counted"] & ~frame["booked"]).groupby(frame["episode_id"]).max()
    episodes["last_seen"] = last_seen.reindex(episodes.index).fillna(by_episode["date"].max())
    episodes["has_booking"] = frame["booked"].groupby(frame["episode_id"]).any().reindex(episodes.index)
    episodes["n_courses"] = episodes.groupby(["patient_id", "region"])["course"].transform("max")
    later_course = episodes["course"] < episodes["n_courses"]
    quiet = (as_of - episodes["last_seen"]).dt.days > rule.discharge_after_days
    ended = ~episodes["has_booking"] & (quiet | later_course)
    out = pd.DataFrame(
        {
            "episode_id": episodes.index.astype("string"),
            "patient_id": episodes["patient_id"].astype("string").to_numpy(),
            "start_date": episodes["start_date"].to_numpy(),
            "end_date": episodes["last_attended"].fillna(episodes["last_seen"]).where(ended).to_numpy(),
            "body_region": episodes["region"].replace("", pd.NA).astype("string").to_numpy(),
        }
    )
    out = out.sort_values(["patient_id", "start_date"], kind="stable").reset_index(drop=True)
    episode_of_session = frame["episode_id"].reindex(sessions.index).astype("string")
    return out, episode_of_session


def episode_on(dated: pd.DataFrame, date_column: str, episodes: pd.DataFrame) -> pd.Series:
    """The course each row of ``dated`` falls in: the patient's latest course started on or before its date.

    ``dated`` has ``patient_id`` and ``date_column`` (datetime64);
    ``episodes`` has ``episode_id``, ``patient_id``, ``start_date``. A row
    dated before the patient's first course belongs to that first course.
    Returns the ``episode_id`` per row (same index; NA without a patient,
    a date, or any course).
    """
    rows = dated[["patient_id", date_column]].reset_index(names="_row")
    rows = rows[rows["patient_id"].notna() & rows[date_column].notna()]
    starts = episodes[["episode_id", "patient_id", "start_date"]].dropna()
    if rows.empty or starts.empty:
        return pd.Series(pd.NA, index=dated.index, dtype="string")
    rows = rows.astype({"patient_id": object}).sort_values(date_column, kind="stable")
    starts = starts.astype({"patient_id": object}).sort_values("start_date", kind="stable")
    before = pd.merge_asof(
        rows, starts, left_on=date_column, right_on="start_date", by="patient_id", direction="backward"
    )
    after = pd.merge_asof(
        rows, starts, left_on=date_column, right_on="start_date", by="patient_id", direction="forward"
    )
    chosen = before["episode_id"].fillna(after["episode_id"])
    return pd.Series(chosen.to_numpy(), index=before["_row"].to_numpy()).reindex(dated.index).astype("string")

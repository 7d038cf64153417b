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
:func:`add_derived_episodes` does it for the loader: it types the raw
sessions, adds the derived courses to the raw tables and gives every row
that belongs to a course (sessions, and rows dated within one) its
``episode_id``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import MappingError
from ..schema import TABLES
from .coerce import as_text, coerce_table, parse_dates
from .mapping import EpisodeRule, Mapping
from .read import RawTable

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


def _find_column(frame: pd.DataFrame, name: str | None) -> str | None:
    if not name:
        return None
    return next((c for c in frame.columns if str(c).strip().casefold() == name.strip().casefold()), None)


def add_derived_episodes(parts: dict[str, list[RawTable]], mapping: Mapping, as_of: pd.Timestamp) -> str:
    """Build the episodes table from the sessions when the mapping says so; give every row its course.

    Returns the rule in words for the quality report ('' when nothing was derived).
    """
    rule = mapping.for_table("episodes").derive
    if rule is None:
        return ""
    sessions = parts["sessions"][0]
    typed, _ = coerce_table(sessions.frame, TABLES["sessions"], mapping.for_table("sessions"), mapping.timezone)
    for wanted in (rule.type_column, rule.region_column):
        found = _find_column(sessions.frame, wanted)
        if wanted and found is None:
            raise MappingError(
                f"`derive` names column {wanted!r}, but {sessions.path.name} has no such column; "
                f"it has {list(sessions.frame.columns)}",
                path=mapping.source,
                hint="name the sessions column that holds the appointment type (or the body region).",
            )
        if wanted:
            typed[wanted] = as_text(sessions.frame[found])
    episodes, episode_of = derive_episodes(typed, rule, as_of)
    replaced = "episode_id" in sessions.frame and sessions.frame["episode_id"].notna().any()
    sessions.frame["episode_id"] = episode_of.to_numpy(dtype=object)
    for name, table_parts in parts.items():
        for part in table_parts:
            if part.parent == "sessions":
                part.frame["episode_id"] = episode_of.to_numpy(dtype=object)[part.parent_rows]
            elif name not in ("sessions",) and "episode_id" in TABLES[name].column_names:
                _episode_by_date(part, mapping, episodes)
    parts["episodes"] = [
        RawTable("episodes", sessions.path, episodes, np.arange(1, len(episodes) + 1), "course", where="derived")
    ]
    note = rule.describe() + f" {len(episodes):,} courses were derived."
    if replaced:
        note += " The sessions' own episode column was replaced by the derived courses."
    return note


def _episode_by_date(part: RawTable, mapping: Mapping, episodes: pd.DataFrame) -> None:
    """Fill a blank ``episode_id`` with the patient's course at the row's date."""
    spec = TABLES[part.name]
    date_column = next(c.name for c in spec.columns if c.kind == "date" and c.required)
    if "episode_id" in part.frame and part.frame["episode_id"].notna().all():
        return
    if date_column not in part.frame or "patient_id" not in part.frame:
        return
    table_mapping = mapping.for_table(part.parent or part.name)
    dated = pd.DataFrame(
        {
            "patient_id": as_text(part.frame["patient_id"]),
            date_column: parse_dates(
                part.frame[date_column], table_mapping.date_formats, mapping.timezone, table_mapping.source_timezone
            )[0],
        }
    )
    found = episode_on(dated, date_column, episodes)
    current = part.frame["episode_id"] if "episode_id" in part.frame else pd.Series(pd.NA, index=part.frame.index)
    part.frame["episode_id"] = as_text(current).fillna(found).to_numpy(dtype=object)
    part.notes.append(f"episode_id of {int(found.notna().sum()):,} row(s) set to the patient's course at that date.")

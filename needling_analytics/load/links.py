"""Rules across tables: a row's links to rows of other tables.

A reference must exist in its parent table, a row's patient must be its
episode's (or session's) patient, dates must lie within the episode, and an
adverse event needs an attended session. Each check returns problems in the
shape of :func:`.rules.problems_frame`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .coerce import is_in
from .rules import CASCADE_MARK, format_values, problems_frame

#: (column, parent table) pairs whose values must exist in the parent.
REFERENCES = {
    "episodes": [("patient_id", "patients")],
    "sessions": [("episode_id", "episodes"), ("patient_id", "patients")],
    "rom": [("episode_id", "episodes"), ("patient_id", "patients"), ("session_id", "sessions")],
    "proms": [("episode_id", "episodes"), ("patient_id", "patients")],
    "adverse_events": [("session_id", "sessions"), ("patient_id", "patients")],
    "assessments": [("episode_id", "episodes"), ("patient_id", "patients")],
    "journal": [("patient_id", "patients")],
}
#: The link through which a row's patient must match its parent's patient.
SAME_PATIENT = {
    "sessions": ("episode_id", "episodes"),
    "rom": ("episode_id", "episodes"),
    "proms": ("episode_id", "episodes"),
    "adverse_events": ("session_id", "sessions"),
    "assessments": ("episode_id", "episodes"),
}
#: The date column that must fall within its episode's dates.
WITHIN_EPISODE = {"sessions": "session_date", "rom": "measured_on", "assessments": "assessed_on"}


def cross_table_problems(name: str, active: pd.DataFrame, kept: dict, quarantined_keys: dict) -> list[pd.DataFrame]:
    """Problems of table ``name``'s rows ``active`` against the rows already ``kept`` of the tables it links to."""
    out = []
    for column, parent in REFERENCES.get(name, []):
        if parent in kept:
            out.append(
                check_reference(active, column, kept[parent], parent, quarantined_keys.get(parent, pd.Index([])))
            )
    if name in SAME_PATIENT:
        link, parent = SAME_PATIENT[name]
        out.append(check_same_patient(active, link, kept[parent], parent))
    if name in WITHIN_EPISODE:
        out.append(check_within_episode(active, WITHIN_EPISODE[name], kept["episodes"]))
    if name == "adverse_events":
        out.append(check_attended(active, kept["sessions"]))
    return out


def check_reference(
    child: pd.DataFrame, column: str, parent: pd.DataFrame, parent_table: str, quarantined: pd.Index
) -> pd.DataFrame:
    """``unknown_*`` problems for values of ``column`` missing from ``parent``.

    ``quarantined`` holds the parent keys whose rows were quarantined, so
    the reason can point at the real cause.
    """
    values = child[column]
    missing = values.notna() & ~is_in(values, parent[column].dropna().unique())
    bad = values[missing]
    was_quarantined = bad.isin(quarantined).to_numpy()
    reasons = np.where(
        was_quarantined,
        (f"{column} '" + bad + f"' {CASCADE_MARK} {parent_table} (see quarantine/{parent_table}.csv)").to_numpy(
            dtype=object
        ),
        (f"{column} '" + bad + f"' is not in the {parent_table} table").to_numpy(dtype=object),
    )
    rule = "unknown_" + column.removesuffix("_id")
    return problems_frame(bad.index, column, bad, rule, reasons)


def check_same_patient(child: pd.DataFrame, link: str, parent: pd.DataFrame, parent_table: str) -> pd.DataFrame:
    """``patient_mismatch`` where the child's patient differs from its parent's."""
    parents = parent[[link, "patient_id"]].rename(columns={"patient_id": "parent_patient"})
    merged = child[[link, "patient_id"]].reset_index(names="_row").merge(parents, on=link, how="inner")
    bad = merged[merged["patient_id"].notna() & (merged["patient_id"] != merged["parent_patient"])]
    reasons = (
        "patient_id '"
        + bad["patient_id"]
        + f"' differs from the patient of {parent_table[:-1]} '"
        + bad[link]
        + "' ('"
        + bad["parent_patient"]
        + "')"
    )
    return problems_frame(bad["_row"], "patient_id", bad["patient_id"], "patient_mismatch", reasons.to_numpy())


def check_within_episode(child: pd.DataFrame, date_column: str, episodes: pd.DataFrame) -> pd.DataFrame:
    """``outside_episode`` where ``date_column`` lies outside the episode's dates.

    Sessions are checked only when attended: a booking cancelled, missed or
    never marked after discharge (often the reason it was not kept) is not
    an error.
    """
    if "status" in child:
        child = child[child["status"].astype("string").fillna("attended") == "attended"]
    merged = (
        child[["episode_id", date_column]]
        .reset_index(names="_row")
        .merge(episodes[["episode_id", "start_date", "end_date"]], on="episode_id", how="inner")
    )
    date = merged[date_column]
    outside = date.notna() & (
        (date < merged["start_date"]) | (merged["end_date"].notna() & (date > merged["end_date"]))
    )
    bad = merged[outside]
    end = format_values(bad["end_date"]).replace("(blank)", "ongoing")
    reasons = (
        f"{date_column} " + format_values(bad[date_column]) + " is outside episode '" + bad["episode_id"]
        + "' (" + format_values(bad["start_date"]) + " to " + end + ")"
    )  # fmt: skip
    return problems_frame(
        bad["_row"], date_column, format_values(bad[date_column]), "outside_episode", reasons.to_numpy()
    )


def check_attended(events: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """``session_not_attended`` for adverse events on cancelled or missed sessions."""
    merged = events[["session_id"]].reset_index(names="_row").merge(sessions[["session_id", "status"]], on="session_id")
    bad = merged[merged["status"].astype("string") != "attended"]
    reasons = (
        "session '"
        + bad["session_id"]
        + "' has status "
        + bad["status"].astype("string")
        + ", so no needling took place"
    )
    return problems_frame(bad["_row"], "session_id", bad["session_id"], "session_not_attended", reasons.to_numpy())

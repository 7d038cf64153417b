"""Messy copies of the demo tables: the faults real clinic exports have.

:func:`make_messy` turns clean tables (from :func:`generate_clinic`) into
*text* tables, as a CSV export would be read, and plants a few known faults
in them: a typo in a category, an impossible score, a date with day and
month swapped, duplicate rows, a session pointing at a missing episode or
at the wrong patient, a date years in the future and a blank required cell.
Every fault is listed in the returned ``faults`` frame so that a test can
check that validation finds exactly these.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Kinds of fault that :func:`make_messy` plants.
FAULT_KINDS = (
    "category_typo", "out_of_range", "unparseable_date", "outside_episode", "exact_duplicate",
    "conflicting_duplicate", "orphan_reference", "future_date", "patient_mismatch", "missing_required",
)  # fmt: skip

FAULT_COLUMNS = ["table", "key", "column", "value", "fault"]

#: Session faults in the order they are planted: (fault, column, which rows qualify).
_SESSION_FAULTS = (
    ("category_typo", "status", "attended"),
    ("out_of_range", "pain_pre", "scored"),
    ("out_of_range", "needles", "attended"),
    ("unparseable_date", "session_date", "late_day"),
    ("outside_episode", "session_date", "swappable"),
    ("exact_duplicate", None, "scored"),
    ("conflicting_duplicate", "pain_pre", "scored"),
    ("orphan_reference", "episode_id", "any"),
    ("future_date", "session_date", "any"),
    ("patient_mismatch", "patient_id", "any"),
    ("missing_required", "session_date", "any"),
)


def make_messy(tables: dict[str, pd.DataFrame], *, seed: int = 0) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Copy the tables as text and plant known faults in them.

    The input is not modified. Sessions get one fault per row (rows of
    distinct episodes); episodes get a category typo and a blank start date
    in episodes untouched by the session faults.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Clean tables as returned by :func:`generate_clinic`; ``patients``,
        ``episodes`` and ``sessions`` are needed.
    seed : int
        Seed choosing the rows that receive faults.

    Returns
    -------
    messy : dict of str to DataFrame
        Every table, every column as text (``str`` dtype, blanks missing),
        with the faults planted; the sessions table gains two rows (the
        duplicates), placed right after the rows they copy.
    faults : DataFrame
        One row per fault: ``table``, ``key`` (the row's ID: session_id,
        episode_id or patient_id), ``column`` (missing for a whole-row
        fault), ``value`` (the text planted, missing when blanked) and
        ``fault`` (one of :data:`FAULT_KINDS`).

    Raises
    ------
    ValueError
        When a needed table is absent or the clinic is too small to find a
        row for every fault.
    """
    missing = [name for name in ("patients", "episodes", "sessions") if name not in tables]
    if missing:
        raise ValueError(f"`tables` must include {missing!r} to make a messy copy")
    rng = np.random.default_rng(seed)
    messy = {name: _as_text(frame) for name, frame in tables.items()}
    sessions, episodes = messy["sessions"], messy["episodes"]
    rows = _pick_session_rows(rng, sessions, episodes)
    faults = [
        _plant_session_fault(rng, messy, fault, column, row)
        for (fault, column, _), row in zip(_SESSION_FAULTS, rows, strict=True)
    ]
    faults += _plant_episode_faults(rng, messy, used=set(sessions["episode_id"].iloc[rows]))
    messy["sessions"] = _insert_duplicates(messy["sessions"], faults)
    return messy, pd.DataFrame(faults, columns=FAULT_COLUMNS).astype("str")


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as text: dates ``YYYY-MM-DD``, whole numbers without ``.0``."""
    out = {name: _column_text(values) for name, values in frame.items()}
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def _column_text(values: pd.Series) -> pd.Series:
    """One column as ``str`` text, blanks missing (fast paths for dates and numbers)."""
    blank = values.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(values):
        text = np.datetime_as_string(values.to_numpy().astype("datetime64[D]"))
    elif pd.api.types.is_float_dtype(values):
        numbers = np.where(blank, 0.0, values.to_numpy())
        whole = numbers == np.round(numbers)
        text = numbers.astype(np.int64).astype(str).astype(object)
        text[~whole] = numbers[~whole].astype(str)
    else:
        return values.astype("str")
    return pd.Series(text, index=values.index, dtype="str").mask(blank)


# ----------------------------------------------------------------------------
# Choosing rows
# ----------------------------------------------------------------------------


def _pick_session_rows(rng: np.random.Generator, sessions: pd.DataFrame, episodes: pd.DataFrame) -> list[int]:
    """One session row per fault of ``_SESSION_FAULTS``, all in distinct episodes."""
    eligible = _eligibility(sessions, episodes)
    order = rng.permutation(len(sessions))
    episode = pd.factorize(sessions["episode_id"])[0][order]
    used = np.zeros(episode.max(initial=0) + 1, dtype=bool)
    taken: list[int] = []
    for fault, _, rule in _SESSION_FAULTS:
        ok = eligible[rule][order] & ~used[episode]
        if not ok.any():
            raise ValueError(f"the clinic is too small to plant a {fault!r} fault; generate more patients")
        first = int(np.argmax(ok))
        taken.append(int(order[first]))
        used[episode[first]] = True
    return taken


def _eligibility(sessions: pd.DataFrame, episodes: pd.DataFrame) -> dict[str, np.ndarray]:
    """Masks of the session rows each kind of fault can be planted in."""
    attended = sessions["status"].eq("attended").to_numpy()
    date = pd.to_datetime(sessions["session_date"], format="%Y-%m-%d")
    return {
        "any": np.ones(len(sessions), dtype=bool),
        "attended": attended,
        "scored": attended & sessions["pain_pre"].notna().to_numpy(),
        "late_day": (date.dt.day > 12).to_numpy(),
        "swappable": _swap_leaves_episode(sessions, episodes, date),
    }


def _swap_leaves_episode(sessions: pd.DataFrame, episodes: pd.DataFrame, date: pd.Series) -> np.ndarray:
    """Rows whose day/month swap gives a real date, inside the period but
    outside the episode."""
    parts = pd.DataFrame({"year": date.dt.year, "month": date.dt.day, "day": date.dt.month})
    swapped = pd.to_datetime(parts.where(parts["month"] <= 12), errors="coerce")
    limits = episodes.set_index("episode_id")[["start_date", "end_date"]]
    start = pd.to_datetime(sessions["episode_id"].map(limits["start_date"]), format="%Y-%m-%d")
    end = pd.to_datetime(sessions["episode_id"].map(limits["end_date"]), format="%Y-%m-%d").fillna(date.max())
    outside = (swapped < start) | (swapped > end)
    in_period = swapped.between(date.min(), date.max())  # only the episode check fails
    return (outside & in_period & (swapped != date)).to_numpy()


def _swap_day_month(text: str) -> str:
    """``YYYY-MM-DD`` written as ``YYYY-DD-MM`` (the classic export slip)."""
    year, month, day = text.split("-")
    return f"{year}-{day}-{month}"


# ----------------------------------------------------------------------------
# Planting
# ----------------------------------------------------------------------------


def _plant_session_fault(
    rng: np.random.Generator, messy: dict[str, pd.DataFrame], fault: str, column: str | None, row: int
) -> dict[str, object]:
    """Write one fault into the sessions table (duplicates come later)."""
    sessions = messy["sessions"]
    key = sessions.at[row, "session_id"]
    value = _faulty_value(rng, messy, fault, column, row)
    if fault not in ("exact_duplicate", "conflicting_duplicate"):
        sessions.loc[row, column] = value
    return {"table": "sessions", "key": key, "column": column, "value": value, "fault": fault}


def _faulty_value(
    rng: np.random.Generator, messy: dict[str, pd.DataFrame], fault: str, column: str | None, row: int
) -> str | None:
    """The text planted for one session fault (None for a blank or whole row)."""
    sessions = messy["sessions"]
    current = sessions.at[row, column] if column else None
    if fault == "category_typo":
        return _typo(current)
    if fault == "out_of_range":
        return {"pain_pre": "11", "needles": "150"}[column]
    if fault in ("unparseable_date", "outside_episode"):
        return _swap_day_month(current)
    if fault == "conflicting_duplicate":
        pain = int(current)
        return str(pain + 3 if pain <= 7 else pain - 3)
    if fault == "orphan_reference":
        return _unused_id(messy["episodes"]["episode_id"])
    if fault == "future_date":
        last_year = int(pd.to_datetime(sessions["session_date"], format="%Y-%m-%d", errors="coerce").max().year)
        return f"{last_year + 5}-{current[5:8]}{min(int(current[8:10]), 28):02d}"
    if fault == "patient_mismatch":
        others = messy["patients"]["patient_id"]
        others = others[others != sessions.at[row, "patient_id"]].to_numpy()
        return str(others[rng.integers(0, len(others))])
    return None  # exact_duplicate, missing_required


def _typo(word: str) -> str:
    """Drop a letter near the middle: ``shoulder`` -> ``sholder``."""
    cut = max(len(word) // 2 - 1, 1)
    return word[:cut] + word[cut + 1 :]


def _unused_id(ids: pd.Series) -> str:
    """An ID shaped like the others (``E99999``) that is not among them."""
    prefix, width = ids.iloc[0][0], len(ids.iloc[0]) - 1
    number, taken = 10**width - 1, set(ids)
    while f"{prefix}{number:0{width}d}" in taken:
        number -= 1
    return f"{prefix}{number:0{width}d}"


def _plant_episode_faults(rng: np.random.Generator, messy: dict[str, pd.DataFrame], used: set[str]) -> list[dict]:
    """A body-region typo and a blank start date, in untouched episodes."""
    episodes = messy["episodes"]
    free = np.flatnonzero(~episodes["episode_id"].isin(used).to_numpy())
    if len(free) < 2:
        raise ValueError("the clinic is too small to plant the episode faults; generate more patients")
    shoulder = free[episodes["body_region"].to_numpy()[free] == "shoulder"]
    typo_row = int(rng.choice(shoulder)) if len(shoulder) else int(rng.choice(free))
    blank_row = int(rng.choice(free[free != typo_row]))
    typo = _typo(episodes.at[typo_row, "body_region"])
    episodes.loc[typo_row, "body_region"] = typo
    episodes.loc[blank_row, "start_date"] = None
    planted = ((typo_row, "body_region", typo, "category_typo"), (blank_row, "start_date", None, "missing_required"))
    return [
        {"table": "episodes", "key": episodes.at[row, "episode_id"], "column": column, "value": value, "fault": fault}
        for row, column, value, fault in planted
    ]


def _insert_duplicates(sessions: pd.DataFrame, faults: list[dict]) -> pd.DataFrame:
    """Add the duplicate rows right after the rows they copy."""
    copies = {f["fault"]: f for f in faults if f["fault"] in ("exact_duplicate", "conflicting_duplicate")}
    ids = sessions["session_id"].to_numpy()
    position = {name: int(np.flatnonzero(ids == fault["key"])[0]) for name, fault in copies.items()}
    rows = np.arange(len(sessions))
    after = sorted(position.values())
    order = np.insert(rows, [p + 1 for p in after], after)
    out = sessions.iloc[order].reset_index(drop=True)
    if "conflicting_duplicate" in copies:
        second = np.flatnonzero(order == position["conflicting_duplicate"])[1]
        out.loc[second, "pain_pre"] = copies["conflicting_duplicate"]["value"]
    return out

"""Treatment-note answers flattened to one column per question.

Clinicians record pain, needling and range of motion in a note attached to
the appointment; an export that flattens notes gives one column per
question, named by the clinic, filled on attended appointments only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def note_columns(
    tables: dict[str, pd.DataFrame], diary: pd.DataFrame, fields: dict[str, str], side: str, knee_flexion: str
) -> pd.DataFrame:
    """The note answers of each diary row, as text (blank when none).

    Parameters
    ----------
    tables : dict of str to DataFrame
        The canonical demo tables (``rom`` supplies the knee readings).
    diary : DataFrame
        The rows of :func:`._diary.build_diary`.
    fields : dict of str to str
        Canonical sessions column -> the clinic's question.
    side, knee_flexion : str
        The questions holding the knee's side (every attended visit of a
        knee course) and its active goniometer flexion (visits where it
        was measured).

    Returns
    -------
    DataFrame
        One column per question in ``fields``, then ``side`` and
        ``knee_flexion``; numbers written as typed (``6``, not ``6.0``),
        yes/no and sides capitalised.
    """
    attended = (diary["status"] == "attended").to_numpy()
    notes = pd.DataFrame(index=diary.index)
    for column, question in fields.items():
        notes[question] = texts(diary[column].astype(object).where(attended, None))
    if "twitch_response" in fields:
        notes[fields["twitch_response"]] = notes[fields["twitch_response"]].str.capitalize()
    rom = tables["rom"]
    knee = rom[(rom["joint"] == "knee") & (rom["movement"] == "flexion")]
    sides = knee.groupby("episode_id")["side"].first()
    active = knee[(knee["mode"] == "active") & (knee["device"] == "goniometer")]
    notes[side] = np.where(attended, texts(diary["episode_id"].map(sides)).str.capitalize(), "")
    notes[knee_flexion] = texts(diary["session_id"].map(active.set_index("session_id")["degrees"]))
    return notes


def texts(values: pd.Series) -> pd.Series:
    """Values as a clinician types them: ``6`` not ``6.0``, blank for none."""
    return pd.Series([_answer(v) if pd.notna(v) else "" for v in values], index=values.index, dtype=object)


def _answer(value) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)

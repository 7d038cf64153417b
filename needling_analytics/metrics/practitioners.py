"""Which practitioner each course of care belongs to, and which courses a practitioner comparison uses.

Attribution: an episode belongs to the practitioner who gave most of its
attended sessions; on a tie, to the tied practitioner who saw the patient
first. ``practitioner_id`` is optional in the data: :func:`practitioner_recording`
says how far a clinic records it.

Cohort: only courses of care that have ended (``end_date`` set) are
compared by default. An ongoing course scored at its latest visit so far
is an interim result, and mixing interim with final results biases the
rates (DOMAIN.md, "Outcomes at a fixed time": interim is not final). A
minimum volume applies to every comparison (WebPT shows no benchmark below
10 visits a month). The comparisons themselves are in :mod:`.funnel` and
:mod:`.case_mix`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..clinic import Clinic
from ._common import attended_sessions
from .pain import ResponderRule, episode_pain

#: Which courses of care a comparison uses: ``ended`` (default: outcomes, not interim results) or ``all``.
COURSES = ("ended", "all")


def check_min_episodes(min_episodes) -> None:
    if isinstance(min_episodes, bool) or not isinstance(min_episodes, (int, np.integer)) or min_episodes < 1:
        raise ValueError(f"`min_episodes` must be a whole number, 1 or more, got {min_episodes!r}")


def attribute_episodes(clinic: Clinic) -> pd.DataFrame:
    """The practitioner each episode is attributed to.

    An episode belongs to the practitioner who gave the most of its
    attended sessions; on a tie, to the tied practitioner whose first
    session in the episode came earliest (sessions ordered by date, time,
    then ID, as in :func:`attended_sessions`). Sessions without a
    practitioner are not counted; an episode with none is left out.

    Returns
    -------
    DataFrame
        One row per episode with an attributed practitioner, by episode:
        ``episode_id``, ``practitioner_id``, ``practitioner_sessions``
        (attended sessions given by that practitioner), ``attended_sessions``
        (all attended sessions of the episode).
    """
    sessions = attended_sessions(clinic)
    total = sessions.groupby("episode_id", sort=False).size().rename("attended_sessions")
    known = sessions[sessions["practitioner_id"].notna()]
    counts = known.groupby(["episode_id", "practitioner_id"], sort=False, observed=True).agg(
        practitioner_sessions=("session_id", "size"), first_session=("session_number", "min")
    )
    counts = counts.reset_index().sort_values(
        ["episode_id", "practitioner_sessions", "first_session"], ascending=[True, False, True], kind="stable"
    )
    out = counts.drop_duplicates("episode_id", keep="first").merge(total, left_on="episode_id", right_index=True)
    out = out[["episode_id", "practitioner_id", "practitioner_sessions", "attended_sessions"]]
    return out.astype({"practitioner_sessions": "int64", "attended_sessions": "int64"}).reset_index(drop=True)


def practitioner_recording(clinic: Clinic) -> pd.DataFrame:
    """How far the clinic's data records who gave each treatment.

    ``practitioner_id`` is optional (REDCap and FHIR exports often have
    none): a missing one means "not recorded". Sessions without it are left
    out of every practitioner comparison; this counts them.

    Returns
    -------
    DataFrame
        One row: ``attended_sessions`` (treatments), ``without_practitioner``
        (attended sessions with no practitioner recorded), ``practitioners``
        (distinct practitioner IDs over all sessions, any status),
        ``recorded`` (True when any session, of any status, names a
        practitioner).
    """
    sessions = clinic.sessions
    ids = sessions["practitioner_id"]
    attended = (sessions["status"] == "attended").to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "attended_sessions": [int(attended.sum())],
            "without_practitioner": [int((attended & ids.isna().to_numpy(dtype=bool)).sum())],
            "practitioners": [int(ids.dropna().nunique())],
            "recorded": [bool(ids.notna().any())],
        }
    )


def check_courses(courses) -> None:
    if courses not in COURSES:
        raise ValueError(
            f"`courses` must be 'ended' (courses of care that have ended) or 'all' (ongoing ones too, "
            f"scored on their interim results), got {courses!r}"
        )


def _assessable_by_practitioner(
    clinic: Clinic, rule: ResponderRule, courses: str = "ended"
) -> tuple[pd.DataFrame, int, int]:
    """Assessable episodes with their practitioner, how many had none, and how many ongoing ones were left out.

    With ``courses="ended"`` only episodes with an end date are kept: an
    ongoing course scored at its latest visit so far is an interim result,
    not an outcome (DOMAIN.md, "Interim is not final").
    """
    episodes = episode_pain(clinic, rule=rule)
    episodes = episodes[episodes["assessable"]]
    ended = episodes["episode_id"].isin(clinic.episodes.loc[clinic.episodes["end_date"].notna(), "episode_id"])
    ongoing = int((~ended).sum())
    if courses == "ended":
        episodes = episodes[ended.to_numpy(dtype=bool)]
    attributed = episodes.merge(
        attribute_episodes(clinic)[["episode_id", "practitioner_id"]], on="episode_id", how="left"
    )
    unattributed = int(attributed["practitioner_id"].isna().sum())
    return attributed, unattributed, ongoing if courses == "ended" else 0


@dataclass(frozen=True)
class ComparedEpisodes:
    """The assessable episodes a practitioner comparison uses, and what it left out.

    ``episodes`` are :func:`episode_pain` rows (assessable, of the chosen
    ``courses``) with the ``practitioner_id`` they are attributed to, of the
    practitioners with at least ``min_episodes`` of them; the other fields
    are the counts every comparison reports in its ``attrs``.
    """

    episodes: pd.DataFrame
    min_episodes: int
    excluded_practitioners: int
    excluded_episodes: int
    unattributed_episodes: int
    practitioners_recorded: bool
    courses: str
    ongoing_episodes: int

    def counts(self) -> dict:
        """What was left out, for a comparison's ``attrs``."""
        return {
            "excluded_practitioners": self.excluded_practitioners,
            "excluded_episodes": self.excluded_episodes,
            "unattributed_episodes": self.unattributed_episodes,
            "practitioners_recorded": self.practitioners_recorded,
            "courses": self.courses,
            "ongoing_episodes": self.ongoing_episodes,
        }


def compared_episodes(clinic: Clinic, *, rule: ResponderRule, courses: str, min_episodes: int) -> ComparedEpisodes:
    """The assessable, attributed episodes of the practitioners with at least ``min_episodes`` of them.

    Practitioners with fewer are left out (too few to judge); the counts
    of what was left out are in the result.
    """
    episodes, unattributed, ongoing = _assessable_by_practitioner(clinic, rule, courses)
    episodes = episodes[episodes["practitioner_id"].notna()]
    sizes = episodes.groupby("practitioner_id", sort=True, observed=True).size()
    small = sizes < min_episodes
    return ComparedEpisodes(
        episodes=episodes[~episodes["practitioner_id"].isin(sizes.index[small])],
        min_episodes=min_episodes,
        excluded_practitioners=int(small.sum()),
        excluded_episodes=int(sizes[small].sum()),
        unattributed_episodes=unattributed,
        practitioners_recorded=bool(clinic.sessions["practitioner_id"].notna().any()),
        courses=courses,
        ongoing_episodes=ongoing,
    )

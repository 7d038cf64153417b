"""Time to a clinically important improvement: when each course of care first responded.

An episode "responds" at the first pain reading after its baseline
session (a later attended session's ``pain_pre``, or a follow-up
assessment's pain) that meets the :class:`~needling_analytics.metrics.pain.ResponderRule`
(by default at least 2 points and 30% below baseline: Farrar 2001, Pain
94:149; Childs 2005, Spine 30:1331). Episodes that never meet it are
censored at their last scored session. The curves and tests over these
times are in :mod:`.survival`.

Detection bias: response is found at visits, so patients seen more often are
found sooner and get more chances to cross the threshold through score noise
alone. ``time_to_response(..., confirmed=True)`` counts only a response met
at two consecutive scored readings (or at the last one), which the clinic
report uses; comparing groups that are seen at different rates still needs a
landmark design (DOMAIN.md, "Outcomes at a fixed time").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..clinic import Clinic
from .pain import DEFAULT_RULE, ResponderRule, episode_pain, pain_readings

_RESPONSE_COLUMNS = ["episode_id", "patient_id", "event", "sessions", "days", "baseline"]


def time_to_response(clinic: Clinic, *, rule: ResponderRule = DEFAULT_RULE, confirmed: bool = False) -> pd.DataFrame:
    """When each episode first reached a clinically important pain improvement.

    Sessions are the attended ones, ordered by date, time and ID (see
    :func:`~needling_analytics.metrics._common.attended_sessions`). The
    baseline is the episode's first recorded ``pain_pre``; every later
    scored session is compared with it by ``rule.met``. Only episodes that
    :func:`~needling_analytics.metrics.pain.episode_pain` calls assessable
    are kept: episodes without a baseline, with no later pain score (there
    is nothing to observe) or whose baseline makes the rule unreachable
    (e.g. baseline 1 under the default 2-point rule) are left out; their
    counts by reason are in ``attrs["excluded"]``. Sessions without a
    ``pain_pre`` are skipped (missing is not "no improvement"). Follow-up
    ``assessments`` are readings too (see
    :func:`~needling_analytics.metrics.pain.pain_readings`): an assessment
    dated after the baseline session's day can be where the rule is first
    met, or where the episode is censored; its ``sessions`` is then the
    number of attended sessions up to its date.

    Parameters
    ----------
    clinic : Clinic
        The loaded clinic (sessions and episodes are used).
    rule : ResponderRule
        The responder definition; recorded in ``attrs["responder_rule"]``.
    confirmed : bool
        Count only a *confirmed* response: a reading that meets the rule
        and is followed by a next scored reading that meets it too, or is
        the episode's last scored reading so far. The event is dated at the
        first reading of that run (scores 6, 3, 6, 3, 3: the 4th, not the
        2nd). A single lucky score is not a response: response is detected
        at visits, so patients seen more often get more chances to cross
        the threshold through score noise (NPRS test-retest error is about
        1 point), and a confirmed response lessens that detection bias
        without removing it. Recorded in ``attrs["confirmed"]``. Default
        False: the first reading that meets the rule.

    Returns
    -------
    DataFrame
        One row per assessable episode, in the order of ``clinic.episodes``:
        ``episode_id``, ``patient_id``, ``event`` (bool: the rule was met),
        ``sessions`` (the ``session_number`` of the attended session at
        which it was first met, or of the last scored session when
        censored; count of attended sessions, 1 = first),
        ``days`` (days from the episode's ``start_date`` to that session),
        ``baseline`` (NPRS points).

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.clinic import Clinic
    >>> times = time_to_response(Clinic.from_frames(**generate_clinic(n_patients=100, seed=0)))
    >>> times.columns.tolist()
    ['episode_id', 'patient_id', 'event', 'sessions', 'days', 'baseline']
    """
    episodes = episode_pain(clinic, rule=rule)
    assessable = episodes[episodes["assessable"]]
    baseline = assessable.set_index("episode_id")["baseline"]

    readings = pain_readings(clinic)  # session pain_pre and follow-up assessments, in episode order
    later = readings[readings["follow_up"].to_numpy(dtype=bool)]
    later = later.assign(baseline=later["episode_id"].map(baseline))  # NaN outside assessable episodes
    later = later[later["baseline"].notna()]
    met = rule.met(later["baseline"].to_numpy(dtype=float), later["pain"].to_numpy(dtype=float))
    if confirmed:
        # readings are in episode order: the next reading of the same episode confirms (or the reading is the last)
        episode = later["episode_id"].to_numpy()
        same_next = np.append(episode[1:] == episode[:-1], False)
        next_met = np.append(met[1:], False)
        met = met & np.where(same_next, next_met, True)
    first_met = later[met].groupby("episode_id", sort=False).head(1).set_index("episode_id")
    last_scored = later.groupby("episode_id", sort=False).tail(1).set_index("episode_id")

    out = assessable[["episode_id", "patient_id"]].copy()
    key = out["episode_id"]
    out["event"] = first_met.index.get_indexer(key) >= 0
    for column, source in (("sessions", "session_number"), ("days", "days_since_start")):
        out[column] = key.map(first_met[source]).fillna(key.map(last_scored[source]))
    out = out.astype({"sessions": "int64", "days": "float64"})
    out["baseline"] = key.map(baseline).astype("float64")
    out = out[_RESPONSE_COLUMNS].reset_index(drop=True)
    excluded = episodes.loc[~episodes["assessable"], "assessment"].value_counts()
    out.attrs["responder_rule"] = rule.to_dict()
    out.attrs["confirmed"] = bool(confirmed)
    out.attrs["excluded"] = {r: int(excluded.get(r, 0)) for r in ("no_baseline", "no_follow_up", "baseline_too_low")}
    return out

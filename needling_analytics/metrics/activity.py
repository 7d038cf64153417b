"""Clinic activity per calendar month: patients, episodes, sessions, discharges, outcomes, safety.

Definitions (see ``docs/metrics.md``): a session, episode start, discharge
or adverse event belongs to the calendar month of its date (the session's
date for an adverse event). Responders follow :class:`ResponderRule`
(default: 2 points and 30%, Farrar 2001, Pain 94:149; Childs 2005, Spine
30:1331) and are counted in the month the episode was discharged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..clinic import Clinic
from ..periods import parse_month
from ._common import check_confidence, clopper_pearson
from .attendance import status_flags
from .pain import DEFAULT_RULE, ResponderRule, episode_pain
from .safety import linked_events

ACTIVITY_COLUMNS = [
    "month", "active_patients", "new_patients", "new_episodes", "sessions_booked", "sessions_attended",
    "cancelled", "no_show", "attendance_rate", "discharges", "discharged_responder_rate", "responder_ci_lower",
    "responder_ci_upper", "discharged_assessable", "mean_pain_reduction", "adverse_events", "ae_rate_per_100",
    "discharged_responders", "upcoming", "unmarked",
]  # fmt: skip


def _per_month(values: pd.Series, months: pd.PeriodIndex) -> pd.Series:
    """Rows per month of ``values`` (a Period series), zero for months without any."""
    return values.value_counts().reindex(months, fill_value=0).astype("int64")


def monthly_activity(
    clinic: Clinic, month, *, months: int = 12, rule: ResponderRule = DEFAULT_RULE, confidence: float = 0.95
) -> pd.DataFrame:
    """Activity, outcomes and safety of the clinic for each calendar month up to ``month``.

    Parameters
    ----------
    clinic : Clinic
        The loaded clinic (episodes, sessions, adverse events when supplied).
    month : str or Period
        The last month of the table, ``"YYYY-MM"`` or a monthly Period.
    months : int
        How many earlier months to show (default 12: 13 rows, a year and
        the same month a year before).
    rule : ResponderRule
        The responder definition; recorded in ``attrs["responder_rule"]``.
    confidence : float
        Level of the Clopper-Pearson interval of the responder rate.

    Returns
    -------
    DataFrame
        One row per calendar month from ``month - months`` to
        ``month``, oldest first; a month with no activity has zero counts
        and missing (NaN) rates:

        - ``month`` (Period[M]),
        - ``active_patients``: patients with an attended session that month,
        - ``new_patients``: patients whose first episode started that month,
        - ``new_episodes``: episodes starting that month,
        - ``sessions_booked``: appointments dated that month, any status;
          ``sessions_attended``, ``cancelled``, ``no_show`` by status,
        - ``attendance_rate``: attended / (attended + cancelled + no_show)
          (fraction; upcoming and unmarked appointments are not in it),
        - ``discharges``: episodes whose end date falls in the month,
        - ``discharged_responder_rate``: responders / assessable among
          those episodes (fraction, see :func:`episode_pain`), with
          ``responder_ci_lower`` and ``responder_ci_upper``
          (Clopper-Pearson) and ``discharged_assessable`` (count),
        - ``mean_pain_reduction``: mean of baseline - latest pain among the
          discharged episodes that have both (NPRS points; higher is better),
        - ``adverse_events``: events after sessions dated that month,
        - ``ae_rate_per_100``: adverse events per 100 attended sessions,
        - ``discharged_responders``: responders among the discharged (count),
        - ``upcoming`` (status ``booked``: still to come) and ``unmarked``
          (past, never marked) appointments dated that month (counts; in
          ``sessions_booked``, never counted as attended or missed).

    Notes
    -----
    Counts are shown as they are: before sharing the table outside the
    clinic apply small-cell suppression (cells of 1-10 hidden, CMS rule),
    and beware that two overlapping monthly tables can be differenced.

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.clinic import Clinic
    >>> clinic = Clinic.from_frames(**generate_clinic(n_patients=50, seed=1))
    >>> len(monthly_activity(clinic, "2026-10", months=2))
    3
    """
    last = parse_month(month)
    if isinstance(months, bool) or not isinstance(months, int | np.integer) or months < 0:
        raise ValueError(f"`months` must be a whole number of months, 0 or more, got {months!r}")
    check_confidence(confidence)
    shown = pd.period_range(end=last, periods=int(months) + 1, freq="M", name="month")

    sessions = clinic.sessions
    session_month = sessions["session_date"].dt.to_period("M")
    counts = status_flags(sessions["status"])
    is_attended = counts["attended"].astype(bool)
    flags = pd.DataFrame(
        {
            "month": session_month,
            "sessions_booked": 1,
            "sessions_attended": counts["attended"],
            "cancelled": counts["cancelled"],
            "no_show": counts["no_show"],
            "upcoming": counts["upcoming"],
            "unmarked": counts["unmarked"],
        }
    )
    out = flags.groupby("month").sum().reindex(shown, fill_value=0).astype("int64")
    attended = pd.DataFrame({"month": session_month[is_attended], "patient_id": sessions["patient_id"][is_attended]})
    active = attended.groupby("month")["patient_id"].nunique()
    out.insert(0, "active_patients", active.reindex(shown, fill_value=0).astype("int64"))

    episodes = clinic.episodes
    first_start = episodes.groupby("patient_id", sort=False)["start_date"].min()
    out.insert(1, "new_patients", _per_month(first_start.dt.to_period("M"), shown))
    out.insert(2, "new_episodes", _per_month(episodes["start_date"].dt.to_period("M"), shown))
    with np.errstate(divide="ignore", invalid="ignore"):
        marked = out["sessions_attended"] + out["cancelled"] + out["no_show"]
        out["attendance_rate"] = out["sessions_attended"] / marked.where(marked > 0)

    end_month = episodes["end_date"].dt.to_period("M")
    out["discharges"] = _per_month(end_month, shown)
    pain = episode_pain(clinic, rule=rule)
    discharged = pd.DataFrame(
        {
            "month": pain["episode_id"].map(pd.Series(end_month.to_numpy(), index=episodes["episode_id"])),
            "assessable": pain["assessable"].astype("int64"),
            "responders": pain["responder"].fillna(False).astype("int64"),
            "reduction": pain["reduction"],
        }
    )
    outcome = discharged.groupby("month").agg(
        assessable=("assessable", "sum"), responders=("responders", "sum"), reduction=("reduction", "mean")
    )
    outcome = outcome.reindex(shown)
    out["discharged_assessable"] = outcome["assessable"].fillna(0).astype("int64")
    out["discharged_responders"] = outcome["responders"].fillna(0).astype("int64")
    assessable = out["discharged_assessable"].where(out["discharged_assessable"] > 0)
    out["discharged_responder_rate"] = out["discharged_responders"] / assessable
    lower, upper = clopper_pearson(out["discharged_responders"], out["discharged_assessable"], confidence=confidence)
    out["responder_ci_lower"], out["responder_ci_upper"] = lower, upper
    out["mean_pain_reduction"] = outcome["reduction"].astype("float64")

    events = linked_events(clinic)
    out["adverse_events"] = _per_month(events["session_date"].dt.to_period("M"), shown)
    out["ae_rate_per_100"] = (
        100.0 * out["adverse_events"] / out["sessions_attended"].where(out["sessions_attended"] > 0)
    )

    out = out.reset_index()
    floats = [
        "attendance_rate",
        "discharged_responder_rate",
        "responder_ci_lower",
        "responder_ci_upper",
        "mean_pain_reduction",
        "ae_rate_per_100",
    ]
    out = out[ACTIVITY_COLUMNS].astype({c: "float64" for c in floats})
    out.attrs["responder_rule"] = rule.to_dict()
    return out

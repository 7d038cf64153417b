"""The clinic report's funnel plot: practitioners whose point would give away a small count left out, and its limits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import metrics
from ..privacy.policies import funnel_hidden
from ..privacy.suppression import Disclosure, as_disclosure

__all__ = ["funnel_curve", "protect_funnel"]


def protect_funnel(funnel: pd.DataFrame, *, min_cell_size: int | Disclosure = 11) -> pd.DataFrame:
    """The funnel without the practitioners whose point would give away a small count.

    ``funnel`` is :func:`~needling_analytics.metrics.practitioner_funnel`
    (practitioners below its ``min_episodes`` are already left out). A
    practitioner is removed when their assessed episodes, responders or
    non-responders are 1 to ``min_cell_size - 1``, or to protect another one
    (:func:`~needling_analytics.privacy.policies.funnel_hidden`).
    The clinic's rate and the limits stay those of every compared
    practitioner.

    Returns
    -------
    DataFrame
        The rows of ``funnel`` kept, same columns; ``attrs`` as ``funnel``'s
        plus ``hidden_practitioners`` (how many were removed),
        ``threshold`` and, when ``funnel`` has its control limits,
        ``practitioner_counts``: :func:`~needling_analytics.metrics.funnel_counts`
        on the whole funnel (how many practitioners, shown or hidden, are
        outside each limit; hidden ones only as counts), which
        :func:`~needling_analytics.reporting.text.funnel_summary` reads.
    """
    policy = as_disclosure(min_cell_size)
    hidden = funnel_hidden(funnel, min_cell_size=policy) if len(funnel) else pd.Series(False, index=funnel.index)
    out = funnel.loc[~hidden.to_numpy()].reset_index(drop=True)
    out.attrs = {**funnel.attrs, "hidden_practitioners": int(hidden.sum()), "threshold": policy.threshold}
    if "indicator" in funnel and any(c.startswith("upper_") for c in funnel.columns):
        out.attrs["practitioner_counts"] = metrics.funnel_counts(funnel, hidden=hidden.to_numpy())
    return out


def funnel_curve(funnel: pd.DataFrame) -> pd.DataFrame:
    """The control limits to draw behind :func:`~needling_analytics.metrics.practitioner_funnel` output.

    :func:`~needling_analytics.metrics.funnel_limits` around the funnel's
    target, with its levels and dispersion, up to 10% beyond the largest
    practitioner; an empty frame when no practitioner is shown.
    """
    if funnel.empty or not np.isfinite(funnel.attrs.get("target", np.nan)):
        return pd.DataFrame(columns=["n"])
    n_max = int(np.ceil(funnel["n"].max() * 1.1)) + 1
    return metrics.funnel_limits(
        float(funnel.attrs["target"]),
        n_max,
        limits=funnel.attrs.get("limits", (0.95, 0.998)),
        dispersion=float(funnel.attrs.get("dispersion", 1.0)),
    )

"""Plot of the clinic's adverse-event rates beside published rates (Brady 2014, Boyce 2020)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from ..privacy.suppression import check_min_cell_size, is_small
from .theme import BENCHMARKS, GREY, LIGHT_BAND, MAIN, check_frame, get_axes, label_axes, legend_below, privacy_caption
from .theme import show_no_data as _no_data

#: Plain names of the benchmarked adverse-event rows (event_type, severity).
_EVENT_NAMES = {
    ("any", "mild"): "Any minor event",
    ("any", "major"): "Any major event",
    ("any", "any"): "Any event",
    ("pain_during", "mild"): "Pain during needling",
    ("pain_after", "mild"): "Pain after needling",
}


def _event_name(event_type: str, severity: str) -> str:
    name = _EVENT_NAMES.get((event_type, severity))
    if name is None:
        name = str(event_type).replace("_", " ").capitalize()
        if severity not in ("mild", "any"):
            name += f" ({severity})"
    return name


def plot_adverse_event_rates(
    comparison: pd.DataFrame, *, min_cell_size: int | None = None, ax: Axes | None = None
) -> Axes:
    """The clinic's adverse-event rates, with their exact intervals, beside published rates.

    The x axis is logarithmic (1, 10, 100 equally spaced) so that rare
    major events and common bruising are both readable; zero sits at the
    left edge. Benchmarks: Brady 2014 (J Man Manip Ther 22:134) and Boyce
    2020 (Int J Sports Phys Ther 15:103).

    Parameters
    ----------
    comparison : DataFrame
        The output of :func:`~needling_analytics.metrics.compare_to_benchmarks`
        (``events`` too with ``min_cell_size``). An event type whose
        ``comparison`` is ``"not_recorded"`` gets no clinic point (it would
        read as "none here") but the words "not recorded in this clinic's
        data".
    min_cell_size : int, optional
        Smallest count that may be shown: the clinic's rate (and interval)
        of an event type with 1 to ``min_cell_size - 1`` events is then not
        drawn; its row says "fewer than 11 events: rate hidden". Published
        rates are always drawn.
    ax : Axes, optional
        Where to draw; a new A4-wide figure when None.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.load import Clinic
    >>> from needling_analytics.metrics import adverse_event_rates, compare_to_benchmarks
    >>> clinic = Clinic.from_frames(**generate_clinic(n_patients=60, seed=1))
    >>> ax = plot_adverse_event_rates(compare_to_benchmarks(adverse_event_rates(clinic)))
    """
    labels = {
        "title": "Adverse events compared with published rates",
        "xlabel": "Events per 100 treatments (each step on this scale is ten times the one before)",
        "ylabel": "Type of event",
    }
    columns = ["event_type", "severity", "study", "benchmark_rate_per_100", "rate_per_100", "ci_lower", "ci_upper"]
    has_rows = check_frame(comparison, "comparison", columns)
    data = comparison.dropna(subset=["rate_per_100"]) if has_rows else None
    ax = get_axes(ax, height=max(3.2, 0.5 * data[["event_type", "severity"]].drop_duplicates().shape[0] + 1.4)
                  if has_rows else None)  # fmt: skip
    if not has_rows or data.empty:
        return _no_data(ax, **labels)

    keys = data[["event_type", "severity"]].astype(str).drop_duplicates().reset_index(drop=True)
    first = data.drop_duplicates(["event_type", "severity"]).astype({"event_type": str, "severity": str})
    clinic = keys.merge(first, on=["event_type", "severity"], how="left")
    position = pd.Series(np.arange(len(keys)), index=pd.MultiIndex.from_frame(keys))
    studies = list(dict.fromkeys(data["study"].dropna().astype(str)))
    step = 0.7 / (len(studies) + 1)  # clinic on top of its row, then one sub-row per study
    y = np.arange(len(keys), dtype=float)
    hidden = np.zeros(len(keys), dtype=bool)
    if min_cell_size is not None:
        check_frame(comparison, "comparison", ["events"])
        hidden = is_small(clinic["events"].to_numpy(dtype=float), check_min_cell_size(min_cell_size))
    # an event type the clinic never records has no rate here: drawing it at 0 would read "none happened"
    unrecorded = np.zeros(len(keys), dtype=bool)
    if "comparison" in clinic:
        unrecorded = clinic["comparison"].eq("not_recorded").to_numpy(dtype=bool)
    hidden = hidden & ~unrecorded
    rate = np.where(hidden | unrecorded, np.nan, clinic["rate_per_100"].to_numpy(dtype=float))
    # a hidden rate's interval is left out too, so that it cannot move the axis limits
    low = np.where(hidden | unrecorded, np.nan, np.fmin(clinic["ci_lower"].to_numpy(dtype=float), rate))
    high = np.where(hidden | unrecorded, np.nan, np.fmax(clinic["ci_upper"].to_numpy(dtype=float), rate))
    y_clinic = y - 0.35 + step / 2
    ax.errorbar(rate, y_clinic, xerr=np.nan_to_num([rate - low, high - rate]), fmt="o", color=MAIN, ms=7,
                capsize=4, lw=2, label="this clinic (95% interval)", zorder=3, clip_on=False)  # fmt: skip
    text_x = np.where(np.isfinite(high), high, rate)
    for y_text in y_clinic[hidden]:
        ax.annotate(f"fewer than {min_cell_size} events: rate hidden", (0, y_text), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8, color=GREY, gid="hidden")  # fmt: skip
    for y_text in y_clinic[unrecorded]:
        ax.annotate("not recorded in this clinic's data", (0, y_text), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8, color=GREY, gid="not_recorded")  # fmt: skip
    drawn = ~hidden & ~unrecorded
    for x_text, y_text, value in zip(text_x[drawn], y_clinic[drawn], rate[drawn], strict=True):  # a handful
        ax.annotate(f"{value:.1f}" if value >= 1 else f"{value:.2g}", (x_text, y_text), xytext=(6, 0), textcoords="offset points", va="center",
                    fontsize=8, color=MAIN)  # fmt: skip
    for k, study in enumerate(studies):
        rows = data[data["study"].astype(str) == study]
        where = pd.MultiIndex.from_arrays([rows["event_type"].astype(str), rows["severity"].astype(str)])
        rows_y = position.reindex(where).to_numpy(dtype=float) - 0.35 + step * (k + 1.5)
        ax.scatter(rows["benchmark_rate_per_100"], rows_y, marker="D^sv"[k % 4], s=34, clip_on=False,
                   color=BENCHMARKS[k % len(BENCHMARKS)], label=f"{study} (published)", zorder=2)  # fmt: skip
    ax.set_xscale("symlog", linthresh=0.1, linscale=0.4)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    top = np.nanmax(np.r_[high, data["benchmark_rate_per_100"].to_numpy(dtype=float), 1.0])
    ax.set_xlim(0, 10 ** np.ceil(np.log10(top)))
    ax.set_yticks(y, [_event_name(t, s) for t, s in zip(keys["event_type"], keys["severity"], strict=True)])
    ax.set_ylim(len(y) - 0.5, -0.5)
    ax.grid(False, axis="y")
    for boundary in y[1:] - 0.5:
        ax.axhline(boundary, color=LIGHT_BAND, lw=0.8, zorder=0)
    label_axes(ax, **labels)
    legend_below(ax, ncols=3, order=["this clinic"])
    if hidden.any():
        privacy_caption(
            ax, f"To protect patients' privacy, the clinic's rate is not drawn where it rests on 1 to "
            f"{min_cell_size - 1} events.",
        )  # fmt: skip
    return ax

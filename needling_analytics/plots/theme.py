"""The house look of every plot: palette, figure size, fonts, and shared drawing helpers.

Colours come from seaborn's "colorblind" palette (Okabe-Ito-like hues that
stay distinct under the common colour-vision deficiencies), written out
here once so that a report does not pay for importing seaborn (about 2.5 s,
as it pulls in scipy.stats and statsmodels); the plot modules use the named roles below, never hex codes of
their own. :func:`set_theme` applies the style to matplotlib globally; call
it once at the top of a report notebook. The plot functions do not call it,
so they never change the caller's settings.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import ScaledTranslation

#: seaborn's "colorblind" palette, as hex strings (a test checks it against seaborn).
PALETTE: tuple[str, ...] = (
    "#0173b2",
    "#de8f05",
    "#029e73",
    "#d55e00",
    "#cc78bc",
    "#ca9161",
    "#fbafe4",
    "#949494",
    "#ece133",
    "#56b4e9",
)

#: Named roles, so that one meaning keeps one colour across the report.
MAIN = PALETTE[0]  # blue: the clinic's or the patient's main series
SECOND = PALETTE[1]  # orange: a second series (pain after a session, active patients)
GOOD = PALETTE[2]  # green: a target or clinically important improvement
GREY = PALETTE[7]  # grey: references, guides and context
BENCHMARKS = (PALETTE[4], PALETTE[5])  # pink, brown: published comparison figures
LIGHT_BAND = "#d9d9d9"  # shaded measurement-error band

#: A4 page width less margins, by a third of its height (inches).
FIGSIZE = (7.5, 3.2)

#: The text drawn on an axes when there is nothing to plot.
NO_DATA = "No data to show"

#: seaborn's "whitegrid" style in the "notebook" context, as plain matplotlib settings.
_WHITEGRID = {
    "axes.facecolor": "white",
    "axes.edgecolor": ".8",
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.labelcolor": ".15",
    "axes.linewidth": 1.25,
    "grid.color": ".8",
    "grid.linewidth": 1.0,
    "text.color": ".15",
    "xtick.color": ".15",
    "ytick.color": ".15",
    "xtick.bottom": False,
    "ytick.left": False,
    "xtick.direction": "out",
    "ytick.direction": "out",
    "lines.solid_capstyle": "round",
    "lines.linewidth": 1.5,
    "lines.markersize": 6.0,
    "patch.edgecolor": "w",
    "patch.force_edgecolor": True,
    "font.family": ["sans-serif"],
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "font.size": 12.0,
}

_RC = {
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
}


def set_theme() -> None:
    """Apply the house style to matplotlib: white grid, colour-blind-safe palette, readable fonts.

    Affects every figure made afterwards (like :func:`seaborn.set_theme`
    with ``style="whitegrid"``), so call it once at the start of a notebook.

    Examples
    --------
    >>> from needling_analytics.plots import set_theme
    >>> set_theme()
    """
    plt.rcParams.update(
        {**_WHITEGRID, **_RC, "axes.prop_cycle": cycler(color=list(PALETTE)), "figure.figsize": FIGSIZE}
    )


def get_axes(ax: Axes | None, *, height: float | None = None) -> Axes:
    """The caller's axes, or new axes on an A4-wide figure (``height`` inches, default 3.2)."""
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=(FIGSIZE[0], height or FIGSIZE[1]), layout="constrained")
    return ax


def label_axes(ax: Axes, *, title: str, xlabel: str, ylabel: str) -> Axes:
    """Set the title and both axis labels."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def show_no_data(ax: Axes, *, title: str, xlabel: str, ylabel: str) -> Axes:
    """Label the axes and write :data:`NO_DATA` in its centre, without ticks."""
    label_axes(ax, title=title, xlabel=xlabel, ylabel=ylabel)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.5, NO_DATA, transform=ax.transAxes, ha="center", va="center", fontsize=11, color=GREY)
    return ax


def check_frame(data, name: str, columns: list[str]) -> bool:
    """Check that ``data`` is a DataFrame with ``columns``; return whether it has rows.

    A frame without rows counts as empty whatever its columns, so that the
    plots draw "No data to show" rather than raise.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"`{name}` must be a DataFrame, got {type(data).__name__!r}")
    if data.empty:
        return False
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"`{name}` lacks column(s) {missing}; its columns are {list(data.columns)!r}")
    return True


def add_legend(ax: Axes, *, order: list[str] | None = None, **kwargs) -> None:
    """A legend, only when the axes has more than one labelled artist.

    ``order`` lists labels (or their beginnings) to put first, in that order.
    """
    handles, labels = ax.get_legend_handles_labels()
    if order:
        rank = [next((i for i, o in enumerate(order) if label.startswith(o)), len(order)) for label in labels]
        pairs = sorted(zip(rank, range(len(labels)), handles, labels, strict=True))
        handles, labels = [h for *_, h, _ in pairs], [lab for *_, lab in pairs]
    if len(labels) > 1:
        ax.legend(handles, labels, **kwargs)


def _legend_columns(ax: Axes, labels: list[str], ncols: int) -> int:
    """At most ``ncols`` columns, fewer when the widest entries would not fit the axes' share of the figure."""
    spec = ax.get_subplotspec()
    share = (
        (spec.colspan.stop - spec.colspan.start) / spec.get_gridspec().ncols
        if spec is not None
        else ax.get_position().width
    )
    room = share * ax.figure.get_figwidth()
    size = plt.rcParams["legend.fontsize"]
    points = size if isinstance(size, int | float) else 10.0
    widths = sorted((0.5 + 0.55 * points / 72 * len(label) for label in labels), reverse=True)
    fits = [n for n in range(1, ncols + 1) if sum(widths[:n]) <= room]
    return max(fits, default=1)


def legend_below(ax: Axes, *, ncols: int = 4, order: list[str] | None = None, title: str | None = None) -> None:
    """A legend centred under the x axis label (call after labelling), when there is more than one series.

    Below the axes it never hides data; its distance from the axes is the
    measured depth of the tick labels and axis label. Columns are reduced
    when the axes is narrow (e.g. one of two side by side).
    """
    figure = ax.figure
    try:
        renderer = figure.canvas.get_renderer()
        depth = (ax.get_window_extent(renderer).y0 - ax.xaxis.get_tightbbox(renderer).y0) * 72 / figure.dpi
    except (AttributeError, TypeError):  # a canvas without a renderer: a typical one-line label
        depth = 36.0
    below = ax.transAxes + ScaledTranslation(0, -(depth + 4) / 72, figure.dpi_scale_trans)
    ncols = _legend_columns(ax, ax.get_legend_handles_labels()[1], ncols)
    add_legend(
        ax, order=order, loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below, ncols=ncols, title=title,
        title_fontsize=9,
    )  # fmt: skip


def date_axis(ax: Axes) -> None:
    """Date ticks a reader cannot misread: "Nov 2025", or "05 Jan" (Mondays) over two months or less.

    Call after the x limits are final.
    """
    low, high = ax.get_xlim()
    if high - low <= 62:  # matplotlib date numbers are days
        locator = mdates.WeekdayLocator(byweekday=mdates.MO, interval=1 if high - low <= 35 else 2)
    else:
        locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    formatter = mdates.ConciseDateFormatter(
        locator,
        formats=["%Y", "%b %Y", "%d %b", "%H:%M", "%H:%M", "%S"],
        zero_formats=["", "%b %Y", "%d %b", "%H:%M", "%H:%M", "%S"],
        offset_formats=["", "", "%Y", "%d %b %Y", "%d %b %Y", "%d %b %Y"],
    )
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)


def privacy_caption(ax: Axes, text: str) -> None:
    """A grey line under the chart and its legend saying what was left out, and that it protects privacy."""
    figure = ax.figure
    try:
        renderer = figure.canvas.get_renderer()
        depth = (ax.get_window_extent(renderer).y0 - ax.get_tightbbox(renderer).y0) * 72 / figure.dpi
    except (AttributeError, TypeError):  # a canvas without a renderer: tick labels and an axis label
        depth = 36.0
    below = ax.transAxes + ScaledTranslation(0, -(depth + 6) / 72, figure.dpi_scale_trans)
    ax.text(0, 0, text, transform=below, ha="left", va="top", fontsize=8, color=GREY, gid="privacy-note", wrap=True)


def too_few(ax: Axes, min_cell_size: int, what: str, *, message: str | None = None, **labels) -> Axes:
    """Label the axes and say, in the centre, that the chart is not drawn because it rests on too few.

    ``message`` replaces the default sentence ("Fewer than 11 {what}: ...").
    """
    label_axes(ax, **labels)
    ax.set_xticks([])
    ax.set_yticks([])
    text = message or f"Fewer than {min_cell_size} {what}: not drawn, to protect patients' privacy."
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=11, color=GREY)
    return ax


def percent_axis(ax: Axes, which: str = "y") -> None:
    """Tick labels of the ``which`` axis ("x" or "y") as percentages: ``"30%"``."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))


def month_labels(months: pd.Series) -> list[str]:
    """Months (periods, or text such as ``"2026-10"``) as tick labels: ``"Oct 2026"``."""
    if not isinstance(months.dtype, pd.PeriodDtype):
        months = pd.to_datetime(months.astype(str)).dt.to_period("M")
    return months.dt.strftime("%b %Y").tolist()

"""Plots: every function returns labelled axes, draws what it promises, honours ``ax=`` and survives empty input.

Expected positions (targets, bands, bar heights) are worked out by hand in
each test from small hand-made frames; the demo clinic checks the contract
on realistic metric output.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402

from needling_analytics import metrics, plots  # noqa: E402
from needling_analytics.metrics import ResponderRule  # noqa: E402
from needling_analytics.plots.theme import NO_DATA  # noqa: E402


@pytest.fixture(scope="module")
def demo(demo_clinic):
    """Metric outputs of a generated clinic of 150 patients, computed once."""
    clinic = demo_clinic
    pain = metrics.session_pain(clinic)
    episodes = metrics.episode_pain(clinic)
    rom = metrics.rom_change(clinic)
    trend = metrics.journal_trend(clinic)
    funnel = metrics.practitioner_funnel(clinic, min_episodes=5)
    fixed = pd.DataFrame(  # a hand-made fixed-time table: the plot needs no fitted model
        {"practitioner_id": ["A"] * 12 + ["B"] * 30, "patient_id": [f"p{i}" for i in range(42)],
         "difference": np.tile([0.8, -1.1, 0.3], 14)}
    )  # fmt: skip
    difference = metrics.difference_funnel(fixed)
    analysis = metrics.analyze_frequency(clinic)
    recovery = metrics.fit_expected_recovery(clinic, validate=False)
    first_episode = pain["episode_id"].iloc[0]
    patient = pain.loc[pain["episode_id"] == first_episode, "patient_id"].iloc[0]
    rom_patient = rom["patient_id"].value_counts().index[0]
    journal_patient = trend["patient_id"].value_counts().index[0]
    prom_patient = clinic.proms["patient_id"].value_counts().index[0]
    return {
        "pain": pain[pain["episode_id"] == first_episode],
        "patient": patient,
        "rom": rom[rom["patient_id"] == rom_patient],
        "proms": clinic.proms[clinic.proms["patient_id"] == prom_patient],
        "trend": trend[trend["patient_id"] == journal_patient],
        "session_dates": pain.loc[pain["patient_id"] == journal_patient, "session_date"],
        "curve": metrics.responder_curve(episodes),
        "km": metrics.kaplan_meier(metrics.time_to_response(clinic)),
        "km_groups": analysis.time_to_response,
        "funnel": funnel,
        "limits": metrics.funnel_limits(funnel.attrs["target"], int(funnel["n"].max()) + 10),
        "monthly": metrics.monthly_activity(clinic, "2026-10"),
        "exposures": analysis.exposures,
        "comparison": metrics.compare_to_benchmarks(metrics.adverse_event_rates(clinic)),
        "episodes": episodes,
        "control": metrics.monthly_control_chart(metrics.monthly_activity(clinic, "2026-10"), "adverse_events"),
        "calibration": metrics.calibration_table(recovery.one_step(clinic)),
        "difference_funnel": difference,
        "difference_limits": metrics.difference_funnel_limits(difference.attrs["target"], difference.attrs["sd"], 60),
    }


#: (plot function, how to call it on the demo outputs with a given first argument transform).
CALLS = {
    "plot_pain_over_sessions": lambda d, f, **kw: plots.plot_pain_over_sessions(f(d["pain"]), **kw),
    "plot_rom_progress": lambda d, f, **kw: plots.plot_rom_progress(f(d["rom"]), **kw),
    "plot_prom_scores": lambda d, f, **kw: plots.plot_prom_scores(f(d["proms"]), **kw),
    "plot_journal": lambda d, f, **kw: plots.plot_journal(f(d["trend"]), session_dates=d["session_dates"], **kw),
    "plot_responder_curve": lambda d, f, **kw: plots.plot_responder_curve(f(d["curve"]), **kw),
    "plot_time_to_response": lambda d, f, **kw: plots.plot_time_to_response(f(d["km"]), **kw),
    "plot_funnel": lambda d, f, **kw: plots.plot_funnel(f(d["funnel"]), d["limits"], **kw),
    "plot_monthly_activity": lambda d, f, **kw: plots.plot_monthly_activity(f(d["monthly"]), **kw),
    "plot_frequency_association": lambda d, f, **kw: plots.plot_frequency_association(f(d["exposures"]), **kw),
    "plot_adverse_event_rates": lambda d, f, **kw: plots.plot_adverse_event_rates(f(d["comparison"]), **kw),
    "plot_pain_change_distribution": lambda d, f, **kw: plots.plot_pain_change_distribution(f(d["episodes"]), **kw),
    "plot_control_chart": lambda d, f, **kw: plots.plot_control_chart(f(d["control"]), **kw),
    "plot_calibration": lambda d, f, **kw: plots.plot_calibration(f(d["calibration"]), **kw),
    "plot_difference_funnel": lambda d, f, **kw: plots.plot_difference_funnel(
        f(d["difference_funnel"]), d["difference_limits"], **kw
    ),
}


def same(frame):
    return frame


def no_rows(frame):
    return frame.iloc[:0]


def texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def legend_labels(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend is not None else []


def line_labelled(ax: Axes, start: str):
    found = [line for line in ax.get_lines() if line.get_label().startswith(start)]
    assert len(found) == 1, [line.get_label() for line in ax.get_lines()]
    return found[0]


def assert_labelled(ax: Axes) -> None:
    assert ax.get_title().strip()
    assert ax.get_xlabel().strip()
    assert ax.get_ylabel().strip()


# --- the contract, on the demo clinic ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CALLS))
def test_draws_labelled_axes_on_a4_wide_figure(demo, name):
    ax = CALLS[name](demo, same)
    assert isinstance(ax, Axes)
    assert_labelled(ax)
    assert NO_DATA not in texts(ax)
    assert ax.get_lines() or ax.collections or ax.patches
    assert ax.figure.get_figwidth() == pytest.approx(7.5)
    assert ax.figure.get_figheight() >= 3.2


@pytest.mark.parametrize("name", sorted(CALLS))
def test_draws_on_the_given_axes(demo, name):
    fig, (left, right) = plt.subplots(1, 2)
    ax = CALLS[name](demo, same, ax=right)
    assert ax is right
    assert plt.get_fignums() == [fig.number]  # no new figure
    assert right.has_data() and not left.has_data()


@pytest.mark.parametrize("name", sorted(CALLS))
def test_empty_input_says_no_data(demo, name):
    ax = CALLS[name](demo, no_rows)
    assert NO_DATA in texts(ax)
    assert_labelled(ax)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_frame_without_columns_says_no_data(demo, name):
    ax = CALLS[name](demo, lambda _: pd.DataFrame())
    assert NO_DATA in texts(ax)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_missing_column_is_named(demo, name):
    with pytest.raises(ValueError, match=r"lacks column\(s\)"):
        CALLS[name](demo, lambda frame: pd.DataFrame({"unrelated": [1]}))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_not_a_frame_is_refused(demo, name):
    with pytest.raises(ValueError, match=r"must be a DataFrame, got 'list'"):
        CALLS[name](demo, lambda frame: [1, 2])


def test_package_exports_and_theme():
    expected = {name for name in CALLS} | {"set_theme", "PALETTE"}
    assert expected <= set(plots.__all__)
    assert all(callable(getattr(plots, name)) for name in CALLS)
    assert list(plots.PALETTE) == sns.color_palette("colorblind").as_hex()
    with matplotlib.rc_context():
        plots.set_theme()
        assert plt.rcParams["axes.titleweight"] == "bold"
        assert tuple(plt.rcParams["figure.figsize"]) == (7.5, 3.2)
        colors = [matplotlib.colors.to_hex(c["color"]) for c in plt.rcParams["axes.prop_cycle"]]
        assert colors == list(plots.PALETTE)


# --- patient plots ---------------------------------------------------------------------------------------


def episode(pre, post=None, dates=None, episode_id="E1"):
    n = len(pre)
    return pd.DataFrame(
        {
            "episode_id": episode_id,
            "session_date": pd.to_datetime(dates or pd.date_range("2026-01-05", periods=n, freq="7D")),
            "session_number": np.arange(1, n + 1),
            "pain_pre": pd.array(pre, dtype="float64"),
            "pain_post": pd.array(post if post is not None else [np.nan] * n, dtype="float64"),
        }
    )


def test_target_line_at_hand_computed_level():
    # Baseline 8: 8 - max(2 points, 30% of 8 = 2.4) = 5.6.
    ax = plots.plot_pain_over_sessions(episode([8, 7, 5], [6, 6, 4]))
    target = line_labelled(ax, "clinically important improvement")
    assert target.get_ydata() == pytest.approx([5.6, 5.6])
    assert target.get_linestyle() == "--"
    assert ax.get_ylim() == (0.0, 10.0)
    assert "clinically important improvement (5.6 or lower)" in legend_labels(ax)


@pytest.mark.parametrize(
    ("rule", "pre", "expected"),
    [
        (ResponderRule(require="either"), [8, 6], 8 - 2.0),  # the smaller drop: min(2, 2.4)
        (ResponderRule(), [5, 4], 5 - 2.0),  # max(2, 30% of 5 = 1.5)
        (ResponderRule(abs_threshold=1, pct_threshold=50), [6, 2], 6 - 3.0),  # max(1, 3)
        (ResponderRule(), [np.nan, 9, 7], 9 - 2.7),  # first *recorded* pain: max(2, 2.7)
    ],
)
def test_target_follows_the_rule(rule, pre, expected):
    ax = plots.plot_pain_over_sessions(episode(pre), rule=rule)
    assert line_labelled(ax, "clinically important").get_ydata()[0] == pytest.approx(expected)
    assert plots.target_pain(float(pd.Series(pre).dropna().iloc[0]), rule) == pytest.approx(expected)


def test_no_target_when_rule_unreachable():
    ax = plots.plot_pain_over_sessions(episode([1, 1]))  # 1 point cannot drop by 2
    assert not [line for line in ax.get_lines() if line.get_label().startswith("clinically")]
    assert any("too low" in t for t in texts(ax))
    assert np.isnan(plots.target_pain(1.0))


def test_before_filled_after_hollow_in_date_order():
    data = episode([6, 5, 4], [5, 3, 3], dates=["2026-02-01", "2026-01-01", "2026-01-15"])
    ax = plots.plot_pain_over_sessions(data)
    before, after = line_labelled(ax, "before"), line_labelled(ax, "after")
    assert before.get_ydata().tolist() == [5, 4, 6]  # sorted by date
    assert after.get_ydata().tolist() == [3, 3, 5]
    assert before.get_markerfacecolor() == before.get_color()
    assert after.get_markerfacecolor() == "white"


def test_pain_of_several_episodes_is_refused():
    two = pd.concat([episode([5, 4]), episode([7, 6], episode_id="E2")])
    with pytest.raises(ValueError, match=r"`pain` must hold one episode, got 2"):
        plots.plot_pain_over_sessions(two)


def test_rule_must_be_a_responder_rule():
    with pytest.raises(ValueError, match=r"`rule` must be a ResponderRule or None, got 'both'"):
        plots.plot_pain_over_sessions(episode([5, 4]), rule="both")


def rom_rows():
    """Two series of one patient: cervical rotation (normal 80) and knee extension (no normal range)."""
    return pd.DataFrame(
        {
            "episode_id": ["E1", "E1"],
            "patient_id": ["P1", "P1"],
            "joint": ["cervical_spine", "knee"],
            "movement": ["rotation", "extension"],
            "side": ["left", "right"],
            "mode": ["active", "active"],
            "baseline_date": pd.to_datetime(["2026-01-05", "2026-01-05"]),
            "baseline_degrees": [40.0, -10.0],
            "latest_degrees": [60.0, -5.0],
            "normal_degrees": [80.0, np.nan],
            "baseline_pct_normal": [50.0, np.nan],
            "latest_pct_normal": [75.0, np.nan],
            "mdc_degrees": [9.6, 3.5],
        }
    )


def test_rom_band_is_mdc_around_baseline_in_percent_of_normal():
    ax = plots.plot_rom_progress(rom_rows())
    band = next(c for c in ax.containers if c.get_label().startswith("measurement error"))
    (bar,) = band.patches
    # 9.6 degrees of a normal 80 = 12%: from 50 - 12 = 38 to 50 + 12 = 62.
    assert bar.get_x() == pytest.approx(38.0)
    assert bar.get_width() == pytest.approx(24.0)
    first, latest = (c for c in ax.collections if isinstance(c, PathCollection))
    assert first.get_offsets()[:, 0].tolist() == pytest.approx([50.0])
    assert latest.get_offsets()[:, 0].tolist() == pytest.approx([75.0])
    normal = line_labelled(ax, "normal range")
    assert normal.get_xdata() == pytest.approx([100, 100])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Cervical spine rotation left"]
    assert "Not shown" in ax.get_xlabel() and "Knee extension right" in ax.get_xlabel()


def test_rom_repeated_movements_are_told_apart():
    second = (
        rom_rows().iloc[[0]].assign(episode_id="E2", baseline_date=pd.Timestamp("2026-05-04"), latest_pct_normal=np.nan)
    )
    ax = plots.plot_rom_progress(pd.concat([rom_rows().iloc[[0]], second]))
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Cervical spine rotation left\ncare from Jan 2026",
        "Cervical spine rotation left\ncare from May 2026, no follow-up yet",
    ]


def test_rom_of_several_patients_is_refused():
    with pytest.raises(ValueError, match=r"`rom` must hold one patient"):
        plots.plot_rom_progress(rom_rows().assign(patient_id=["P1", "P2"]))


def proms(instruments, scores):
    n = len(scores)
    return pd.DataFrame(
        {
            "patient_id": "P1",
            "completed_on": pd.date_range("2026-01-05", periods=n, freq="14D"),
            "instrument": instruments,
            "score": scores,
        }
    )


def test_prom_axis_says_which_way_is_better():
    ndi = plots.plot_prom_scores(proms(["NDI"] * 3, [30.0, 22.0, 14.0]))
    assert "lower is better" in ndi.get_ylabel() and "0-50" in ndi.get_ylabel()
    assert ndi.get_ylim() == (0.0, 50.0)
    psfs = plots.plot_prom_scores(proms(["PSFS"] * 2, [3.0, 6.0]))
    assert "higher is better" in psfs.get_ylabel()


def test_prom_one_line_per_instrument_with_legend():
    ax = plots.plot_prom_scores(proms(["NDI", "PSFS", "NDI", "PSFS"], [30.0, 3.0, 20.0, 6.0]))
    assert line_labelled(ax, "NDI").get_ydata().tolist() == [30.0, 20.0]
    assert line_labelled(ax, "PSFS").get_ydata().tolist() == [3.0, 6.0]
    assert legend_labels(ax) == ["NDI (lower is better)", "PSFS (higher is better)"]
    assert "lower is better: NDI" in ax.get_ylabel() and "higher is better: PSFS" in ax.get_ylabel()


def journal(dates, pain, mean):
    return pd.DataFrame(
        {"patient_id": "P1", "entry_date": pd.to_datetime(dates), "pain": pain, "pain_rolling_mean": mean}
    )


def test_journal_points_average_and_sessions():
    dates = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-20", "2026-01-21"]
    data = journal(dates, [5.0, 6.0, 4.0, 3.0, 2.0], [np.nan, np.nan, 5.0, 3.0, 2.5])
    ax = plots.plot_journal(data, session_dates=pd.to_datetime(["2026-01-02", "2026-01-20"]))
    points = next(c for c in ax.collections if c.get_label() == "daily score")
    assert points.get_offsets()[:, 1].tolist() == [5.0, 6.0, 4.0, 3.0, 2.0]
    average = line_labelled(ax, "7-day average")
    # The 17-day diary gap (longer than the 7-day window) breaks the line with a NaN.
    assert np.isnan(np.asarray(average.get_ydata(), dtype=float)).sum() == 3
    sessions = next(c for c in ax.collections if c.get_label() == "needling session")
    assert isinstance(sessions, LineCollection) and len(sessions.get_segments()) == 2
    assert "needling session" in legend_labels(ax)


def test_journal_without_sessions_draws_no_session_lines():
    ax = plots.plot_journal(journal(["2026-01-01", "2026-01-02"], [5.0, 4.0], [np.nan, np.nan]))
    assert not [c for c in ax.collections if c.get_label() == "needling session"]


# --- clinic plots ---------------------------------------------------------------------------------------


def test_responder_curve_in_percent_with_guides():
    curve = pd.DataFrame(
        {
            "threshold_pct": [0.0, 30.0, 50.0, 100.0],
            "episodes": 4,
            "improved": [4, 3, 1, 0],
            "share": [1, 0.75, 0.25, 0],
        }
    )
    ax = plots.plot_responder_curve(curve)
    assert ax.get_lines()[0].get_ydata().tolist() == [100.0, 75.0, 25.0, 0.0]
    guides = {line.get_gid(): line.get_xdata()[0] for line in ax.get_lines() if line.get_gid()}
    assert guides == {"moderate": 30.0, "substantial": 50.0}
    assert {"moderate", "substantial", "75%", "25%"} <= set(texts(ax))
    assert ax.get_xlabel() == "Improvement in pain of at least (%)"
    assert ax.get_ylabel() == "Share of patients (%)"


def km_frame(times, at_risk, share, band=None):
    frame = pd.DataFrame(
        {
            "time": times,
            "at_risk": at_risk,
            "events": 0,
            "survival": 1 - np.asarray(share),
            "std_error": 0.0,
            "share_responded": share,
            "ci_lower": np.asarray(share) * 0.8,
            "ci_upper": np.minimum(np.asarray(share) * 1.2, 1),
        }
    )
    if band is not None:
        frame.insert(0, "band", band)
    return frame


def test_time_to_response_stops_when_few_remain():
    km = km_frame([0, 5, 10, 20], [30, 25, 12, 4], [0.0, 0.2, 0.5, 1.0])
    ax = plots.plot_time_to_response(km)
    step = line_labelled(ax, "share of episodes")
    assert step.get_xdata().tolist() == [0, 5, 10]  # at_risk 4 < 10: the leap to 100% is not drawn
    assert step.get_ydata().tolist() == pytest.approx([0.0, 20.0, 50.0])
    assert step.get_drawstyle() == "steps-post"
    assert "shaded: 95% confidence band" in legend_labels(ax)
    whole = plots.plot_time_to_response(km, min_at_risk=1)
    assert line_labelled(whole, "share of episodes").get_xdata().tolist() == [0, 5, 10, 20]
    assert ax.get_xlabel() == "Days since first visit"


def test_time_to_response_one_curve_per_group():
    km = pd.concat(
        [
            km_frame([0, 5, 10], [40, 30, 20], [0.0, 0.3, 0.6], band="b"),
            km_frame([0, 7], [5, 3], [0.0, 0.5], band="a"),
        ]
    )
    ax = plots.plot_time_to_response(km, by="band")
    assert line_labelled(ax, "b").get_ydata().tolist() == pytest.approx([0.0, 30.0, 60.0])
    assert "a: too few episodes to show" in legend_labels(ax)
    assert ax.get_legend().get_title().get_text() == "Band"


def test_time_to_response_needs_by_for_grouped_rows():
    km = km_frame([0, 5], [20, 20], [0.0, 0.3], band="b")
    with pytest.raises(ValueError, match=r"pass by='band'"):
        plots.plot_time_to_response(km)
    with pytest.raises(ValueError, match=r"`min_at_risk` must be a whole number of episodes, 1 or more, got 0"):
        plots.plot_time_to_response(km, by="band", min_at_risk=0)


def test_funnel_points_labels_target_and_limits():
    funnel = pd.DataFrame(
        {"practitioner_id": ["PR2", "PR1"], "n": [20, 40], "responders": [10, 30], "indicator": [0.5, 0.75],
         "target": 2 / 3}
    )  # fmt: skip
    limits = metrics.funnel_limits(2 / 3, 60)
    ax = plots.plot_funnel(funnel, limits)
    points = next(c for c in ax.collections if c.get_label() == "practitioner")
    assert points.get_offsets().tolist() == [[20.0, 50.0], [40.0, 75.0]]  # in the frame's order, no ranking
    assert {"PR1", "PR2"} <= set(texts(ax))
    assert line_labelled(ax, "clinic rate").get_ydata()[0] == pytest.approx(100 * 2 / 3)
    upper95 = line_labelled(ax, "95% limits (alert)")
    assert upper95.get_ydata()[19] == pytest.approx(100 * limits.loc[19, "upper_95"])  # n = 20
    line_labelled(ax, "99.8% limits (alarm)")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Assessed episodes", "Responder rate (%)")


def test_monthly_bars_line_and_month_names():
    monthly = pd.DataFrame(
        {
            "month": pd.period_range("2026-09", periods=3, freq="M"),
            "active_patients": [10, 12, 0],
            "sessions_attended": [30, 41, 0],
        }
    )
    ax = plots.plot_monthly_activity(monthly)
    assert [p.get_height() for p in ax.containers[0].patches] == [30, 41, 0]
    assert line_labelled(ax, "patients seen").get_ydata().tolist() == [10, 12, 0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Sep 2026", "Oct 2026", "Nov 2026"]
    assert legend_labels(ax)[0] == "sessions attended"


def test_frequency_association_points_and_trend():
    rng = np.random.default_rng(1)
    x = np.repeat([0.25, 0.5, 1.0, 1.5, 2.0], 6)
    exposures = pd.DataFrame({"early_frequency": x, "reduction": 1.0 + x + rng.normal(0, 0.1, len(x))})
    exposures.loc[0, "reduction"] = np.nan  # left out
    ax = plots.plot_frequency_association(exposures)
    assert "association" in ax.get_title()
    points = next(c for c in ax.collections if c.get_label() == "one episode")
    offsets = points.get_offsets()
    assert len(offsets) == len(x) - 1
    assert np.abs(offsets[:, 0] - x[1:]).max() <= 0.06  # jittered sideways only
    assert offsets[:, 1].tolist() == exposures["reduction"].iloc[1:].tolist()
    trend = line_labelled(ax, "average trend")
    assert np.all(np.diff(trend.get_ydata()) > 0)  # follows the rising relation
    assert ax.get_xlabel() == "Sessions per week in the first 4 weeks"
    assert ax.get_ylabel() == "Pain reduction (points)"


def test_adverse_event_rates_clinic_with_interval_beside_benchmarks(demo):
    comparison = demo["comparison"]
    ax = plots.plot_adverse_event_rates(comparison)
    keys = comparison[["event_type", "severity"]].drop_duplicates()
    clinic = next(c for c in ax.containers if c.get_label() == "this clinic (95% interval)")
    line, _, (bars,) = clinic.lines
    assert line.get_xdata().tolist() == pytest.approx(
        comparison.drop_duplicates(["event_type", "severity"])["rate_per_100"].tolist()
    )
    assert len(bars.get_segments()) == len(keys)
    brady = next(c for c in ax.collections if c.get_label() == "Brady 2014 (published)")
    expected = comparison.loc[comparison["study"] == "Brady 2014", "benchmark_rate_per_100"].tolist()
    assert brady.get_offsets()[:, 0].tolist() == pytest.approx(expected)
    assert ax.get_xlabel().startswith("Events per 100 treatments")
    assert ax.get_xscale() == "symlog"
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["Any minor event", "Any major event"]


def test_pain_change_histogram_counts_assessable_episodes():
    episodes = pd.DataFrame(
        {
            "pct_reduction": [-150.0, 10.0, 30.0, 45.0, np.nan, 90.0],
            "assessable": [True, True, True, True, True, False],
        }
    )
    ax = plots.plot_pain_change_distribution(episodes)
    heights = {round(p.get_x()): p.get_height() for c in ax.containers for p in c.patches if p.get_height() > 0}
    # -150 is counted in the leftmost bar (-100 to -90); 90 is not assessable; NaN is left out.
    assert heights == {-100: 1, 10: 1, 30: 1, 40: 1}
    improved = next(c for c in ax.containers if c.get_label() == "improved 30% or more")
    assert min(p.get_x() for p in improved.patches) == 30
    assert line_labelled(ax, "moderate improvement (30%)").get_xdata()[0] == 30
    assert any(t.startswith("50% of 4 episodes") for t in texts(ax))


def test_palette_and_style_match_seaborn_colorblind_whitegrid():
    import matplotlib as mpl
    import seaborn as sns

    from needling_analytics.plots import PALETTE, set_theme
    from needling_analytics.plots.theme import _WHITEGRID

    assert list(PALETTE) == sns.color_palette("colorblind").as_hex()
    with mpl.rc_context():
        sns.set_theme(context="notebook", style="whitegrid")
        expected = {k: mpl.rcParams[k] for k in _WHITEGRID}
    with mpl.rc_context():
        set_theme()
        for key, value in expected.items():
            assert mpl.rcParams[key] == value, key
        assert mpl.rcParams["axes.prop_cycle"].by_key()["color"] == list(PALETTE)


# --- control charts ---------------------------------------------------------------------------------------


def test_control_chart_draws_limits_centre_and_flags_months_outside():
    counts = pd.DataFrame(
        {"month": pd.period_range("2026-01", periods=3, freq="M"), "x": [30, 12, 40], "n": [40, 40, 50]}
    )
    chart = metrics.control_chart(counts, numerator="x", denominator="n")  # 12/40 is below its limit 0.4019
    ax = plots.plot_control_chart(chart)
    assert "%" in ax.get_ylabel()
    centre = line_labelled(ax, "average over these months")
    assert centre.get_ydata()[0] == pytest.approx(100 * 82 / 130, abs=1e-9)
    band = [p for p in ax.patches if p.get_label().startswith("3-sigma") or p.get_height() > 0]
    bottoms = sorted(round(p.get_y(), 4) for p in band)
    assert bottoms == pytest.approx(sorted([40.1854, 40.1854, 42.6021]), abs=1e-3)
    flagged = [c for c in ax.collections if c.get_label() == "outside the limits"]
    assert len(flagged) == 1
    assert flagged[0].get_offsets().tolist() == [[1.0, 30.0]]
    assert "outside the limits" in legend_labels(ax)


def test_control_chart_leaves_hidden_months_out_and_says_so():
    counts = pd.DataFrame(
        {"month": pd.period_range("2026-01", periods=3, freq="M"), "x": [30, 12, 40], "n": [40, 40, 50]}
    )
    chart = metrics.control_chart(counts, numerator="x", denominator="n", kind="u")
    chart["hidden"] = [False, True, False]
    for column in ("rate", "lower", "upper"):
        chart[column] = chart[column].mask(chart["hidden"])
    chart["outside"] = chart["outside"] & ~chart["hidden"]
    ax = plots.plot_control_chart(chart)
    assert "per 100 sessions" in ax.get_ylabel()
    assert texts(ax).count("hidden") == 1
    rates = line_labelled(ax, "each month").get_ydata()
    assert np.isnan(rates[1]) and rates[0] == pytest.approx(75.0, abs=1e-9)
    assert any("privacy" in t.get_text() for t in ax.figure.texts + ax.texts)


def test_adverse_event_types_never_recorded_get_words_not_a_point_at_zero(demo):
    comparison = demo["comparison"].copy()
    bruising = comparison["event_type"] == "bruising"
    comparison.loc[bruising, ["events", "rate_per_100", "ci_lower", "ci_upper"]] = 0.0
    comparison.loc[bruising, "comparison"] = "not_recorded"
    ax = plots.plot_adverse_event_rates(comparison)
    clinic = next(c for c in ax.containers if c.get_label() == "this clinic (95% interval)")
    drawn = clinic.lines[0].get_xdata()
    rows = comparison.drop_duplicates(["event_type", "severity"])
    assert np.isnan(drawn[(rows["event_type"] == "bruising").to_numpy()]).all()  # no dot at 0 for bruising
    assert np.isfinite(drawn[(rows["event_type"] != "bruising").to_numpy()]).all()
    words = [t for t in ax.texts if t.get_gid() == "not_recorded"]
    assert [t.get_text() for t in words] == ["not recorded in this clinic's data"] * int(
        (rows["event_type"] == "bruising").sum()
    )


# --- expected recovery: calibration ------------------------------------------------------------------------


def test_calibration_points_at_the_deciles_beside_the_line_of_equality():
    table = pd.DataFrame(
        {
            "decile": [1, 2, 3],
            "n": [10, 30, 60],
            "mean_expected": [2.0, 4.0, 6.0],
            "mean_observed": [2.5, 4.0, 5.5],
            "median_observed": [2.0, 4.0, 6.0],
            "coverage": [0.7, 0.8, 0.9],
        }
    )
    ax = plots.plot_calibration(table)
    assert isinstance(ax, Axes)
    means = line_labelled(ax, "mean observed")
    assert list(means.get_xdata()) == [2.0, 4.0, 6.0] and list(means.get_ydata()) == [2.5, 4.0, 5.5]
    assert list(line_labelled(ax, "median observed").get_ydata()) == [2.0, 4.0, 6.0]
    equal = line_labelled(ax, "expected = observed")
    assert list(equal.get_xdata()) == list(equal.get_ydata())
    assert ax.get_title().endswith("85% inside the band")  # (10 x 0.7 + 30 x 0.8 + 60 x 0.9) / 100

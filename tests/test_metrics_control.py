"""Control charts of monthly rates and month-over-month tests, against textbook and hand-computed values.

Also how the clinic report shows them: the KPI table's verdicts and the protected charts.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from needling_analytics import metrics, reporting
from needling_analytics.metrics.activity import ACTIVITY_COLUMNS
from needling_analytics.metrics.control import control_chart, month_over_month, monthly_control_chart
from needling_analytics.reporting import BEYOND_VARIATION, NOT_TESTED, WITHIN_VARIATION, text

#: Montgomery, Introduction to Statistical Quality Control, 6th ed. (2009), Example 7.1 / Table 7.1:
#: nonconforming orange-juice cans in 30 samples of n = 50. Published: p-bar = 0.2313, UCL = 0.4102,
#: LCL = 0.0524, samples 15 and 23 above the upper limit.
MONTGOMERY_7_1 = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22, 8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7]
MONTGOMERY_7_1 += [13, 9, 6]


def test_p_chart_matches_montgomery_example_7_1():
    counts = pd.DataFrame({"month": range(1, 31), "x": MONTGOMERY_7_1, "n": 50})
    chart = control_chart(counts, numerator="x", denominator="n", kind="p")
    assert list(chart.columns) == ["month", "numerator", "denominator", "rate", "centre", "lower", "upper", "outside"]
    assert chart["centre"].iloc[0] == pytest.approx(0.2313, abs=5e-5)
    assert chart["upper"].tolist() == pytest.approx([0.4102] * 30, abs=5e-5)
    assert chart["lower"].tolist() == pytest.approx([0.0524] * 30, abs=5e-5)
    assert chart.loc[chart["outside"], "month"].tolist() == [15, 23]


def test_p_chart_limits_from_each_months_own_denominator():
    # by hand: p = 82/130 = 0.630769; n=40: 3*sqrt(p(1-p)/40) = 0.228916 -> [0.401854, 0.859685];
    # n=50: 0.204749 -> [0.426021, 0.835518]
    counts = pd.DataFrame({"month": ["a", "b", "c"], "x": [30, 12, 40], "n": [40, 40, 50]})
    chart = control_chart(counts, numerator="x", denominator="n")
    assert chart["centre"].tolist() == pytest.approx([82 / 130] * 3, abs=1e-12)
    assert chart["lower"].tolist() == pytest.approx([0.401854, 0.401854, 0.426021], abs=1e-6)
    assert chart["upper"].tolist() == pytest.approx([0.859685, 0.859685, 0.835518], abs=1e-6)
    assert chart["outside"].tolist() == [False, True, False]  # 12/40 = 0.30 < 0.4019


def test_p_chart_limits_clipped_to_zero_and_one():
    # p = 19/20 = 0.95; n=5: 3*sqrt(0.95*0.05/5) = 0.292404 -> upper 1.242 clipped to 1, lower 0.657596
    counts = pd.DataFrame({"month": [1, 2], "x": [5, 14], "n": [5, 15]})
    chart = control_chart(counts, numerator="x", denominator="n")
    assert chart["upper"].iloc[0] == 1.0
    assert chart["lower"].iloc[0] == pytest.approx(0.95 - 0.292404, abs=1e-6)
    low = control_chart(pd.DataFrame({"month": [1, 2], "x": [1, 0], "n": [10, 10]}), numerator="x", denominator="n")
    assert low["lower"].tolist() == [0.0, 0.0]


def test_u_chart_matches_montgomery_example():
    # Montgomery (2009) Example 7.5: 20 samples of 5 computers, 193 nonconformities: u-bar = 1.93,
    # UCL = 1.93 + 3 sqrt(1.93/5) = 3.79, LCL = 0.07 (hand: 3.793867 and 0.066133)
    defects = [10] * 13 + [9] * 7  # 130 + 63 = 193
    defects[0] = 19  # one sample far above: 19/5 = 3.8 > 3.7939
    defects[1:10] = [9] * 9
    counts = pd.DataFrame({"month": range(20), "x": defects, "n": 5})
    assert counts["x"].sum() == 193
    chart = control_chart(counts, numerator="x", denominator="n", kind="u")
    assert chart["centre"].iloc[0] == pytest.approx(1.93, abs=1e-12)
    assert chart["upper"].tolist() == pytest.approx([3.793867] * 20, abs=1e-6)
    assert chart["lower"].tolist() == pytest.approx([0.066133] * 20, abs=1e-6)
    assert chart["outside"].tolist() == [True] + [False] * 19


def test_u_chart_allows_more_events_than_units_and_is_not_clipped_at_one():
    counts = pd.DataFrame({"month": [1, 2], "x": [12, 3], "n": [4, 4]})
    chart = control_chart(counts, numerator="x", denominator="n", kind="u")
    # u = 15/8 = 1.875; 3*sqrt(1.875/4) = 2.053960
    assert chart["upper"].tolist() == pytest.approx([1.875 + 2.053960] * 2, abs=1e-6)
    assert chart["rate"].tolist() == pytest.approx([3.0, 0.75], abs=1e-12)
    with pytest.raises(ValueError, match="kind='u'"):
        control_chart(counts, numerator="x", denominator="n", kind="p")


def test_month_without_denominator_has_no_limits_and_no_flag():
    chart = control_chart(
        pd.DataFrame({"month": [1, 2, 3], "x": [0, 20, 10], "n": [0, 40, 40]}), numerator="x", denominator="n"
    )
    assert np.isnan(chart.loc[0, ["rate", "lower", "upper"]].astype(float)).all()
    assert not chart.loc[0, "outside"]
    assert chart["centre"].iloc[0] == pytest.approx(30 / 80, abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"kind": "np"}, "`kind` must be"), ({"sigmas": 0}, "`sigmas` must be"), ({"numerator": "y"}, "lacks column")],
)
def test_control_chart_errors(kwargs, match):
    counts = pd.DataFrame({"month": [1], "x": [1], "n": [2]})
    with pytest.raises(ValueError, match=match):
        control_chart(counts, **{"numerator": "x", "denominator": "n", **kwargs})


def monthly_of(months: dict) -> pd.DataFrame:
    """A monthly_activity-like table: {month: {column: value}}, every other count 0 and rate computed."""
    rows = []
    for month, values in months.items():
        row = dict.fromkeys(ACTIVITY_COLUMNS, 0)
        row.update(month=pd.Period(month, "M"), **values)
        marked = row["sessions_attended"] + row["cancelled"] + row["no_show"]
        row["attendance_rate"] = row["sessions_attended"] / marked if marked else np.nan
        assessed = row["discharged_assessable"]
        row["discharged_responder_rate"] = row["discharged_responders"] / assessed if assessed else np.nan
        sessions = row["sessions_attended"]
        row["ae_rate_per_100"] = 100 * row["adverse_events"] / sessions if sessions else np.nan
        row["mean_pain_reduction"] = values.get("mean_pain_reduction", np.nan)
        rows.append(row)
    return pd.DataFrame(rows)[ACTIVITY_COLUMNS]


def test_monthly_control_chart_uses_the_last_months_and_the_right_counts():
    monthly = monthly_of(
        {
            "2026-01": {"discharged_responders": 1, "discharged_assessable": 100, "adverse_events": 99, "sessions_attended": 1},
            "2026-02": {"discharged_responders": 20, "discharged_assessable": 30, "adverse_events": 12, "sessions_attended": 40},
            "2026-03": {"discharged_responders": 24, "discharged_assessable": 30, "adverse_events": 30, "sessions_attended": 20},
        }
    )  # fmt: skip
    responders = monthly_control_chart(monthly, "responders", months=2)
    assert responders["month"].astype(str).tolist() == ["2026-02", "2026-03"]
    assert responders["centre"].iloc[0] == pytest.approx(44 / 60, abs=1e-12)
    assert responders.attrs["kind"] == "p"
    events = monthly_control_chart(monthly, "adverse_events", months=2)
    assert events.attrs["kind"] == "u"
    assert events["centre"].iloc[0] == pytest.approx(42 / 60, abs=1e-12)
    with pytest.raises(ValueError, match="`indicator` must be one of"):
        monthly_control_chart(monthly, "attendance")
    with pytest.raises(ValueError, match="`months` must be"):
        monthly_control_chart(monthly, "responders", months=0)


def _fisher_two_sided(a, b, c, d) -> float:
    """Fisher's exact test by hand: hypergeometric tables at most as likely as the observed one."""
    row, col, n = a + b, a + c, a + b + c + d

    def prob(k):
        return math.comb(col, k) * math.comb(n - col, row - k) / math.comb(n, row)

    observed = prob(a)
    support = range(max(0, row + col - n), min(row, col) + 1)
    return sum(prob(k) for k in support if prob(k) <= observed * (1 + 1e-7))


def _binomial_two_sided(k, n, p) -> float:
    """Exact binomial test by hand (outcomes at most as likely as the observed one, as R's binom.test)."""
    probs = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    return min(1.0, sum(q for q in probs if q <= probs[k] * (1 + 1e-7)))


def test_month_over_month_tests_against_hand_computation():
    monthly = monthly_of(
        {
            "2026-09": {"active_patients": 40, "sessions_attended": 300, "cancelled": 30, "no_show": 10,
                        "discharged_responders": 10, "discharged_assessable": 30, "adverse_events": 20},
            "2026-10": {"active_patients": 70, "sessions_attended": 200, "cancelled": 50, "no_show": 20,
                        "discharged_responders": 24, "discharged_assessable": 30, "adverse_events": 30},
        }
    )  # fmt: skip
    table = month_over_month(monthly, "2026-10").set_index("indicator")
    # counts: 70 vs 40 given 110, binomial p = 0.5; by hand 2 * P(X >= 70) = 0.0054474
    assert table.loc["active_patients", "p_value"] == pytest.approx(_binomial_two_sided(70, 110, 0.5), rel=1e-9)
    assert table.loc["active_patients", "p_value"] == pytest.approx(0.0054474, abs=5e-7)
    assert table.loc["active_patients", "beyond_chance"]
    # shares: attended 200 of 270 against 300 of 340 (Fisher)
    fisher = _fisher_two_sided(200, 70, 300, 40)
    assert table.loc["attendance_rate", "p_value"] == pytest.approx(fisher, rel=1e-9)
    assert table.loc["discharged_responder_rate", "p_value"] == pytest.approx(
        _fisher_two_sided(24, 6, 10, 20), rel=1e-9
    )
    assert table.loc["discharged_responder_rate", "beyond_chance"]
    # events per session: 30 of 50 events fall in a month holding 200 of 500 sessions
    rate = _binomial_two_sided(30, 50, 200 / 500)
    assert table.loc["ae_rate_per_100", "p_value"] == pytest.approx(rate, rel=1e-9)
    assert table.loc["ae_rate_per_100", "change"] == pytest.approx(15.0 - 20 / 3, abs=1e-9)
    # adverse-event counts 30 vs 20: 2 * P(X >= 30 | 50, 0.5) = 0.202639 -> within
    assert table.loc["adverse_events", "p_value"] == pytest.approx(0.202639, abs=5e-6)
    assert not table.loc["adverse_events", "beyond_chance"]
    assert pd.isna(table.loc["mean_pain_reduction", "beyond_chance"])
    assert table.loc["mean_pain_reduction", "test"] == ""


def test_month_over_month_without_denominator_is_not_tested():
    monthly = monthly_of({"2026-09": {"sessions_attended": 20}, "2026-10": {"sessions_attended": 22}})
    table = month_over_month(monthly, "2026-10").set_index("indicator")
    assert pd.isna(table.loc["discharged_responder_rate", "p_value"])
    assert pd.isna(table.loc["discharged_responder_rate", "beyond_chance"])
    assert table.loc["unmarked", "p_value"] == 1.0  # 0 against 0
    older = month_over_month(monthly.drop(columns=["upcoming", "unmarked"]), "2026-10").set_index("indicator")
    assert older.loc["upcoming", "change"] == 0  # a table from before the two statuses
    with pytest.raises(ValueError, match="no row for 2027-05"):
        month_over_month(monthly, "2027-05")


def test_registered_in_metrics_package():
    assert metrics.control_chart is control_chart
    assert metrics.month_over_month is month_over_month
    assert metrics.monthly_control_chart is monthly_control_chart


# --- in the clinic report: verdicts and protected charts ------------------------------------------------


def test_kpi_verdicts_beyond_and_within_chance():
    # sessions attended 300 -> 200 (given 500, p = 0.5: p < 1e-5): beyond; patients 40 -> 45: within
    monthly = monthly_of(
        {
            "2026-09": {"active_patients": 40, "sessions_booked": 340, "sessions_attended": 300, "cancelled": 30,
                        "no_show": 10, "adverse_events": 20, "mean_pain_reduction": 2.0},
            "2026-10": {"active_patients": 45, "sessions_booked": 270, "sessions_attended": 200, "cancelled": 50,
                        "no_show": 20, "adverse_events": 30, "mean_pain_reduction": 2.5},
        }
    )  # fmt: skip
    kpis = reporting.kpi_table(monthly, "2026-10").set_index("indicator")
    assert kpis.loc["Sessions attended", "verdict"] == BEYOND_VARIATION
    assert kpis.loc["Patients seen", "verdict"] == WITHIN_VARIATION
    assert kpis.loc["Average fall in pain at completion (points)", "verdict"] == NOT_TESTED
    assert kpis.loc["Courses of care completed", "verdict"] == WITHIN_VARIATION  # 0 against 0
    assert kpis.loc["Completed with a clinically important improvement", "verdict"] == ""  # no discharges: no rate
    assert kpis.attrs["p_values"]["Sessions attended"] == pytest.approx(
        metrics.month_over_month(monthly, "2026-10").set_index("indicator").loc["sessions_attended", "p_value"],
        rel=1e-12,
    )


def test_kpi_verdict_of_a_hidden_figure_is_hidden():
    # 9 -> 30 events: beyond chance (p = 0.0001), but 9 is a small count: change and verdict both "*"
    monthly = monthly_of(
        {
            "2026-09": {"sessions_booked": 300, "sessions_attended": 300, "adverse_events": 9},
            "2026-10": {"sessions_booked": 300, "sessions_attended": 300, "adverse_events": 30},
        }
    )
    kpis = reporting.kpi_table(monthly, "2026-10").set_index("indicator")
    for row in ("Adverse events", "Adverse events per 100 sessions"):
        assert kpis.loc[row, "previous_month"] in ("<11", "*")
        assert kpis.loc[row, "change"] == "*"
        assert kpis.loc[row, "verdict"] == "*"
        assert row not in kpis.attrs["p_values"]


def twelve_months(responders, assessed):
    months = pd.period_range(end="2026-10", periods=len(responders), freq="M").astype(str)
    return monthly_of(
        {
            m: {"discharges": n, "discharged_responders": r, "discharged_assessable": n, "sessions_booked": 200,
                "sessions_attended": 200, "adverse_events": 40}
            for m, r, n in zip(months, responders, assessed, strict=True)
        }
    )  # fmt: skip


def test_protected_chart_hides_small_months_and_counts_hidden_ones_outside():
    # month 1: 4 of 30 improved (small count, far below the limits); the others 60 of 80
    monthly = twelve_months([4] + [60] * 11, [30] + [80] * 11)
    raw = metrics.monthly_control_chart(monthly, "responders")
    assert raw["outside"].iloc[0]
    chart = reporting.protect_control_chart(raw, monthly, min_cell_size=11)
    assert chart["hidden"].iloc[0] and chart["hidden"].sum() == 2  # and one more, so the centre cannot pin it
    assert pd.isna(chart.loc[0, "rate"]) and pd.isna(chart.loc[0, "numerator"]) and not chart.loc[0, "outside"]
    assert chart["centre"].iloc[0] == pytest.approx(664 / 910, abs=1e-12)  # the centre keeps every month
    assert chart.attrs["hidden_outside"] == {"above": 0, "below": 1}
    sentence = text.control_chart_summary(chart)
    assert "1 month not shown for privacy is below the limits" in sentence
    assert "October" not in sentence and "November 2025" not in sentence
    assert "normal month-to-month variation" in sentence


def test_protected_chart_hides_a_second_month_when_the_centre_would_give_one_away():
    # only one month is small (5 of 12 not improved); the 12-month average would pin it down: one more goes
    monthly = twelve_months([7] + [20] * 11, [12] + [31] * 11)
    chart = reporting.protect_control_chart(
        metrics.monthly_control_chart(monthly, "responders"), monthly, min_cell_size=11
    )
    assert chart["hidden"].sum() == 2


def test_sentence_names_shown_months_outside():
    # October: 40 of 80; centre 700/960 = 0.7292, 3 * sqrt(0.7292 * 0.2708 / 80) = 0.1491: lower limit 0.580
    monthly = twelve_months([60] * 11 + [40], [80] * 12)
    chart = reporting.protect_control_chart(
        metrics.monthly_control_chart(monthly, "responders"), monthly, min_cell_size=11
    )
    assert chart.loc[11, "outside"]
    sentence = text.control_chart_summary(chart)
    assert sentence.startswith("The share improved was below the limits in October 2026: ")

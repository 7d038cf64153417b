"""Plain-language report text, display tables and small-cell suppression.

Every expected sentence and every suppressed table below is worked out by
hand in the test (the arithmetic is in the comments).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from needling_analytics import reporting
from needling_analytics.metrics import ResponderRule
from needling_analytics.reporting import for_display, suppress_small_counts, text

RULE = ResponderRule()  # 2 points and 30% (Farrar 2001)
RULE_WORDS = "pain down by at least 2 points and at least 30% from the first score"


def episode(**values):
    row = {
        "baseline": np.nan, "latest": np.nan, "n_sessions": 0, "reduction": np.nan, "pct_reduction": np.nan,
        "assessment": "no_baseline", "reached": False, "reached_after_sessions": np.nan,
    }  # fmt: skip
    row.update(values)
    if "reduction" not in values and not np.isnan(row["baseline"]) and not np.isnan(row["latest"]):
        row["reduction"] = row["baseline"] - row["latest"]
        row["pct_reduction"] = 100 * row["reduction"] / row["baseline"]
    return pd.Series(row)


# ------------------------------------------------------------------ headline


def test_headline_responder_example_from_the_brief():
    # 7 -> 3: 4 points, 4/7 = 57.1% -> "57%"; the rule was first met at session 3.
    row = episode(
        baseline=7.0, latest=3.0, n_sessions=5, assessment="responder", reached=True, reached_after_sessions=3.0
    )
    assert text.patient_headline(row, rule=RULE) == (
        "Pain went from 7 to 3 over 5 sessions, a 57% reduction: a clinically important improvement, "
        "first reached at session 3. Part of this change may have come anyway: pain is often at its worst when "
        "treatment starts, and it tends to ease with time."
    )


def test_headline_without_a_follow_up_score():
    row = episode(baseline=6.0, n_sessions=1, assessment="no_follow_up")
    assert text.patient_headline(row, rule=RULE) == (
        "Pain was 6 at the first session; there is no follow-up score yet to compare it with."
    )


def test_headline_baseline_too_low_to_assess():
    row = episode(baseline=1.0, latest=0.0, n_sessions=4, assessment="baseline_too_low")
    assert text.patient_headline(row, rule=RULE) == (
        f"Pain started at 1, too low to measure a clinically important change ({RULE_WORDS}); "
        "the latest score is 0, over 4 sessions."
    )


def test_headline_improved_but_not_enough_rounds_half_up():
    # 8 -> 7: 1 point, 1/8 = 12.5% -> "13%" (half up, as taught), below both thresholds.
    row = episode(baseline=8.0, latest=7.0, n_sessions=4, assessment="not_improved")
    assert text.patient_headline(row, rule=RULE) == (
        "Pain went from 8 to 7 over 4 sessions, a 13% reduction: an improvement, but smaller than a clinically "
        f"important one ({RULE_WORDS}). {text.PATIENT_NATURAL_RECOVERY}"
    )


def test_headline_never_rounds_across_the_threshold():
    # 8.1 -> 5.7: 2.4 points but 2.4 / 8.1 = 29.63%, not 30%: shown as 29.6%, not "30%".
    row = episode(baseline=8.1, latest=5.7, n_sessions=3, assessment="not_improved")
    assert "a 29.6% reduction: an improvement, but smaller" in text.patient_headline(row, rule=RULE)


def test_headline_got_worse():
    # 4 -> 6: 2 points worse, 2/4 = 50% higher.
    row = episode(baseline=4.0, latest=6.0, n_sessions=3, assessment="not_improved")
    assert text.patient_headline(row, rule=RULE) == (
        "Pain went from 4 to 6 over 3 sessions: 2 points worse (50% higher than at the start)."
    )


def test_headline_reached_then_rose_again():
    # 8 -> 6: 25% overall, but the rule (8 -> 5.6 or lower) was met at session 3.
    row = episode(
        baseline=8.0, latest=6.0, n_sessions=6, assessment="not_improved", reached=True, reached_after_sessions=3.0
    )
    assert text.patient_headline(row, rule=RULE) == (
        "Pain went from 8 to 6 over 6 sessions, a 25% reduction. Pain fell by a clinically important amount at "
        "session 3, but has risen again since."
    )


def test_headline_no_change_and_no_scores_and_one_session():
    same = episode(baseline=5.0, latest=5.0, n_sessions=4, assessment="not_improved")
    assert (
        text.patient_headline(same, rule=RULE)
        == "Pain was 5 at the first session and is still 5 after 4 sessions: no change."
    )
    none = episode(n_sessions=1)
    assert text.patient_headline(none, rule=RULE).startswith(
        "No pain scores have been recorded in this course of care yet (1 session attended)"
    )
    half = episode(
        baseline=6.5, latest=4.0, n_sessions=2, assessment="responder", reached=True, reached_after_sessions=2.0
    )
    # 2.5 / 6.5 = 38.46% -> 38%.
    assert text.patient_headline(half, rule=RULE).startswith("Pain went from 6.5 to 4 over 2 sessions, a 38% reduction")


def test_headline_accepts_a_one_row_frame_and_is_a_bold_paragraph():
    frame = episode(baseline=7.0, latest=3.0, n_sessions=5, assessment="responder").to_frame().T
    headline = text.patient_headline(frame, rule=RULE)
    assert headline.startswith("Pain went from 7 to 3")
    assert "font-weight:600" in headline._repr_html_()
    with pytest.raises(ValueError, match="`episode_row` must be one episode, got a frame of 2 rows"):
        text.patient_headline(pd.concat([frame, frame]), rule=RULE)
    with pytest.raises(ValueError, match="`rule` must be a ResponderRule"):
        text.patient_headline(frame, rule="2 points")


# ------------------------------------------------------------------ small formatters


def test_formatters():
    assert [text.format_points(v) for v in (7.0, 6.5, 6.55, -0.04, np.nan)] == ["7", "6.5", "6.6", "0", "not recorded"]
    assert [text.format_pct(v) for v in (57.142857, 12.5, 0.0, -0.2, None)] == [
        "57%",
        "13%",
        "0%",
        "0%",
        "not available",
    ]
    assert text.format_pct(0.5, share=True) == "50%"
    assert text.format_pct(0.1234, share=True, decimals=1) == "12.3%"
    assert [text.format_count(v, min_cell_size=11) for v in (0, 1, 10, 11, 1234)] == [
        "0", "fewer than 11", "fewer than 11", "11", "1,234"
    ]  # fmt: skip
    assert text.format_date(pd.Timestamp("2026-03-03")) == "3 Mar 2026"
    assert text.format_date(pd.NaT) == ""
    assert text.label("low_back") == "low back"
    assert text.label("nerve_irritation") == "nerve irritation"
    assert text.date_range("", "") == "all dates"
    assert text.date_range("2026-01-05", "") == "from 5 Jan 2026"
    assert text.date_range("2026-01-05", "2026-02-01") == "5 Jan 2026 to 1 Feb 2026"


def test_period_label():
    assert text.period_label("2026-10") == "October 2026"
    assert text.period_label(pd.Period("2026-01", freq="M")) == "January 2026"
    assert text.period_label(pd.Timestamp("2026-02-14")) == "February 2026"
    with pytest.raises(ValueError, match="`month` must be a month written 'YYYY-MM'"):
        text.period_label("Oct 2026")


def test_describe_rule_and_unavailable_sections():
    assert text.describe_rule(RULE) == f"A clinically important improvement means {RULE_WORDS}."
    assert text.describe_rule({"abs_threshold": 1, "pct_threshold": 20, "require": "either"}) == (
        "A clinically important improvement means pain down by at least 1 points or at least 20% from the first score."
    )
    assert text.section_unavailable("rom") == "No range-of-motion measurements were recorded for this patient."
    with pytest.raises(ValueError, match="`section` must be one of .*got 'roms'"):
        text.section_unavailable("roms")


def test_attendance_sentence_and_episode_dates():
    row = pd.Series({"booked": 8, "attended": 6, "cancelled": 1, "no_show": 1, "start_date": pd.Timestamp("2026-01-05"),
                     "end_date": pd.Timestamp("2026-03-01"), "discharge_reason": "self_discharged"})  # fmt: skip
    assert text.attendance_sentence(row) == (
        "8 sessions booked: 6 attended, 1 cancelled and 1 missed. "
        "The patient stopped attending; the course of care was closed on 1 Mar 2026."
    )
    assert text.episode_period(row) == "5 Jan 2026 to 1 Mar 2026"
    assert text.episode_period(row.drop("end_date")) == "from 5 Jan 2026 (ongoing)"


def test_attendance_sentence_names_unmarked_and_upcoming_appointments():
    row = pd.Series({"booked": 9, "attended": 5, "cancelled": 1, "no_show": 0, "unmarked": 1, "upcoming": 2,
                     "start_date": pd.Timestamp("2026-01-05")})  # fmt: skip
    assert text.attendance_sentence(row) == (
        "9 sessions booked: 5 attended, 1 cancelled, 0 missed, 1 not marked and 2 still to come."
    )


def test_responder_summary_hides_small_counts():
    def summary(assessable, responders, not_assessed=0):
        rate = responders / assessable
        return pd.DataFrame([{"episodes": assessable + not_assessed, "assessable": assessable, "responders": responders,
                              "responder_rate": rate, "ci_lower": 0.5, "ci_upper": 0.75, "no_baseline": 0,
                              "no_follow_up": not_assessed, "baseline_too_low": 0}])  # fmt: skip

    full = text.responder_summary(summary(62, 40, 6), rule=RULE)
    assert full.startswith("Of the 62 courses of care that could be assessed, 40 (65%) reached")
    assert "between 50% and 75%" in full
    assert "Fewer than 11 more could not be assessed" in full
    # 55 of 62: 7 did not respond, so 55 would give the 7 away.
    assert "all but fewer than 11 reached" in text.responder_summary(summary(62, 55), rule=RULE)
    assert "fewer than 11 reached" in text.responder_summary(summary(62, 4), rule=RULE)
    assert "too few to give a rate" in text.responder_summary(summary(8, 4), rule=RULE)


def test_regression_to_the_mean_is_said_once_where_a_change_is_read_as_success():
    row = {"episodes": 50, "assessable": 50, "responders": 35, "responder_rate": 0.7, "ci_lower": 0.55,
           "ci_upper": 0.82, "no_baseline": 0, "no_follow_up": 0, "baseline_too_low": 0}  # fmt: skip
    summary = text.responder_summary(pd.DataFrame([row]), rule=RULE)
    assert summary.count("pain is usually first scored near its worst") == 1
    assert "pain is usually" not in text.responder_summary(pd.DataFrame([{**row, "assessable": 8}]), rule=RULE)
    worse = episode(baseline=5.0, latest=7.0, n_sessions=4, assessment="not_improved")
    assert "ease with time" not in text.patient_headline(worse, rule=RULE)


def test_median_sentence_says_an_estimated_half():
    median = pd.DataFrame([{"subjects": 40, "median": 21.0, "ci_lower": 14.0, "ci_upper": 35.0}])
    assert text.median_sentence(median) == (
        "An estimated half of the assessed courses of care had reached a clinically important improvement by day 21 "
        "(about 3 weeks) after their first visit; allowing for chance, somewhere between 14 and 35 days."
    )


def test_responder_summary_says_in_plain_words_that_only_ended_courses_count():
    row = {"episodes": 50, "assessable": 50, "responders": 35, "responder_rate": 0.7, "ci_lower": 0.55,
           "ci_upper": 0.82, "no_baseline": 0, "no_follow_up": 0, "baseline_too_low": 0}  # fmt: skip
    ended = text.responder_summary(pd.DataFrame([row]), rule=RULE, ongoing=25)
    assert ended.startswith("Of the 50 courses of care that have ended and could be assessed, 35 (70%) reached")
    assert ended.endswith("25 courses of care still under way are not counted: a result so far is not the final one.")
    few = text.responder_summary(pd.DataFrame([row]), rule=RULE, ongoing=3)
    assert "Fewer than 11 courses of care still under way are not counted" in few  # small counts stay hidden
    assert "3 courses" not in few
    none_left = text.responder_summary(pd.DataFrame([row]), rule=RULE, ongoing=0)
    assert "that have ended and could be assessed" in none_left and "still under way" not in none_left
    empty = text.responder_summary(pd.DataFrame([{**row, "assessable": 0, "responders": 0}]), rule=RULE, ongoing=12)
    assert "12 courses of care still under way are not counted" in empty


# ------------------------------------------------------------------ HTML and escaping


def test_html_blocks_escape_inserted_text():
    header = text.report_header("<script>alert(1)</script>", "Smith & Jones")
    assert "<script>" not in header
    assert "&lt;script&gt;" in header and "Smith &amp; Jones" in header
    footer = text.report_footer(
        title="Clinic <report>", clinic_name="O'Brien & Co", period="October 2026",
        as_of=pd.Timestamp("2026-10-31"), rule=RULE, version="1.2.3",
    )  # fmt: skip
    assert "O&#x27;Brien &amp; Co" in footer
    assert "Clinic &lt;report&gt;" in footer
    for value in ("October 2026", "31 Oct 2026", RULE_WORDS, "needling-analytics 1.2.3"):
        assert value in footer
    assert footer._repr_html_() == footer
    assert text.paragraph("a < b & c")._repr_html_() == '<p class="na-text">a &lt; b &amp; c</p>'


def test_data_quality_note_for_a_cache_and_for_loaded_data():
    class Empty:
        tables = pd.DataFrame()

    assert "run's index" in text.data_quality_note(Empty())

    class Loaded:
        tables = pd.DataFrame({"table": ["patients"]})

        def summary(self):
            return "rows <kept> & read"

    assert text.data_quality_note(Loaded()) == '<pre class="na-quality">rows &lt;kept&gt; &amp; read</pre>'


# ------------------------------------------------------------------ for_display


def test_for_display_words_dates_and_rounding():
    frame = pd.DataFrame(
        {
            "session_date": pd.to_datetime(["2026-03-03", None]),
            "pain": [7.0, 6.0],
            "gain": [2.345, np.nan],
            "n": pd.array([1234, None], dtype="Int64"),
            "region": ["low_back", "wrist_hand"],
            "practitioner_id": ["PR_01", "PR_02"],
            "beyond": pd.array([True, None], dtype="boolean"),
            "p_value": [0.0004, 0.0456],
        }
    )
    columns = {"session_date": "Date", "pain": "Pain", "gain": "Gain", "n": "Count", "region": "Region",
               "practitioner_id": "Practitioner", "beyond": "Beyond error", "p_value": "p"}  # fmt: skip
    shown = for_display(frame, columns)
    assert list(shown.columns) == list(columns.values())
    assert shown.iloc[0].tolist() == ["3 Mar 2026", "7", "2.3", "1,234", "low back", "PR_01", "yes", "<0.001"]
    assert shown.iloc[1].tolist() == ["–", "6", "–", "–", "wrist and hand", "PR_02", "–", "0.046"]
    assert frame["region"].tolist() == ["low_back", "wrist_hand"]  # input untouched
    terms = pd.DataFrame({"estimate": [0.5]}, index=pd.Index(["early_frequency"], name="term"))
    assert for_display(
        terms, {"term": "", "estimate": "Estimate"}, values={"term": {"early_frequency": "Sessions a week"}}
    ).iloc[0].tolist() == ["Sessions a week", "0.5"]
    with pytest.raises(ValueError, match=r"`columns` names \['nope'\], which are not in the table"):
        for_display(frame, {"nope": "X"})
    with pytest.raises(ValueError, match="`decimals` must be a whole number"):
        for_display(frame, columns, decimals=-1)


def test_table_or_note_and_chart_or_note_never_show_empty_output():
    empty = pd.DataFrame(columns=["session_date", "pain_pre"])
    assert reporting.table_or_note(
        empty, {"session_date": "Date"}, section="adverse_events"
    ) == text.section_unavailable("adverse_events")
    assert reporting.table_or_note(empty, {"session_date": "Date"}) is None
    unscored = pd.DataFrame({"session_date": [pd.Timestamp("2026-01-05")], "pain_pre": [np.nan]})

    def plot(data, **kwargs):
        raise AssertionError("must not be drawn")

    assert reporting.chart_or_note(plot, unscored, section="pain", needs="pain_pre") == text.section_unavailable("pain")


# ------------------------------------------------------------------ suppression


def cells(frame, column):
    return frame[column].tolist()


def test_primary_suppression_keeps_zero_and_blanks_missing():
    table = pd.DataFrame({"n": [0, 1, 10, 11, np.nan]})
    out = suppress_small_counts(table, ["n"])
    assert cells(out, "n") == ["0", "<11", "<11", "11", ""]
    assert out.attrs == {
        "threshold": 11,
        "suppressed": 2,
        "complementary": 0,
        "audience": "public",
        "method": "suppress",
    }
    assert cells(suppress_small_counts(table, ["n"], min_cell_size=5), "n") == ["0", "<5", "10", "11", ""]


def test_row_total_hides_the_next_smallest_part_but_never_a_zero():
    # Row 0: 30 = 25 + 0 + 5. Showing 30, 25 and 0 would give missed = 30 - 25 - 0 = 5, so 25 is hidden
    # too (the zero would not help: hiding it leaves 5 = 30 - 25 exactly). Row 1 has no small cell.
    table = pd.DataFrame({"booked": [30, 25], "attended": [25, 25], "cancelled": [0, 0], "missed": [5, 0]})
    out = suppress_small_counts(
        table, ["booked", "attended", "cancelled", "missed"], totals={"booked": ["attended", "cancelled", "missed"]}
    )
    assert out.iloc[0].tolist() == ["30", "*", "0", "<11"]
    assert out.iloc[1].tolist() == ["25", "25", "0", "0"]
    assert out.attrs["complementary"] == 1


def test_total_row_hides_a_complement_in_the_same_column():
    # Column sum: 20 + 5 + 30 = 55. With 55, 20 and 30 shown, B = 5 follows; A (20, the smallest other) goes.
    table = pd.DataFrame({"n": [20, 5, 30, 55]}, index=["A", "B", "C", "all"])
    assert cells(suppress_small_counts(table, ["n"], total_row="all"), "n") == ["*", "<11", "30", "55"]


def test_complement_continues_while_the_hidden_sum_pins_the_cells():
    # A = 1 is hidden, then B = 11: but a "<11" cell (1-10) and a "*" cell (11 or more) summing to
    # 52 - 40 = 12 can only be 1 and 11, so C is hidden as well (sum 52: many possibilities).
    table = pd.DataFrame({"n": [1, 11, 40, 52]}, index=["A", "B", "C", "all"])
    assert cells(suppress_small_counts(table, ["n"], total_row="all"), "n") == ["<11", "*", "*", "52"]
    # Two small cells summing to 2 (both 1) or to 20 (both 10) are pinned; summing to 7 they are not.
    for small, expected in (([1, 1], "*"), ([10, 10], "*"), ([3, 4], "40")):
        table = pd.DataFrame({"n": [*small, 40, sum(small) + 40]}, index=["A", "B", "C", "all"])
        assert cells(suppress_small_counts(table, ["n"], total_row="all"), "n")[2] == expected


def test_total_is_hidden_when_no_part_can_protect_the_small_ones():
    # 20 = 10 + 10 + 0: the two small cells can only be 10 and 10, and the zero cannot help: hide the total.
    table = pd.DataFrame({"booked": [20], "attended": [10], "missed": [10], "cancelled": [0]})
    out = suppress_small_counts(
        table, ["booked", "attended", "missed", "cancelled"], totals={"booked": ["attended", "missed", "cancelled"]}
    )
    assert out.iloc[0].tolist() == ["*", "<11", "<11", "0"]


def test_rates_from_a_hidden_count_are_hidden():
    table = pd.DataFrame({"assessable": [40, 40], "responders": [30, 28], "others": [10, 12],
                          "rate": [0.75, 0.7], "mean_days": [20.0, 30.0]})  # fmt: skip
    out = suppress_small_counts(
        table,
        ["assessable", "responders", "others"],
        totals={"assessable": ["responders", "others"]},
        rate_columns={"rate": ["responders", "assessable", "others"]},
        rate_format="{:.0%}",
    )
    # Row 0: others = 10 is small, so responders (30) is hidden with it, and with it the rate.
    assert out.iloc[0][["responders", "others", "rate"]].tolist() == ["*", "<11", "*"]
    assert out.iloc[1][["responders", "others", "rate"]].tolist() == ["28", "12", "70%"]
    listed = suppress_small_counts(table, ["assessable", "responders"], rate_columns=["mean_days"])
    assert cells(listed, "mean_days") == ["20.0", "30.0"]
    assert table["responders"].tolist() == [30, 28]  # input untouched


def test_suppression_errors_name_the_parameter():
    table = pd.DataFrame({"n": [1, -2], "m": [3, 4]})
    with pytest.raises(ValueError, match="`min_cell_size` must be a whole number, 1 or more, got 0"):
        suppress_small_counts(table, ["m"], min_cell_size=0)
    with pytest.raises(ValueError, match=r"columns \['x'\] are not in `table`"):
        suppress_small_counts(table, ["x"])
    with pytest.raises(ValueError, match=r"`totals` must use count columns only; \['n'\]"):
        suppress_small_counts(table, ["m"], totals={"m": ["n"]})
    with pytest.raises(ValueError, match="`total_row` 'all' is not a row label"):
        suppress_small_counts(table, ["m"], total_row="all")
    with pytest.raises(ValueError, match="`count_columns` must hold counts"):
        suppress_small_counts(table, ["n"])


def test_suppression_note_and_kpi_table():
    assert reporting.SUPPRESSION_NOTE == reporting.suppression_note(11)
    assert '"<11"' in reporting.SUPPRESSION_NOTE and '"*"' in reporting.SUPPRESSION_NOTE
    months = pd.period_range("2026-09", "2026-10", freq="M")
    monthly = pd.DataFrame(
        {
            "month": months, "active_patients": [140, 151], "new_patients": [38, 5], "new_episodes": [46, 45],
            "sessions_booked": [374, 367], "sessions_attended": [333, 334], "cancelled": [28, 19], "no_show": [13, 14],
            "attendance_rate": [333 / 374, 334 / 367], "discharges": [32, 36], "discharged_responder_rate": [0.66, 0.7],
            "responder_ci_lower": [0.5, 0.5], "responder_ci_upper": [0.8, 0.8], "discharged_assessable": [30, 30],
            "mean_pain_reduction": [2.9, 3.1], "adverse_events": [65, 56], "ae_rate_per_100": [19.5, 16.8],
            "discharged_responders": [20, 21],
        }
    )  # fmt: skip
    kpis = reporting.kpi_table(monthly, "2026-10").set_index("indicator")
    assert kpis.loc["Patients seen"].tolist() == ["151", "140", "+11", "within normal month-to-month variation"]
    assert kpis.loc["New patients"].tolist() == ["<11", "38", "*", "*"]  # a hidden figure's verdict is hidden
    # 334/367 = 91.0%, 333/374 = 89.0%: +2 percentage points.
    assert kpis.loc["Attendance rate"].tolist() == [
        "91%",
        "89%",
        "+2 percentage points",
        "within normal month-to-month variation",
    ]
    # 30 assessed: 21 and 20 responders leave 9 and 10 others (small): responders and the rate are hidden.
    assert kpis.loc["Completed with a clinically important improvement"].tolist() == ["*", "*", "*", "*"]
    with pytest.raises(ValueError, match="`monthly` has no row for 2027-05"):
        reporting.kpi_table(monthly, "2027-05")


# ------------------------------------------------------------------ funnel verdict (issue 10)


def funnel_frame(rates, n=40, target=0.5, lower=0.35, upper=0.65, lower998=0.27, upper998=0.73):
    """A shown funnel with the same limits for everyone; flags worked out from the rates by hand."""
    flags = []
    for rate in rates:
        if rate > upper998 or rate < lower998:
            flags.append(("above" if rate > upper998 else "below") + " 99.8%")
        elif rate > upper or rate < lower:
            flags.append(("above" if rate > upper else "below") + " 95%")
        else:
            flags.append("within")
    funnel = pd.DataFrame(
        {
            "practitioner_id": [f"Practitioner {i + 1}" for i in range(len(rates))],
            "n": n, "responders": [round(r * n) for r in rates], "indicator": rates, "target": target,
            "lower_95": lower, "upper_95": upper, "lower_998": lower998, "upper_998": upper998, "flag": flags,
        }
    )  # fmt: skip
    funnel.attrs.update(min_episodes=10, target=target, excluded_practitioners=0)
    return funnel


def spread_row(k, p_value, inflation, min_practitioners=5):
    spread = pd.DataFrame(
        [{"practitioners": k, "p_value": p_value, "overdispersed": p_value < 0.05, "inflation": inflation}]
    )
    spread.attrs["min_practitioners"] = min_practitioners
    return spread


def test_funnel_summary_never_says_no_bigger_than_chance():
    cases = [
        (funnel_frame([0.5, 0.45, 0.55, 0.6]), spread_row(4, 0.7, 1.0)),  # all within, not overdispersed
        (funnel_frame([0.5] * 20), spread_row(20, 0.99, 1.0)),
        (funnel_frame([0.5, 0.2, 0.8, 0.5, 0.5]), spread_row(5, 0.001, 2.25)),  # outside, widened
        (funnel_frame([0.5, 0.3, 0.5, 0.5]), spread_row(4, 0.01, 1.0)),  # overdispersed, only 4: not widened
        (funnel_frame([0.5]), spread_row(1, np.nan, 1.0)),
    ]
    for funnel, spread in cases:
        sentence = text.funnel_summary(funnel, spread)
        assert "no bigger than chance" not in sentence and "no more than chance" not in sentence, sentence
        assert "chance alone would put about 1 practitioner in 20 outside the 95% limits" in sentence
    within = text.funnel_summary(*cases[0])
    assert "Every practitioner compared is within the 95% limits." in within
    assert "does not show that they get the same results" in within
    assert "not clearly larger than chance would give (which does not show that they are equal)" in within


@pytest.mark.parametrize(("k", "words"), [(4, "about 0.2 of the 4 compared here."), (20, "about 1 of the 20 compared here."),
                                          (30, "about 1.5 of the 30 compared here."), (300, "about 15 of the 300 compared here.")])  # fmt: skip
def test_funnel_summary_says_how_many_alerts_chance_alone_gives(k, words):
    # expected alerts = practitioners x 0.05 (two-sided 95% limits): 0.2, 1, 1.5, 15
    sentence = text.funnel_summary(funnel_frame([0.5] * k), spread_row(k, 0.5, 1.0))
    assert words in sentence


def test_funnel_summary_on_overdispersion_and_the_five_practitioner_minimum():
    widened = text.funnel_summary(funnel_frame([0.5, 0.2, 0.8, 0.5, 0.5]), spread_row(5, 0.001, 2.25))
    assert (
        "Practitioners vary more than chance allows, so the limits have been widened (by a factor of 1.50)." in widened
    )
    assert "2 of the 5 practitioners compared are outside the 95% limits." in widened
    assert "Shown: Practitioner 2 (below 99.8% limit); Practitioner 3 (above 99.8% limit)." in widened
    few = text.funnel_summary(funnel_frame([0.5, 0.3, 0.5, 0.5]), spread_row(4, 0.01, 1.0))
    assert "with fewer than 5 practitioners that cannot be told apart from one unusual practitioner" in few
    assert "so the limits are not widened." in few and "widened (by" not in few


def test_funnel_summary_counts_hidden_practitioners_without_naming_them():
    # Practitioner 4 (0.3, below the 95% limit 0.35) and 3 (0.8, above the 99.8% limit 0.73) are hidden.
    funnel = funnel_frame([0.5, 0.5, 0.8, 0.3, 0.55])
    hidden = np.array([False, False, True, True, False])
    from needling_analytics.metrics import funnel_counts

    shown = funnel[~hidden].reset_index(drop=True)
    shown.attrs = {**funnel.attrs, "practitioner_counts": funnel_counts(funnel, hidden=hidden)}
    sentence = text.funnel_summary(shown, spread_row(5, 0.2, 1.0))
    assert sentence.startswith(
        "3 practitioners with at least 10 assessed courses of care are shown; "
        "2 more are compared but not shown, to protect patients' privacy."
    )
    assert "2 of the 5 practitioners compared are outside the 95% limits." in sentence
    assert "1 practitioner not shown for privacy is above the 99.8% limit." in sentence
    assert "1 practitioner not shown for privacy is below the 95% limit." in sentence
    assert "Practitioner 3" not in sentence and "Practitioner 4" not in sentence and "Shown:" not in sentence
    # nobody shown at all: the verdict is still given, as counts
    none_shown = funnel.iloc[0:0].copy()
    none_shown.attrs = {**funnel.attrs, "practitioner_counts": funnel_counts(funnel, hidden=np.ones(5, dtype=bool))}
    sentence = text.funnel_summary(none_shown, spread_row(5, 0.2, 1.0))
    assert sentence.startswith("5 practitioners have at least 10 assessed courses of care, but none can be shown")
    assert "2 of the 5 practitioners compared are outside the 95% limits." in sentence


def test_sensitivity_sentence_counts_the_missing_and_names_self_discharge():
    table = pd.DataFrame({"method": ["complete_case", "worst_case", "weighted"], "rate": [0.8, 0.7, float("nan")],
                          "note": ["", "", "not estimated: separation"]})  # fmt: skip
    table.attrs.update(no_follow_up=16, no_follow_up_self_discharged=4)
    sentence = text.sensitivity_sentence(table)
    assert sentence.startswith(
        "16 courses of care had no follow-up pain score, fewer than 11 of them after the patient"
    )
    assert sentence.endswith("The weighted share could not be worked out from these data.")
    table.attrs.update(no_follow_up=0)
    assert "three ways agree" in text.sensitivity_sentence(table)


def test_sensitivity_table_hides_the_worst_case_row_when_few_lack_a_follow_up():
    table = pd.DataFrame({"method": ["complete_case", "worst_case", "weighted"], "courses": [60, 60, 60],
                          "assessed": [55, 60, 55], "improved": [40, 40, 40], "rate": [40 / 55, 40 / 60, 0.7],
                          "ci_lower": [0.6, 0.5, 0.55], "ci_upper": [0.8, 0.8, 0.8], "note": ["", "", ""]})  # fmt: skip
    table.attrs.update(no_follow_up=5)
    shown = reporting.responder_sensitivity_table(table).set_index("method")
    worst = shown.loc["Courses without a follow-up score counted as not improved"]
    assert list(worst[["assessed", "improved", "rate"]]) == ["*", "*", "*"]
    assert list(shown.loc["Courses with a follow-up score (as above)", ["assessed", "improved", "rate"]]) == [
        "55", "40", "73%",
    ]  # fmt: skip
    # 55 - 40 = 15 not improved: shown; 60 - 40 = 20: shown once 20 lack a follow-up
    table.attrs.update(no_follow_up=20)
    assert reporting.responder_sensitivity_table(table)["assessed"].tolist()[1] == "60"


def test_safety_summary_names_clear_differences_and_never_reads_no_clear_difference_as_equal():
    table = pd.DataFrame(
        {
            "event_type": ["any", "any", "bruising", "bruising", "bleeding", "fainting", "any"],
            "severity": ["mild", "mild", "mild", "mild", "mild", "mild", "major"],
            "study": ["Brady 2014", "Boyce 2020"] * 2 + ["Boyce 2020", "Brady 2014", "Brady 2014"],
            "comparison": ["similar", "below", "above", "above", "similar", "not_recorded", "*"],
        }
    )
    sentence = text.safety_summary(table)
    assert "higher here than published for bruising (Brady 2014 and Boyce 2020)" in sentence
    assert "lower here than published for any minor event (Boyce 2020)" in sentence
    assert "Fainting is not recorded in this clinic's data, so no comparison is made" in sentence
    assert "1 event type rests on too few events to show or compare" in sentence
    assert "the rates may still differ" in sentence and "no difference" not in sentence.replace(
        "no clear difference", ""
    )
    quiet = text.safety_summary(table.assign(comparison="similar"))
    assert quiet.startswith("No rate here is clearly higher or lower than the published ones.")
    assert "not recorded" not in quiet

"""summary.json and tables/*.csv: the clinic report's figures as files (issue 10, "Machine-readable results")."""

import json

import pandas as pd
import pytest
from scipy import stats

from needling_analytics.metrics import ResponderRule
from needling_analytics.privacy.suppression import Disclosure
from needling_analytics.reporting import results
from tests.test_metrics_practitioners import clinic_report_funnel, issue_case_clinic

PUBLIC, OWNER, ROUNDED = Disclosure("public"), Disclosure("owner"), Disclosure("staff", "round")


def one_row(assessable, responders):
    """A summarize_responders row with a plain Clopper-Pearson interval (one course per patient)."""
    low, high = stats.binomtest(responders, assessable).proportion_ci(method="exact") if assessable else (None, None)
    return pd.DataFrame(
        {
            "assessable": [assessable],
            "responders": [responders],
            "responder_rate": [responders / assessable if assessable else float("nan")],
            "ci_lower": [low],
            "ci_upper": [high],
        }
    )


def test_responder_figures_give_what_the_report_shows():
    figures = results.responder_figures(one_row(40, 22), min_cell_size=PUBLIC)
    low, high = stats.binomtest(22, 40).proportion_ci(method="exact")
    assert figures == pytest.approx(
        {"cohort": "ended", "assessed": 40, "improved": 22, "rate": 0.55, "ci_lower": low, "ci_upper": high}, abs=1e-12
    )


@pytest.mark.parametrize(
    ("assessed", "improved", "expected"),
    [
        (40, 6, {"assessed": 40, "improved": None, "rate": None}),  # 6 improved: small, so the rate would reveal it
        (40, 34, {"assessed": 40, "improved": None, "rate": None}),  # 6 not improved: the same
        (8, 4, {"assessed": None, "improved": None, "rate": None}),  # 8 assessed: nothing but the cohort
        (0, 0, {"assessed": 0, "improved": 0, "rate": None}),  # zero may be shown; 0 of 0 has no rate
    ],
)
def test_responder_figures_suppressed_for_a_shared_audience_are_null(assessed, improved, expected):
    figures = results.responder_figures(one_row(assessed, improved), min_cell_size=PUBLIC)
    assert {key: figures[key] for key in expected} == expected
    assert figures["cohort"] == "ended"
    if expected["rate"] is None:
        assert figures["ci_lower"] is None and figures["ci_upper"] is None


def test_the_owner_sees_every_figure_and_rounding_gives_counts_to_the_nearest_five():
    owner = results.responder_figures(one_row(40, 6), min_cell_size=OWNER)
    assert owner["improved"] == 6 and owner["rate"] == pytest.approx(0.15, abs=1e-12)
    rounded = results.responder_figures(one_row(43, 22), min_cell_size=ROUNDED)
    assert (rounded["assessed"], rounded["improved"]) == (45, 20)  # 43 -> 45, 22 -> 20 (nearest multiple of 5)
    assert rounded["rate"] == pytest.approx(22 / 43, abs=1e-12)  # the report's sentence gives the exact share
    assert results.responder_figures(one_row(43, 8), min_cell_size=ROUNDED)["improved"] is None  # small: hidden


def test_frequency_figures_null_when_it_cannot_be_estimated():
    table = pd.DataFrame({"estimate": [0.74], "ci_lower": [-0.08], "ci_upper": [1.56]}, index=["early_frequency"])
    table.attrs.update(estimable=True, design="landmark", n_episodes=215)
    assert results.frequency_figures(table) == pytest.approx(
        {"estimable": True, "design": "landmark", "episodes": 215, "estimate": 0.74, "ci_lower": -0.08,
         "ci_upper": 1.56}, abs=1e-12
    )  # fmt: skip
    empty = pd.DataFrame(columns=["estimate", "ci_lower", "ci_upper"])
    empty.attrs.update(estimable=False, design="landmark", n_episodes=3)
    figures = results.frequency_figures(empty)
    assert figures["estimable"] is False and figures["estimate"] is None and figures["ci_lower"] is None


def test_summary_of_the_issue_case_counts_the_hidden_practitioner_below_the_limit():
    _, _, shown = clinic_report_funnel(issue_case_clinic())
    summary = results.clinic_summary(
        disclosure=PUBLIC,
        month="2026-10",
        as_of="2026-10-31",
        rule=ResponderRule(),
        responders=results.responder_figures(one_row(153, 72), min_cell_size=PUBLIC),
        practitioner_counts=shown.attrs["practitioner_counts"],
        frequency={"estimable": False, "design": "landmark", "estimate": None, "ci_lower": None, "ci_upper": None},
        version="0.1.0",
    )
    assert summary["practitioners"] == {
        "shown": 1, "hidden": 3, "above_95": 0, "below_95": 1, "above_998": 0, "below_998": 0,
        "comparison": "responder_rate",
    }  # fmt: skip
    assert summary["recovery"] is None  # not given
    # 12 months up to October 2026: courses that started from 1 November 2025 to 31 October 2026
    assert summary["period"] == {
        "month": "2026-10", "courses_from": "2025-11-01", "courses_to": "2026-10-31", "as_of": "2026-10-31",
    }  # fmt: skip
    assert summary["rule"] == {"abs_threshold": 2.0, "pct_threshold": 30.0, "require": "both", "min_baseline": 0.0}
    assert summary["audience"] == "public" and summary["disclosure"]["threshold"] == 11
    assert summary["responders"]["cohort"] == "ended" and summary["responders"]["improved"] == 72
    json.dumps(summary, allow_nan=False)  # plain JSON: no NaN, no numpy types


def test_write_results_writes_json_with_nulls_and_formula_safe_csvs(tmp_path):
    summary = {"audience": "public", "responders": {"rate": None}}
    hostile = pd.DataFrame(
        {"indicator": ['=HYPERLINK("http://x")', "+3 percentage points", "Sessions"], "change": ["*", "-3", "+12"]}
    )
    paths = results.write_results(tmp_path, summary, {"activity": hostile})
    assert paths == [tmp_path / "summary.json", tmp_path / "tables" / "activity.csv"]
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert '"rate": null' in (tmp_path / "summary.json").read_text()
    written = pd.read_csv(tmp_path / "tables" / "activity.csv", dtype=str)
    assert written["indicator"].tolist() == ['\'=HYPERLINK("http://x")', "'+3 percentage points", "Sessions"]
    assert written["change"].tolist() == ["*", "-3", "+12"]  # numbers stay numbers

    # a table no longer shown loses its CSV; an empty folder (a report run by hand) writes nothing
    results.write_results(tmp_path, summary, {"safety": hostile.head(1)})
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["safety.csv"]
    assert results.write_results("", summary, {"activity": hostile}) == []
    with pytest.raises(ValueError, match="becomes a file name"):
        results.write_results(tmp_path, summary, {"../escape": hostile})


def test_summary_with_nan_is_refused_rather_than_written_as_invalid_json(tmp_path):
    with pytest.raises(ValueError):
        results.write_results(tmp_path, {"rate": float("nan")}, {})
    assert not (tmp_path / "summary.json").exists()

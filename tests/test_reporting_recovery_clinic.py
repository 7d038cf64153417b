"""The clinic report's expected-recovery sections: the adjusted funnel's maths by hand, audiences, the unavailable model.

- :func:`~needling_analytics.metrics.difference_funnel` and its limits against hand computations;
- owner versus shared audiences: the list of courses not on track or its protected count, hidden practitioners;
- a model that is not available gives sentences, never numbers;
- an executed clinic report (owner, from a cache) shows the new sections.
"""

from __future__ import annotations

import json
import math
import re

import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest
from scipy import stats

from needling_analytics import cohort, metrics, reporting
from needling_analytics.metrics.recovery import ExpectedRecovery

from .conftest import demo_clinic_of

Z95, Z998 = 1.959963984540054, 3.090232306167813


# ---------------------------------------------------------------- metrics, by hand


def test_difference_funnel_limits_by_hand():
    limits = metrics.difference_funnel_limits(0.1, 1.5, 4)
    assert limits["n"].tolist() == [1, 2, 3, 4]
    row = limits.iloc[3]  # n = 4: sd / sqrt(n) = 0.75
    assert row["upper_95"] == pytest.approx(0.1 + Z95 * 0.75, abs=1e-12)
    assert row["lower_95"] == pytest.approx(0.1 - Z95 * 0.75, abs=1e-12)
    assert row["upper_998"] == pytest.approx(0.1 + Z998 * 0.75, abs=1e-12)
    widened = metrics.difference_funnel_limits(0.0, 1.0, 1, dispersion=4.0)  # sqrt(4) = 2 times as wide
    assert widened.loc[0, "upper_95"] == pytest.approx(2 * Z95, abs=1e-12)
    with pytest.raises(ValueError, match="sd"):
        metrics.difference_funnel_limits(0.0, -1.0, 3)


def _fixed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "practitioner_id": ["A", "A", "A", "B", "B", "C", None],
            "patient_id": ["p1", "p2", "p3", "p4", "p4", "p6", "p7"],
            "difference": [1.0, 2.0, 3.0, 0.0, 2.0, 9.0, 5.0],
        }
    )


def test_difference_funnel_by_hand():
    funnel = metrics.difference_funnel(_fixed(), min_episodes=2)
    # C (1 course) is left out, the course without a practitioner too
    assert funnel["practitioner_id"].tolist() == ["A", "B"]
    assert funnel["n"].tolist() == [3, 2] and funnel["n_patients"].tolist() == [3, 1]
    assert funnel["indicator"].tolist() == pytest.approx([2.0, 1.0])
    target = (1 + 2 + 3 + 0 + 2) / 5  # 1.6: the compared courses' mean
    sd = math.sqrt((1 + 0 + 1 + 1 + 1) / (5 - 2))  # pooled within-practitioner SD, N - k = 3
    assert funnel.attrs["target"] == pytest.approx(target) and funnel.attrs["sd"] == pytest.approx(sd)
    assert funnel["upper_95"].tolist() == pytest.approx([target + Z95 * sd / math.sqrt(3), target + Z95 * sd / 2**0.5])
    assert funnel["lower_998"].tolist() == pytest.approx([target - Z998 * sd / 3**0.5, target - Z998 * sd / 2**0.5])
    assert funnel["flag"].tolist() == ["within", "within"]
    assert funnel.attrs["excluded_practitioners"] == 1 and funnel.attrs["excluded_episodes"] == 1
    assert funnel.attrs["unattributed_episodes"] == 1
    # the overdispersion check reads the funnel's sd: z = (mean - target) / (sd / sqrt(n))
    z = np.array([(2 - target) / (sd / 3**0.5), (1 - target) / (sd / 2**0.5)])
    spread = metrics.overdispersion(funnel)
    assert spread.loc[0, "phi"] == pytest.approx(np.mean(z**2))
    assert spread.loc[0, "p_value"] == pytest.approx(stats.chi2.sf(2 * np.mean(z**2), 1))
    # a practitioner far from the target is flagged, and counted by funnel_counts
    far = _fixed().assign(difference=[5.0, 5.2, 4.8, 0.0, 0.2, 0.0, 0.0])
    flagged = metrics.difference_funnel(far, min_episodes=2, target=0.0)
    assert flagged["flag"].tolist() == ["above 99.8%", "within"]
    assert metrics.funnel_counts(flagged)["above_95"] == 1


# ---------------------------------------------------------------- the report's sections


@pytest.fixture(scope="module")
def demo():
    clinic = demo_clinic_of(n_patients=150, seed=0, as_of="2026-11-28")
    window = cohort.clinic_window(clinic, "2026-10", months=12)
    return clinic, window, reporting.clinic_recovery(clinic, window), reporting.practitioner_labels(clinic)


def _with_flagged(recovery, clinic, n: int):
    """The demo's recovery with ``n`` hand-made courses not on track (real patients and practitioners)."""
    episodes = clinic.episodes.head(n)
    flagged = pd.DataFrame(
        {
            "episode_id": episodes["episode_id"].to_numpy(),
            "patient_id": episodes["patient_id"].to_numpy(),
            "practitioner_id": clinic.sessions["practitioner_id"].dropna().iloc[0],
            "n_sessions": 5,
            "last_visit": pd.Timestamp("2026-10-20") - pd.to_timedelta(np.arange(n), unit="D"),
            "latest": 8.0,
            "expected": 5.0,
            "lower": 3.96,
            "upper": 6.04,
        }
    )
    return reporting.ClinicRecovery(**{**recovery.__dict__, "not_on_track": flagged})


def test_the_demo_model_gives_every_section(demo):
    clinic, window, recovery, labels = demo
    assert recovery.available and recovery.source == "own"
    table = reporting.predicted_vs_actual(recovery, min_cell_size=reporting.Disclosure("public"))
    row = table.iloc[0]
    assert row["courses"] == len(recovery.fixed) >= 11
    assert row["observed"] == pytest.approx(recovery.fixed["observed"].mean())
    assert row["mean_difference"] == pytest.approx(recovery.fixed["difference"].mean())
    assert row["ci_lower"] < row["mean_difference"] < row["ci_upper"]
    # only courses whose week-8 window has closed (or that ended) count
    episodes = clinic.episodes.set_index("episode_id").loc[recovery.fixed["episode_id"]]
    closed = episodes["start_date"] + pd.Timedelta(days=70) <= window.as_of
    assert (closed | episodes["end_date"].notna()).all()
    text = reporting.predicted_vs_actual_summary(recovery, min_cell_size=reporting.Disclosure("public"))
    assert "On average, patients improved" in text and "than expected for patients like them" in text
    assert "compared with\nitself" in text or "compared with itself" in text  # honest about its own model
    view = reporting.practitioner_view(
        *metrics.practitioner_comparison(window, min_episodes=10), recovery, labels=labels, min_cell_size=11
    )
    assert view.adjusted and view.kind == "observed_minus_expected"
    assert set(view.shown["practitioner_id"]) <= set(labels)  # pseudonyms, never IDs
    assert "courses of care scored at about week 8" in view.summary


def test_owner_gets_the_list_shared_audiences_the_protected_count(demo):
    clinic, _, recovery, labels = demo
    recovery = _with_flagged(recovery, clinic, 3)
    owner = reporting.not_on_track_table(recovery, labels, min_cell_size=reporting.Disclosure("owner"))
    assert owner.columns.tolist() == [
        "patient_id", "practitioner_id", "n_sessions", "last_visit", "latest", "expected", "band"
    ]  # fmt: skip
    assert len(owner) == 3 and set(owner["patient_id"]) <= set(clinic.episodes["patient_id"])
    assert set(owner["practitioner_id"]) <= set(labels)  # named as the report names practitioners
    assert owner["last_visit"].is_monotonic_increasing  # the longest without a visit first
    assert owner["band"].iloc[0] == "4.0 to 6.0"
    assert "3 courses of care are not on track" in reporting.not_on_track_summary(
        recovery, min_cell_size=reporting.Disclosure("owner")
    )
    for audience, method, words, figure in (
        ("public", "suppress", "Fewer than 11 courses", None),
        ("staff", "round", "Fewer than 11 courses", None),
    ):
        policy = reporting.Disclosure(audience, method)
        assert reporting.not_on_track_table(recovery, labels, min_cell_size=policy).empty
        sentence = reporting.not_on_track_summary(recovery, min_cell_size=policy)
        assert words in sentence and "listed only in the clinic owner's internal report" in sentence
        assert not re.search(r"P\d{4}", sentence)
        assert reporting.recovery_figures(recovery, min_cell_size=policy)["not_on_track"] is figure
    many = _with_flagged(recovery, clinic, 13)
    staff = reporting.Disclosure("staff", "round")
    assert "About 15 courses of care are not on track" in reporting.not_on_track_summary(many, min_cell_size=staff)
    assert reporting.recovery_figures(many, min_cell_size=staff)["not_on_track"] == 15
    assert reporting.recovery_figures(many, min_cell_size=reporting.Disclosure("owner"))["not_on_track"] == 13


def test_hidden_practitioners_are_counted_not_named():
    fixed = pd.DataFrame(
        {
            "practitioner_id": ["A"] * 8 + ["B"] * 30 + ["C"] * 40,
            "patient_id": [f"p{i}" for i in range(78)],
            "difference": [-6.0] * 8 + [0.5, -0.5] * 15 + [0.4, -0.4] * 20,
        }
    )
    funnel = metrics.difference_funnel(fixed, min_episodes=5)
    public = reporting.protect_difference_funnel(funnel, min_cell_size=reporting.Disclosure("public"))
    # A (8 courses) is hidden, and B too: the total would give A's count away
    assert public["practitioner_id"].tolist() == ["C"] and public.attrs["hidden_practitioners"] == 2
    counts = public.attrs["practitioner_counts"]
    # A pulls the clinic's average down, so B and C (both at 0) are above it
    assert counts["below_95"] == 1 and counts["above_95"] == 2
    assert counts["hidden_outside"] == {"above 99.8%": 1, "below 99.8%": 1}
    summary = reporting.adjusted_funnel_summary(public, metrics.overdispersion(funnel), _available())
    assert "1 practitioner not shown for privacy is below the 99.8% limit" in summary
    assert "A" not in re.findall(r"\b[A-C]\b", summary)
    rounded = reporting.protect_difference_funnel(funnel, min_cell_size=reporting.Disclosure("public", "round"))
    assert rounded["practitioner_id"].tolist() == ["B", "C"]  # rounding protects the total: no complement
    owner = reporting.protect_difference_funnel(funnel, min_cell_size=reporting.Disclosure("owner"))
    assert owner["practitioner_id"].tolist() == ["A", "B", "C"]


def _available() -> reporting.ClinicRecovery:
    model = ExpectedRecovery(outcome="pain", better="lower", scale=(0.0, 10.0), level=0.8, available=True)
    return reporting.ClinicRecovery(model=model)


def _unavailable(reason: str, **validation) -> reporting.ClinicRecovery:
    model = ExpectedRecovery(
        outcome="pain", better="lower", scale=(0.0, 10.0), level=0.8, n_courses=12, reason=reason,
        validation={"level": 0.8, **validation},
    )  # fmt: skip
    return reporting.ClinicRecovery(model=model)


@pytest.mark.parametrize(
    ("reason", "validation", "why"),
    [
        ("too_few_courses: 12 courses with a follow-up score, 50 needed", {}, "only 12 courses of care"),
        ("not_validated: 40 earlier and 5 later courses", {"n_courses_train": 40, "n_courses_test": 5},
         "40 earlier and 5 later"),
        ("poor_coverage: 0.62 outside 0.70-0.90", {"coverage": 0.62}, "held 62% of their scores"),
    ],
)  # fmt: skip
def test_an_unavailable_model_gives_a_sentence_not_numbers(demo, reason, validation, why):
    clinic, window, _, labels = demo
    recovery = _unavailable(reason, **validation)
    policy = reporting.Disclosure("owner")
    assert reporting.predicted_vs_actual(recovery, min_cell_size=policy).empty
    assert reporting.not_on_track_table(recovery, labels, min_cell_size=policy).empty
    for text in (
        reporting.predicted_vs_actual_summary(recovery, min_cell_size=policy),
        reporting.not_on_track_summary(recovery, min_cell_size=policy),
        reporting.recovery_validation_note(recovery),
    ):
        assert "is not available in this report, because" in text and why in text
        assert "On average" not in text and "Typical error" not in text
    view = reporting.practitioner_view(
        *metrics.practitioner_comparison(window, min_episodes=10), recovery, labels=labels, min_cell_size=policy
    )
    assert not view.adjusted and view.kind == "responder_rate"  # the responder-rate funnel stays
    assert why in view.intro and "share of their assessed courses of care" in view.intro
    figures = reporting.recovery_figures(recovery, min_cell_size=policy)
    assert figures["available"] is False and figures["reason"] == reason.split(":")[0]
    assert set(figures["fixed_time"].values()) == {None} and figures["not_on_track"] is None
    json.dumps(figures, allow_nan=False)


# ---------------------------------------------------------------- executed


@pytest.mark.slow
def test_an_executed_owner_report_shows_the_expected_course_sections(tmp_path):
    clinic = demo_clinic_of(n_patients=150, seed=0, as_of="2026-11-28")
    cache = reporting.write_cache(
        clinic, tmp_path / "cache", settings=reporting.RunSettings(disclosure=reporting.Disclosure("owner"))
    )
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        "notebooks/clinic_report.ipynb",
        str(out),
        parameters={"month": "2026-10", "cache_dir": str(cache), "results_dir": str(tmp_path / "results")},
        kernel_name="needling-analytics",
        progress_bar=False,
        execution_timeout=300,
    )
    notebook = nbformat.read(out, as_version=4)
    shown = "\n".join(
        "".join(o.get("data", {}).get("text/html", "")) + "".join(o.get("text", ""))
        for c in notebook.cells
        for o in c.get("outputs", [])
    )
    assert "than expected for patients like them" in shown  # predicted versus actual, with its range
    assert "courses of care scored at about week 8" in shown  # the adjusted funnel replaced the responder one
    assert "is not on track" in shown or "are not on track" in shown
    assert "Typical error:" in shown and "range held" in shown  # the appendix's validation figures
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert summary["recovery"]["available"] is True and summary["recovery"]["source"] == "own"
    assert summary["practitioners"]["comparison"] == "observed_minus_expected"
    assert summary["recovery"]["fixed_time"]["courses"] >= 11

"""The patient report's "patients like you": its sentences, what the section shows, its chart, and its privacy.

The sentences are checked word for word on hand-set values; the section on
one patient's slice of a cache built by hand (so each rule is reached on
purpose) and on a generated clinic's real cache (privacy: only this
patient's rows and the model's output).
"""

from __future__ import annotations

import html

import matplotlib

matplotlib.use("Agg")

import re  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from needling_analytics import metrics, plots, reporting  # noqa: E402
from needling_analytics.metrics import ExpectedRecovery  # noqa: E402
from needling_analytics.plots.recovery import horizon_weeks  # noqa: E402
from needling_analytics.plots.theme import NO_DATA  # noqa: E402
from needling_analytics.privacy.suppression import Disclosure  # noqa: E402
from needling_analytics.reporting import (  # noqa: E402
    PatientData,
    RunSettings,
    read_patient,
    select_episode,
    text,  # noqa: E402
    write_cache,
)

from .conftest import demo_clinic_of  # noqa: E402

DAYS = np.arange(0, 183, 7)

# ------------------------------------------------------------------ sentences


@pytest.mark.parametrize(
    ("position", "words", "detail"),
    [
        ("better", "is ahead of the expected course", "lower than expected at this point"),
        ("within", "is in line with the expected course", "about where it was expected to be"),
        ("worse", "is behind the expected course", "higher than expected at this point; your practitioner may review"),
    ],
)
def test_latest_score_ahead_in_line_or_behind(position, words, detail):
    sentence = text.expected_course_sentence(position, 35, observed=3.0, date="2026-10-12")
    assert sentence.startswith(f"Your latest pain score (3 on 12 Oct 2026) {words}: ")
    assert detail in sentence
    assert "based on 35 patients who started with similar pain in the same body area" in sentence


def test_a_course_that_has_ended_is_not_told_to_review_its_plan():
    sentence = text.expected_course_sentence("worse", 35, ongoing=False)
    assert "is behind the expected course: higher than expected at this point. This is based on" in sentence
    assert "review" not in sentence


@pytest.mark.parametrize("n", [0, 1, 10])
def test_fewer_than_eleven_similar_patients_gives_too_few(n):
    sentence = text.expected_course_sentence("better", n)
    assert sentence.startswith("Too few patients like you have been treated at this clinic (fewer than 11")
    assert str(n) not in sentence.replace("11", "")  # the small count itself is never given
    assert "ahead" not in sentence


def test_the_run_min_cell_size_counts_but_never_below_eleven():
    assert text.similar_threshold(Disclosure("public", "suppress", 5)) == 11
    assert text.similar_threshold(Disclosure("owner", "suppress", 15)) == 15  # the patient's report is shared
    assert text.expected_course_sentence("within", 12, min_cell_size=Disclosure(threshold=15)).startswith("Too few")
    assert "fewer than 15" in text.expected_course_sentence("within", 12, min_cell_size=15)
    assert "based on 12 patients" in text.expected_course_sentence("within", 12, min_cell_size=5)
    # rounding policy: counts read "about 35" (nearest 5)
    assert "based on about 35 patients" in text.expected_course_sentence(
        "within", 34, min_cell_size=Disclosure("public", "round")
    )


def test_no_follow_up_yet_says_there_is_nothing_to_compare():
    sentence = text.expected_course_sentence(None, 20)
    assert sentence.startswith("There is no follow-up pain score yet to compare with the expected course.")
    assert "based on 20 patients" in sentence


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("too_few_courses: 12 courses with a follow-up score, 50 needed", "does not yet have enough courses of care"),
        ("not_validated: 30 earlier and 10 later courses, 50 and 20 needed", "not yet enough recent courses"),
        ("poor_coverage: 0.62 outside 0.70-0.90", "did not match what really happened"),
        ("no_model", "prepared without an expected course"),
        ("something new", "could not be worked out"),
        (None, "could not be worked out"),
    ],
)
def test_model_not_available_says_why_in_plain_words(reason, words):
    sentence = text.expected_course_unavailable(reason)
    assert sentence.startswith("The expected course is not available for this report: ")
    assert words in sentence
    assert not re.search(r"\d|coverage|validat|interval|model", sentence)  # no figures, no jargon


def test_an_unknown_position_is_refused():
    with pytest.raises(ValueError, match=r"`position` must be one of \['better', 'within', 'worse'\]"):
        text.expected_course_sentence("ahead", 20)


# ------------------------------------------------------------------ the section, on a hand-made slice


def model(available=True, reason=None) -> ExpectedRecovery:
    return ExpectedRecovery(
        outcome="pain", better="lower", scale=(0.0, 10.0), level=0.8, available=available, reason=reason
    )


def patient_slice(*, positions=("within",), n_similar=30, follow_up=True, recovery=None, disclosure=None):
    """Patient P1, one course E1 from 1 Oct 2026: first pain 7, then one score a week (positions as given)."""
    start = pd.Timestamp("2026-10-01")
    n = len(positions) + 1 if follow_up else 1
    dates = [start + pd.Timedelta(days=7 * k) for k in range(n)]
    pain = pd.DataFrame(
        {
            "episode_id": "E1",
            "patient_id": "P1",
            "session_date": dates,
            "pain_pre": 7.0 - np.arange(n),
            "pain_post": np.nan,
        }
    )
    expected = pd.DataFrame(
        {
            "episode_id": "E1", "patient_id": "P1", "kind": np.repeat(["like_you", "updated"], len(DAYS)),
            "day": np.tile(DAYS, 2).astype(float), "expected": 4.0, "lower": 2.0, "upper": 6.0, "n_conditioned": 0,
        }
    )  # fmt: skip
    steps = pd.DataFrame(
        {
            "episode_id": "E1", "patient_id": "P1", "day": [7.0 * (k + 1) for k in range(n - 1)],
            "date": dates[1:], "observed": list(pain["pain_pre"].iloc[1:]), "expected": 5.0, "lower": 4.0,
            "upper": 6.0, "position": list(positions)[: n - 1],
        }
    )  # fmt: skip
    frames = {
        "episodes": pd.DataFrame({"episode_id": ["E1"], "patient_id": ["P1"], "start_date": [start]}),
        "pain": pain,
        "pain_followup": pd.DataFrame(
            {"episode_id": ["E1"], "patient_id": ["P1"], "date": [start + pd.Timedelta(days=3)], "pain": [6.0]}
        ),
        "expected": expected,
        "expected_steps": steps,
        "similar": pd.DataFrame({"episode_id": ["E1"], "patient_id": ["P1"], "n_similar": [n_similar]}),
    }
    return PatientData(
        patient_id="P1", rule=metrics.DEFAULT_RULE, as_of=pd.Timestamp("2026-11-30"), clinic_name="", frames=frames,
        disclosure=disclosure or Disclosure(), recovery=model() if recovery is None else recovery,
    )  # fmt: skip


@pytest.mark.parametrize(("last", "words"), [("better", "ahead of"), ("within", "in line with"), ("worse", "behind")])
def test_section_reads_the_last_one_step_position(last, words):
    section = reporting.recovery_section(patient_slice(positions=("worse", "better", last)))
    assert f"is {words} the expected course" in section.sentence
    assert "(4 on 22 Oct 2026)" in section.sentence  # the latest score: 7 - 3, three weeks in
    assert section.shows_band and section.caveat == text.EXPECTED_COURSE_CAVEAT
    assert set(section.expected["kind"]) == {"like_you"} and len(section.expected) == len(DAYS)
    assert section.latest["position"].tolist() == [last]
    # the scores: four sessions (days 0, 7, 14, 21) and the follow-up check on day 3, in day order
    assert section.scores["days_since_start"].tolist() == [0, 3, 7, 14, 21]
    assert section.scores["source"].tolist() == ["session", "assessment", "session", "session", "session"]
    assert "not a promise" in section.text()


def test_section_without_enough_similar_patients_shows_no_band():
    section = reporting.recovery_section(patient_slice(n_similar=10))
    assert section.sentence.startswith("Too few patients like you")
    assert not section.shows_band and section.caveat == "" and section.latest.empty
    assert reporting.chart_or_note(plots.plot_expected_course, section.expected, section.scores, section=None) is None
    raised = reporting.recovery_section(patient_slice(n_similar=12, disclosure=Disclosure(threshold=13)))
    assert raised.sentence.startswith("Too few") and not raised.shows_band


@pytest.mark.parametrize(
    ("recovery", "words"),
    [
        (model(False, "too_few_courses: 12 courses with a follow-up score, 50 needed"), "does not yet have enough"),
        (model(False, "poor_coverage: 0.55 outside 0.70-0.90"), "did not match what really happened"),
    ],
)
def test_section_when_the_model_is_not_available(recovery, words):
    section = reporting.recovery_section(patient_slice(recovery=recovery))
    assert section.sentence.startswith("The expected course is not available") and words in section.sentence
    assert not section.shows_band and section.caveat == ""


def test_section_of_a_cache_without_a_model():
    data = patient_slice()
    data.recovery = None
    section = reporting.recovery_section(data)
    assert "prepared without an expected course" in section.sentence and not section.shows_band


def test_section_with_no_follow_up_shows_the_course_from_the_first_score():
    section = reporting.recovery_section(patient_slice(follow_up=False))
    assert section.sentence.startswith("There is no follow-up pain score yet")
    assert section.shows_band and section.latest.empty


def test_section_without_a_first_score_shows_no_band():
    data = patient_slice()
    data.frames["expected"] = data.frames["expected"].iloc[:0]
    data.frames["similar"] = data.frames["similar"].iloc[:0]
    section = reporting.recovery_section(data)
    assert "no first pain score" in section.sentence and not section.shows_band


# ------------------------------------------------------------------ the chart


def chart_inputs():
    section = reporting.recovery_section(patient_slice(positions=("within", "within", "better")))
    return section.expected, section.scores, section.latest


def test_chart_band_line_scores_and_latest_bracket():
    expected, scores, latest = chart_inputs()
    ax = plots.plot_expected_course(expected, scores, latest=latest)
    assert isinstance(ax, Axes)
    assert ax.get_ylim() == (0, 10) and ax.get_ylabel() == "Pain (0-10)"
    assert ax.get_xlabel() == "Weeks since the course of care started"
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() >= 0 and band[:, 1].max() <= 10
    assert ax.get_xlim() == (0, 12)  # latest score in week 3: 3 + 4 weeks, at least 12
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(label.startswith("where 8 in 10 similar patients' scores fall") for label in labels)
    assert "your pain at a follow-up check" in labels and "your pain before a session" in labels
    plt.close("all")


def test_chart_band_is_clipped_to_the_scale_and_reaches_past_the_latest_score():
    expected, scores, _ = chart_inputs()
    wide = expected.assign(lower=-3.0, upper=14.0)
    late = pd.concat([scores, scores.tail(1).assign(days_since_start=90.0)], ignore_index=True)
    ax = plots.plot_expected_course(wide, late)
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == 0 and band[:, 1].max() == 10
    assert ax.get_xlim() == (0, 17)  # day 90 is in week 13 (ceil 12.9): + 4
    assert horizon_weeks(400, 182) == 26
    plt.close("all")


def test_chart_without_an_expected_course_says_no_data_and_refuses_two_courses():
    expected, scores, _ = chart_inputs()
    assert NO_DATA in [t.get_text() for t in plots.plot_expected_course(expected.iloc[:0], scores).texts]
    with pytest.raises(ValueError, match="must hold one course of care"):
        plots.plot_expected_course(pd.concat([expected, expected.assign(episode_id="E2")]), scores)
    plt.close("all")


# ------------------------------------------------------------------ a real cache: privacy


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    clinic = demo_clinic_of(n_patients=300, seed=3)
    return clinic, write_cache(clinic, tmp_path_factory.mktemp("recovery") / "cache", settings=RunSettings())


def test_section_on_a_real_cache_holds_this_patient_only(cache):
    clinic, folder = cache
    model = reporting.read_recovery(folder)
    assert model.available, model.reason
    steps = pd.read_parquet(folder / "patients" / "expected_steps.parquet")
    similar = pd.read_parquet(folder / "patients" / "similar.parquet")
    last = steps.groupby("episode_id").tail(1).merge(similar, on=["episode_id", "patient_id"])
    shown = 0
    for position in ("better", "within", "worse"):
        rows = last[(last["position"] == position) & (last["n_similar"] >= 11)]
        if rows.empty:
            continue
        patient_id = rows["patient_id"].iloc[0]
        data = select_episode(read_patient(folder, patient_id), rows["episode_id"].iloc[0])
        section = reporting.recovery_section(data)
        words = {"better": "ahead of", "within": "in line with", "worse": "behind"}[position]
        assert f"is {words} the expected course" in section.sentence
        for frame in (section.expected, section.scores, section.latest):
            assert set(frame["episode_id"]) == {data.episodes["episode_id"].iloc[0]}
        others = set(clinic.patients["patient_id"]) - {patient_id}
        written = str(section.text()) + model.to_dict().__repr__()
        assert not [p for p in others if re.search(rf"\b{p}\b", written)]
        shown += 1
    assert shown >= 2


def test_the_text_says_where_the_band_stops_when_scores_go_on_after_it():
    data = patient_slice(positions=("within",) * 5)  # scores to day 35
    within_band = reporting.recovery_section(data)
    assert "band stops" not in within_band.text()
    short = data.frames["expected"]
    data.frames["expected"] = short[short["day"] <= 28]  # a band validated to week 4 only
    cut = reporting.recovery_section(data)
    assert "The band stops at week 4: the clinic's more recent courses of care could only be checked that far" in (
        html.unescape(cut.text())
    )

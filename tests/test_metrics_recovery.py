"""Expected recovery: the profiled REML fit, the conditional (BLUP) prediction, calibration and the model's uses.

Data simulated from the model itself (a random intercept per course on the
logit scale of the 0-10 pain score, a linear fall over weeks that depends on
the baseline) is built into a :class:`Clinic` without any Python loop per
course, so each test fits a few hundred courses in well under a second.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from needling_analytics import metrics
from needling_analytics.clinic import Clinic
from needling_analytics.metrics.recovery import ExpectedRecovery, load_expected_recovery
from needling_analytics.metrics.recovery_data import RecoveryModelError, outcome_data
from needling_analytics.metrics.recovery_fit import conditional_moments, fit_random_intercept, from_z, to_z

#: True parameters of the simulation, z scale: intercept, baseline (centred z), weekly slope, baseline x week.
TRUE = {"intercept": 0.3, "baseline": 0.8, "week": -0.12, "baseline:week": -0.02}
TAU, SIGMA = 0.5, 0.35


def simulate(
    n_courses: int,
    seed: int,
    *,
    rounded: bool = False,
    shift_after: float | None = None,
    instrument: str | None = None,
) -> Clinic:
    """A clinic of ``n_courses`` courses (one patient each) whose follow-up scores follow the model.

    ``rounded``: scores rounded to whole points, as clinics record them. ``shift_after``: courses
    started in the second half of the year get residuals this many times larger (a changed clinic).
    ``instrument``: the scores are a PROM (0-10 scale, same numbers) instead of session pain.
    """
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 365, n_courses)), unit="D")
    baseline = rng.uniform(3, 9.5, n_courses)
    if rounded:
        baseline = np.round(baseline)
    bz = to_z(baseline, 0, 10)
    bz = bz - bz.mean()
    n_follow = rng.integers(2, 9, n_courses)
    course = np.repeat(np.arange(n_courses), n_follow)
    gaps = rng.integers(3, 15, len(course)).astype(float)
    starts = np.r_[0, np.cumsum(n_follow)[:-1]]
    day = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[starts] - gaps[starts], n_follow)
    t = day / 7.0
    noise = rng.normal(0, SIGMA, len(course))
    if shift_after is not None:
        noise *= np.where(np.asarray(start)[course] > pd.Timestamp("2025-07-01"), shift_after, 1.0)
    z = (
        TRUE["intercept"] + TRUE["baseline"] * bz[course] + TRUE["week"] * t + TRUE["baseline:week"] * bz[course] * t
        + rng.normal(0, TAU, n_courses)[course] + noise
    )  # fmt: skip
    y = from_z(z, 0, 10)
    if rounded:
        y = np.round(y)
    ids = np.array([f"E{i:05d}" for i in range(n_courses)], dtype=object)
    patients = np.array([f"P{i:05d}" for i in range(n_courses)], dtype=object)
    regions = np.array(["neck", "low_back", "shoulder"], dtype=object)[rng.integers(0, 3, n_courses)]
    dates = np.r_[np.asarray(start), np.asarray(start)[course] + pd.to_timedelta(day, unit="D").to_numpy()]
    scores = np.r_[baseline, y]
    owner = np.r_[np.arange(n_courses), course]
    frames = {
        "patients": pd.DataFrame({"patient_id": patients, "birth_year": 1970, "sex": "F"}),
        "episodes": pd.DataFrame(
            {
                "episode_id": ids,
                "patient_id": patients,
                "start_date": start,
                "body_region": regions,
                "symptom_duration_weeks": 20.0,
            }
        ),  # fmt: skip
        "sessions": pd.DataFrame(
            {
                "session_id": [f"S{i}" for i in range(len(owner))],
                "episode_id": ids[owner],
                "patient_id": patients[owner],
                "practitioner_id": "PR1",
                "session_date": dates,
                "pain_pre": np.nan if instrument else scores,
            }
        ),
    }
    if instrument:
        frames["proms"] = pd.DataFrame(
            {"patient_id": patients[owner], "episode_id": ids[owner], "completed_on": dates,
             "instrument": instrument, "score": scores}
        )  # fmt: skip
    return Clinic.from_frames(as_of="2026-06-30", **frames)


@pytest.fixture(scope="module")
def simulated() -> Clinic:
    return simulate(500, seed=1)


@pytest.fixture(scope="module")
def model(simulated) -> ExpectedRecovery:
    return metrics.fit_expected_recovery(simulated, covariates=("baseline",), validate=False)


# ---------------------------------------------------------------- the likelihood


def _grouped(n_groups: int, seed: int):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 8, n_groups)
    group = np.repeat(np.arange(n_groups), sizes)
    x = np.column_stack([np.ones(len(group)), rng.normal(size=len(group)), rng.integers(0, 2, n_groups)[group]])
    beta = np.array([1.0, -0.5, 0.7])
    y = x @ beta + rng.normal(0, 0.8, n_groups)[group] + rng.normal(0, 0.6, len(group))
    return x, y, group, beta


def test_the_fit_recovers_the_parameters_it_was_simulated_with():
    x, y, group, beta = _grouped(3000, seed=2)
    fit = fit_random_intercept(x, y, group)
    np.testing.assert_allclose(fit.beta, beta, atol=0.06)
    np.testing.assert_allclose([fit.tau2, fit.s2], [0.64, 0.36], rtol=0.08)


def test_the_fit_agrees_with_statsmodels_mixedlm_reml():
    from statsmodels.regression.mixed_linear_model import MixedLM

    x, y, group, _ = _grouped(300, seed=3)
    ours = fit_random_intercept(x, y, group)
    theirs = MixedLM(y, x, groups=group).fit(reml=True, method="lbfgs")
    np.testing.assert_allclose(ours.beta, theirs.fe_params, rtol=1e-4)
    np.testing.assert_allclose(ours.s2, theirs.scale, rtol=1e-4)
    np.testing.assert_allclose(ours.tau2, float(np.asarray(theirs.cov_re)[0, 0]), rtol=1e-4)
    np.testing.assert_allclose(ours.llf, theirs.llf, rtol=1e-4)
    np.testing.assert_allclose(np.sqrt(np.diag(ours.cov_beta)), theirs.bse_fe, rtol=1e-3)


def test_the_model_recovers_the_simulated_parameters_through_a_clinic(model):
    coefficient = dict(zip(model.names, model.coefficients, strict=True))
    for name, value in TRUE.items():
        assert coefficient[name] == pytest.approx(value, abs=0.05), name
    for name in model.names:  # the true trend is straight: every change of slope at a knot is near 0
        if name.startswith("week_after"):
            assert coefficient[name] == pytest.approx(0, abs=0.05), name
    np.testing.assert_allclose([model.course_variance, model.residual_variance], [TAU**2, SIGMA**2], rtol=0.15)
    assert model.n_courses == 500 and model.knots


# ---------------------------------------------------------------- prediction


def test_the_80_percent_band_covers_80_percent_of_new_scores():
    fitted = metrics.fit_expected_recovery(simulate(600, seed=4, rounded=True), validate=False)
    new = simulate(600, seed=5, rounded=True)
    steps = fitted.one_step(new)
    inside = (steps["observed"] >= steps["lower"]) & (steps["observed"] <= steps["upper"])
    assert 0.75 <= inside.mean() <= 0.85
    # the marginal band ("patients like you") too: each course's first follow-up against its baseline-only prediction
    first = steps.drop_duplicates("episode_id")
    marginal = (first["observed"] >= first["lower"]) & (first["observed"] <= first["upper"])
    assert 0.75 <= marginal.mean() <= 0.85


def test_the_conditional_update_by_hand():
    fit = fit_random_intercept(*_grouped(50, seed=6)[:3])
    fit.tau2, fit.s2, fit.cov_beta = 1.0, 1.0, np.zeros_like(fit.cov_beta)
    x = np.zeros((3, len(fit.beta)))
    mean, var = conditional_moments(np.zeros(3), x, np.array([0.0, 2.0, 4.0]), np.array([0.0, 2.0, 4.0]), fit)
    # b = tau2 sum(r) / (s2 + n tau2); var(b | y) = tau2 s2 / (s2 + n tau2); plus s2 for a new score
    np.testing.assert_allclose(mean, [0.0, 2 / 3, 4 / 5])
    np.testing.assert_allclose(var, [2.0, 1 + 1 / 3, 1 + 1 / 5])


def test_the_prediction_moves_toward_the_courses_own_scores_as_visits_accumulate(model):
    # one course starting at 7 and scoring 9 at every weekly visit, far above patients like it
    days = np.arange(0, 57, 7)
    pain = np.r_[7.0, np.full(len(days) - 1, 9.0)]
    predicted = []
    for k in range(len(days)):  # the clinic as it stood after k follow-up visits
        sessions = pd.DataFrame(
            {"session_id": [f"S{i}" for i in range(k + 1)], "episode_id": "E1", "patient_id": "P1",
             "practitioner_id": "PR1", "session_date": pd.Timestamp("2026-01-05") + pd.to_timedelta(days[: k + 1], unit="D"),
             "pain_pre": pain[: k + 1]}
        )  # fmt: skip
        episodes = pd.DataFrame(
            {"episode_id": ["E1"], "patient_id": ["P1"], "start_date": [pd.Timestamp("2026-01-05")]}
        )
        clinic = Clinic.from_frames(patients=pd.DataFrame({"patient_id": ["P1"]}), episodes=episodes, sessions=sessions)
        predicted.append(model.predict(clinic, [63]).iloc[0])
    expected = np.array([p["expected"] for p in predicted])
    assert [p["n_conditioned"] for p in predicted] == list(range(len(days)))
    assert (np.diff(expected) > 0).all() and expected[0] < 4 < 7.5 < expected[-1] <= 9
    width = np.array([p["upper"] - p["lower"] for p in predicted])
    assert (np.diff(width) < 0).all()  # the course's own level becomes known: the band narrows


def test_a_course_with_only_a_baseline_gets_exactly_the_marginal_prediction(model, simulated):
    sessions = simulated.sessions
    first = ~sessions.duplicated("episode_id")
    baseline_only = Clinic.from_frames(
        as_of=simulated.as_of, patients=simulated.patients, episodes=simulated.episodes, sessions=sessions[first]
    )
    days = [0, 7, 28, 56]
    alone = model.predict(baseline_only, days)
    assert (alone["n_conditioned"] == 0).all()
    courses, _ = outcome_data(baseline_only, "pain")
    course = np.repeat(np.arange(len(courses)), len(days))
    expected, lower, upper = model.interval(*model.marginal_moments(courses, course, np.tile(days, len(courses))))
    np.testing.assert_array_equal(alone["expected"], expected)
    np.testing.assert_array_equal(alone["lower"], lower)
    np.testing.assert_array_equal(alone["upper"], upper)
    with_visits = model.predict(simulated, days)
    assert (with_visits["n_conditioned"] > 0).all()
    assert not np.allclose(with_visits["expected"], alone["expected"])
    # conditional=False: the same "patients like you" prediction for courses that do have follow-ups
    like_you = model.predict(simulated, days, conditional=False)
    assert (like_you["n_conditioned"] == 0).all()
    np.testing.assert_allclose(like_you["expected"].to_numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(like_you["upper"].to_numpy(), upper, rtol=1e-12)


def test_the_interval_never_leaves_the_scale(model):
    rows = pd.DataFrame(
        {"baseline": [0.0, 10.0, 0.0, 10.0], "body_region": "neck", "duration_band": "x", "age_band": "x", "sex": "F"}
    )
    course, days = np.repeat(np.arange(4), 5), np.tile([0, 1, 30, 200, 5000], 4)
    for sums in (0.0, 40.0, -40.0):  # also far above or below the expected course
        fit = model._fit()
        x = model._design(rows, course, days)
        mean, var = conditional_moments(x @ fit.beta, x, np.full(len(course), sums), np.full(len(course), 8.0), fit)
        expected, lower, upper = model.interval(mean, var)
        assert (lower >= 0).all() and (upper <= 10).all()
        assert (lower <= expected).all() and (expected <= upper).all()


# ---------------------------------------------------------------- persistence, availability


def test_save_and_load_give_identical_predictions_and_no_ids(model, simulated, tmp_path):
    path = model.save(tmp_path / "model.json")
    text = path.read_text()
    loaded = load_expected_recovery(path)
    pd.testing.assert_frame_equal(loaded.predict(simulated, [0, 14, 56]), model.predict(simulated, [0, 14, 56]))
    pd.testing.assert_frame_equal(loaded.one_step(simulated), model.one_step(simulated))
    pd.testing.assert_frame_equal(loaded.similar(simulated), model.similar(simulated))
    for column in ("episode_id", "patient_id"):
        assert not any(i in text for i in simulated.episodes[column])
    assert "2025-0" not in text  # no start date either: validation did not run, so no cut-off date
    assert set(json.loads(text)) >= {"coefficients", "covariance", "knots", "levels", "validation", "similar_counts"}


def test_too_few_courses_is_not_an_error():
    small = simulate(30, seed=7)
    fitted = metrics.fit_expected_recovery(small)
    assert not fitted.available and not fitted.fitted
    assert fitted.reason.startswith("too_few_courses: 30 courses")
    with pytest.raises(RecoveryModelError, match="too_few_courses"):
        fitted.predict(small, [14])


def test_poor_coverage_on_validation_makes_the_model_unavailable():
    changed = simulate(400, seed=8, shift_after=4.0)  # later courses far noisier than the earlier ones
    fitted = metrics.fit_expected_recovery(changed, covariates=("baseline",))
    assert fitted.validation["status"] == "done" and fitted.validation["coverage"] < 0.7
    assert not fitted.available and fitted.reason.startswith("poor_coverage")
    steady = metrics.fit_expected_recovery(simulate(400, seed=8), covariates=("baseline",))
    assert steady.available and steady.reason is None
    assert 0.7 <= steady.validation["coverage"] <= 0.9
    assert steady.validation["mae_model"] < steady.validation["mae_carry_forward"]
    assert steady.validation["n_courses_train"] + steady.validation["n_courses_test"] == 400


def test_a_prom_where_higher_is_better_flips_the_position():
    clinic = simulate(200, seed=9, instrument="PSFS")  # PSFS: 0-10, higher is better
    fitted = metrics.fit_expected_recovery(clinic, outcome="PSFS", covariates=("baseline",), validate=False)
    assert fitted.better == "higher" and fitted.scale == (0.0, 10.0)
    steps = fitted.one_step(clinic)
    assert set(steps["position"]) == {"better", "within", "worse"}
    position, observed = steps["position"].to_numpy(), steps["observed"].to_numpy()
    assert ((position == "better") == (observed > steps["upper"].to_numpy())).all()
    assert ((position == "worse") == (observed < steps["lower"].to_numpy())).all()


def test_dropped_covariates_say_why(simulated):
    fitted = metrics.fit_expected_recovery(simulated, validate=False)
    assert fitted.dropped["sex"].startswith("one_level")  # every simulated patient is F
    assert fitted.dropped["duration_band"].startswith("one_level")
    assert "body_region" in fitted.levels and fitted.levels["body_region"]["reference"] in {
        "neck",
        "low_back",
        "shoulder",
    }


# ---------------------------------------------------------------- uses, by hand


def _hand_model() -> ExpectedRecovery:
    """Expected 5 (z = 0) at every visit, no course effect: the band is from_z(+-1.2816 x 0.2)."""
    return ExpectedRecovery(
        outcome="pain", better="lower", scale=(0.0, 10.0), level=0.8, names=("intercept", "week"),
        coefficients=np.zeros(2), covariance=np.zeros((2, 2)), course_variance=0.0, residual_variance=0.04,
        day_max=100.0, available=True,
    )  # fmt: skip


UPPER = -0.5 + 11 / (1 + np.exp(-1.2815515655446004 * 0.2))  # 5.7047


def _hand_clinic() -> Clinic:
    visits = {  # episode -> (days, pain_pre): baseline first
        "E1": ([0, 7, 14, 21], [6, 5, 8, 9]),  # last two above the band: flagged
        "E2": ([0, 7, 14], [6, 8, 5]),  # back within the band
        "E3": ([0, 7, 14], [6, 8, 9]),  # worse twice, but ended
        "E4": ([0, 7], [6, 8]),  # one follow-up only
        "E5": ([0, 50, 60], [8, 4, 3]),  # fixed time: day 60 is nearest 56
    }
    rows = [(e, d, p) for e, (days, pains) in visits.items() for d, p in zip(days, pains, strict=True)]
    start = pd.Series(pd.Timestamp("2026-04-06"), index=list(visits))  # as of 2026-05-01: none self-discharged
    start["E5"] = pd.Timestamp("2026-03-02")
    sessions = pd.DataFrame(rows, columns=["episode_id", "day", "pain_pre"])
    sessions["session_date"] = start[sessions["episode_id"]].to_numpy() + pd.to_timedelta(sessions.pop("day"), unit="D")
    sessions["session_id"] = [f"S{i}" for i in range(len(sessions))]
    sessions["patient_id"] = "P" + sessions["episode_id"].str[1:]
    sessions["practitioner_id"] = "PR1"
    episodes = pd.DataFrame({"episode_id": list(visits), "patient_id": [f"P{e[1:]}" for e in visits]})
    episodes["start_date"] = start.to_numpy()
    episodes["end_date"] = [pd.NaT, pd.NaT, pd.Timestamp("2026-04-26"), pd.NaT, pd.NaT]
    return Clinic.from_frames(
        as_of="2026-05-01", patients=episodes[["patient_id"]], episodes=episodes, sessions=sessions
    )


def test_courses_not_on_track_by_hand():
    flagged = metrics.courses_not_on_track(_hand_model(), _hand_clinic())
    assert flagged["episode_id"].tolist() == ["E1"]
    row = flagged.iloc[0]
    assert (row["patient_id"], row["practitioner_id"], row["n_sessions"]) == ("P1", "PR1", 4)
    assert row["last_visit"] == pd.Timestamp("2026-04-27")
    assert (row["latest"], row["expected"]) == (9, pytest.approx(5.0))
    assert row["upper"] == pytest.approx(UPPER) and row["lower"] == pytest.approx(10 - UPPER)


def test_expected_at_fixed_time_and_effectiveness_by_hand():
    fixed = metrics.expected_at_fixed_time(_hand_model(), _hand_clinic())
    assert fixed["episode_id"].tolist() == ["E5"]
    row = fixed.iloc[0]
    assert (row["baseline"], row["observed"], row["observed_day"]) == (8, 3, 60)
    assert (row["expected"], row["expected_change"], row["observed_change"]) == pytest.approx((5, -3, -5))
    assert row["difference"] == pytest.approx(2)  # 2 points lower (better) than expected

    frame = pd.DataFrame({"difference": [1.0, 2.0, 3.0, -2.0], "patient_id": ["A", "A", "B", "C"], "who": "x"})
    out = metrics.recovery_effectiveness(frame, by="who")
    # mean 1; patient totals of deviations 1, 2, -3: variance 14 / 4**2 x 3 / 2; t with 2 df
    half = 4.302652729911275 * np.sqrt(14 / 16 * 3 / 2)
    assert out.iloc[0].to_dict() == pytest.approx(
        {"who": "x", "n": 4, "n_patients": 3, "mean_difference": 1.0, "ci_lower": 1 - half, "ci_upper": 1 + half}
    )
    plain = metrics.recovery_effectiveness(frame.assign(patient_id=["A", "B", "C", "D"]))
    from scipy import stats

    low, high = stats.t.interval(0.95, 3, loc=1.0, scale=stats.sem(frame["difference"]))
    assert (plain.loc[0, "ci_lower"], plain.loc[0, "ci_upper"]) == pytest.approx((low, high))


def test_an_empty_outcome_is_too_few_courses_even_with_no_minimum(simulated):
    fitted = metrics.fit_expected_recovery(simulated, outcome="LEFS", min_courses=0)  # no questionnaire at all
    assert not fitted.available and fitted.reason.startswith("too_few_courses: 0 courses")


def test_scores_on_one_day_are_one_visit_so_one_bad_day_is_not_two_visits_off_track():
    clinic = _hand_clinic()
    sessions = clinic.sessions
    e1 = sessions["episode_id"] == "E1"
    moved = sessions.copy()
    # E1: pain 6, 5, then 8 and 9 recorded on the same day (two sessions that day): one visit, mean 8.5
    last = moved.index[e1][-1]
    moved.loc[last, "session_date"] = moved.loc[moved.index[e1][-2], "session_date"]
    same_day = Clinic.from_frames(
        as_of=clinic.as_of, patients=clinic.patients, episodes=clinic.episodes, sessions=moved
    )
    courses, follow = outcome_data(same_day, "pain")
    e1_follow = follow[follow["course"] == courses.index[courses["episode_id"] == "E1"][0]]
    assert e1_follow["y"].tolist() == [5.0, 8.5]
    assert metrics.courses_not_on_track(_hand_model(), same_day).empty


def test_the_expected_mean_is_the_integral_of_the_back_transformed_normal():
    from scipy import integrate, stats

    model = _hand_model()
    ends = to_z(np.array([0.0, 10.0]), 0, 10)  # where the back-transform is clipped
    for mean, var in [(0.0, 0.04), (1.5, 0.3), (-2.0, 0.8), (3.5, 0.05), (0.0, 1e-3), (-4.0, 2.0)]:
        sd = np.sqrt(var)
        density = stats.norm(mean, sd).pdf
        by_quad, _ = integrate.quad(
            lambda z, d=density: from_z(z, 0, 10) * d(z), mean - 12 * sd, mean + 12 * sd,
            points=list(ends), limit=400, epsabs=1e-13, epsrel=1e-12,
        )  # fmt: skip
        assert model.mean_score(np.array([mean]), np.array([var]))[0] == pytest.approx(by_quad, rel=1e-9)
    # skewed: away from the middle of the scale the mean is pulled toward the middle, away from the median
    assert model.mean_score(np.array([1.5]), np.array([0.3]))[0] < from_z(1.5, 0, 10)


def test_effectiveness_by_a_column_with_missing_values_counts_them_as_not_recorded():
    frame = pd.DataFrame(
        {"difference": [1.0, 2.0, 3.0], "patient_id": ["A", "B", "C"], "practitioner_id": ["PR1", None, None]}
    )
    out = metrics.recovery_effectiveness(frame, by="practitioner_id")
    assert out.set_index("practitioner_id")["n"].to_dict() == {"PR1": 1, "not recorded": 2}
    assert out.set_index("practitioner_id").loc["not recorded", "mean_difference"] == pytest.approx(2.5)


def test_similar_patient_cells_under_eleven_are_not_kept(tmp_path):
    small = simulate(60, seed=5)
    fitted = metrics.fit_expected_recovery(small, covariates=("baseline", "body_region"), validate=False)
    assert (fitted.similar_counts["n_courses"] >= 11).all()
    saved = json.loads(fitted.save(tmp_path / "model.json").read_text())
    assert all(cell["n_courses"] >= 11 for cell in saved["similar_counts"])
    # a course in a cell left out gets 0: too few similar courses to show
    similar = fitted.similar(small)
    kept = set(map(tuple, fitted.similar_counts[["body_region", "baseline_band"]].to_numpy()))
    assert (similar["n_similar"].eq(0) | similar["n_similar"].ge(11)).all()
    assert len(kept) < 9  # 60 courses over 3 regions x 3 bands: some cells are small


# ---------------------------------------------------------------- for researchers: summary and calibration


def test_the_summary_lays_out_the_estimates_variance_dropped_covariates_and_validation(simulated):
    fitted = metrics.fit_expected_recovery(simulated, validate=False)
    summary = metrics.recovery_summary(fitted)
    assert list(summary.columns) == ["part", "term", "estimate", "se", "ci_lower", "ci_upper", "note"]
    fixed = summary[summary["part"] == "fixed"]
    assert fixed["term"].tolist() == list(fitted.names)
    np.testing.assert_allclose(fixed["estimate"], fitted.coefficients, rtol=1e-12)
    se = np.sqrt(np.diag(fitted.covariance))
    np.testing.assert_allclose(fixed["se"], se, rtol=1e-12)
    np.testing.assert_allclose(fixed["ci_lower"], fitted.coefficients - 1.959964 * se, rtol=1e-6)
    np.testing.assert_allclose(fixed["ci_upper"], fitted.coefficients + 1.959964 * se, rtol=1e-6)
    variance = summary[summary["part"] == "variance"].set_index("term")["estimate"]
    tau2, s2 = fitted.course_variance, fitted.residual_variance
    assert variance.to_dict() == pytest.approx(
        {"course_variance": tau2, "residual_variance": s2, "icc": tau2 / (tau2 + s2)}
    )
    dropped = summary[summary["part"] == "dropped"]
    assert dict(zip(dropped["term"], dropped["note"], strict=True)) == fitted.dropped
    model_rows = summary[summary["part"] == "model"].set_index("term")["estimate"]
    assert model_rows.to_dict() == {
        "n_courses": 500.0,
        "n_observations": float(fitted.n_observations),
        "available": 1.0,
    }
    validation = summary[summary["part"] == "validation"]
    assert validation[["term", "note"]].values.tolist() == [["status", "not_run"]]  # validate=False

    small = metrics.fit_expected_recovery(simulate(30, seed=7))  # too few: not fitted, the reason only
    rows = metrics.recovery_summary(small)
    assert set(rows["part"]) == {"model"}
    assert rows.set_index("term").loc["available", "note"].startswith("too_few_courses: 30 courses")


def test_validation_predictions_are_the_out_of_sample_predictions_the_coverage_was_measured_on(tmp_path):
    fitted = metrics.fit_expected_recovery(simulate(400, seed=8), covariates=("baseline",))
    check, held_out = fitted.validation, fitted.validation_predictions
    assert list(held_out.columns) == ["day", "observed", "expected", "lower", "upper", "position"]  # no IDs
    assert len(held_out) == check["n_predictions"]
    inside = (held_out["observed"] >= held_out["lower"]) & (held_out["observed"] <= held_out["upper"])
    assert inside.mean() == pytest.approx(check["coverage"], abs=1e-12)
    assert np.mean(np.abs(held_out["observed"] - held_out["expected"])) == pytest.approx(check["mae_model"], abs=1e-12)
    table = metrics.calibration_table(held_out)
    assert table["decile"].tolist() == list(range(1, 11)) and table["n"].sum() == check["n_predictions"]
    assert np.average(table["coverage"], weights=table["n"]) == pytest.approx(check["coverage"], abs=1e-12)
    summary = metrics.recovery_summary(fitted).query("part == 'validation'").set_index("term")["estimate"]
    assert summary["coverage"] == check["coverage"] and summary["n_courses_test"] == check["n_courses_test"]
    # held in memory only: never saved
    loaded = load_expected_recovery(fitted.save(tmp_path / "model.json"))
    assert loaded.validation_predictions.empty and "validation_predictions" not in (tmp_path / "model.json").read_text()


def test_the_calibration_table_by_hand():
    predictions = pd.DataFrame(
        {
            "expected": [5.0, 1.0, 3.0, 3.0, 7.0, 2.0, 6.0, np.nan],
            "observed": [4.0, 2.0, 3.0, 6.0, 7.0, 1.0, 9.0, 5.0],
            "lower": [3.0, 0.0, 2.0, 2.0, 5.0, 0.5, 4.0, 0.0],
            "upper": [7.0, 3.0, 4.0, 4.0, 9.0, 4.0, 8.0, 10.0],
        }
    )
    table = metrics.calibration_table(predictions, bins=3)
    # the unscored row left out; 7 rows sorted by expected (the two 3.0s in their order): 1, 2, 3(a), 3(b), 5, 6, 7;
    # row i goes to group i * 3 // 7 + 1: groups of 3, 2 and 2 rows
    assert table["decile"].tolist() == [1, 2, 3]
    assert table["n"].tolist() == [3, 2, 2]
    np.testing.assert_allclose(table["mean_expected"], [(1 + 2 + 3) / 3, (3 + 5) / 2, (6 + 7) / 2])
    np.testing.assert_allclose(table["mean_observed"], [(2 + 1 + 3) / 3, (6 + 4) / 2, (9 + 7) / 2])
    np.testing.assert_allclose(table["median_observed"], [2.0, 5.0, 8.0])
    # inside the band: 2 in [0, 3], 1 in [0.5, 4], 3 in [2, 4] | 6 not in [2, 4], 4 in [3, 7] | 9 not in [4, 8], 7 in [5, 9]
    np.testing.assert_allclose(table["coverage"], [1.0, 0.5, 0.5])
    assert metrics.calibration_table(predictions, bins=20)["n"].tolist() == [1] * 7  # no more groups than rows
    assert metrics.calibration_table(predictions.iloc[:0]).empty
    assert list(metrics.calibration_table(predictions.iloc[:0]).columns) == list(table.columns)
    with pytest.raises(ValueError, match=r"`bins` must be a whole number of at least 1, got 0"):
        metrics.calibration_table(predictions, bins=0)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['lower', 'upper'\]"):
        metrics.calibration_table(predictions[["expected", "observed"]])

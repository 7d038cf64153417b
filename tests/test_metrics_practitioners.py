"""Comparing practitioners: attribution, funnel limits, overdispersion, case-mix adjustment."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from needling_analytics import reporting
from needling_analytics.clinic import Clinic
from needling_analytics.metrics.case_mix import case_mix_adjusted, practitioner_comparison
from needling_analytics.metrics.funnel import funnel_counts, funnel_limits, overdispersion, practitioner_funnel
from needling_analytics.metrics.pain import episode_pain
from needling_analytics.metrics.practitioners import attribute_episodes
from needling_analytics.reporting import text

from .conftest import demo_clinic_of, small_clinic


def clinic_of(episodes, patients=None):
    """A clinic from episodes given as (practitioner, baseline, latest[, extra episode columns]).

    Each episode gets two attended sessions a week apart, both with that
    practitioner: pain_pre is the baseline, then the latest score. The
    course of care ends on the day of its second session, unless the extra
    columns say otherwise (``{"end_date": None}``: still ongoing).
    """
    rows, sessions = [], []
    for i, (practitioner, baseline, latest, *extra) in enumerate(episodes):
        episode, patient = f"E{i:04d}", f"P{i:04d}"
        rows.append(
            {
                "episode_id": episode,
                "patient_id": patient,
                "start_date": "2026-01-05",
                "end_date": "2026-01-12",
                **(extra[0] if extra else {}),
            }
        )
        for k, (date, pain) in enumerate([("2026-01-05", baseline), ("2026-01-12", latest)]):
            sessions.append((f"S{i:04d}{k}", episode, patient, practitioner, date, pain))
    episodes = pd.DataFrame(rows)
    sessions = pd.DataFrame(
        sessions, columns=["session_id", "episode_id", "patient_id", "practitioner_id", "session_date", "pain_pre"]
    )
    return small_clinic(patients=patients, episodes=episodes, sessions=sessions)


def responders(practitioner, n_yes, n_no):
    """n_yes responders (8 -> 2) and n_no non-responders (8 -> 7)."""
    return [(practitioner, 8, 2)] * n_yes + [(practitioner, 8, 7)] * n_no


def spiegelhalter_limit(p, n, theta):
    """The interpolated exact limit, straight from scipy.stats.binom (Spiegelhalter 2005, Appendix A.1.1)."""
    r = stats.binom.ppf(p, n, theta)
    f_r, f_below = stats.binom.cdf(r, n, theta), stats.binom.cdf(r - 1, n, theta)
    return max(0.0, (r - (f_r - p) / (f_r - f_below)) / n)


# --- attribution --------------------------------------------------------------------------------


def test_episode_goes_to_the_practitioner_seen_most_and_ties_to_the_earliest():
    sessions = pd.DataFrame(
        [
            ("S1", "E1", "PR1", "2026-01-05", None), ("S2", "E1", "PR2", "2026-01-12", None), ("S3", "E1", "PR2", "2026-01-19", None),
            ("S4", "E2", "PR2", "2026-01-05", None), ("S5", "E2", "PR1", "2026-01-12", None),
            ("S6", "E3", "PR1", "2026-01-05", "10:00"), ("S7", "E3", "PR2", "2026-01-05", "09:00"),
            ("S8", "E4", None, "2026-01-05", None),
            ("S9", "E5", "PR1", "2026-01-05", None), ("S10", "E5", "PR2", "2026-01-06", None),
            ("S11", "E5", "PR2", "2026-01-07", None),
        ],
        columns=["session_id", "episode_id", "practitioner_id", "session_date", "session_time"],
    )  # fmt: skip
    sessions["patient_id"] = "P1"
    sessions["status"] = ["attended"] * 9 + ["cancelled", "no_show"]  # E5: PR2's two sessions were not attended
    episodes = pd.DataFrame(
        {"episode_id": [f"E{i}" for i in range(1, 6)], "patient_id": "P1", "start_date": "2026-01-05"}
    )
    clinic = Clinic.from_frames(patients=pd.DataFrame({"patient_id": ["P1"]}), episodes=episodes, sessions=sessions)
    out = attribute_episodes(clinic).set_index("episode_id")
    assert out["practitioner_id"].to_dict() == {"E1": "PR2", "E2": "PR2", "E3": "PR2", "E5": "PR1"}  # E4: nobody
    assert out.loc["E1", ["practitioner_sessions", "attended_sessions"]].tolist() == [2, 3]
    assert out.loc["E5", ["practitioner_sessions", "attended_sessions"]].tolist() == [1, 1]


# --- funnel limits ------------------------------------------------------------------------------


def test_limits_worked_by_hand_for_n_4_and_target_one_half():
    # Binomial(4, 0.5) cdf: 1/16, 5/16, 11/16, 15/16, 1.
    # upper 95%: p = 0.975 -> r = 4, alpha = (1 - 0.975) / (1 - 15/16) = 0.4 -> (4 - 0.4) / 4 = 0.9
    # upper 99.8%: p = 0.999 -> r = 4, alpha = 0.001 / (1/16) = 0.016 -> 3.984 / 4 = 0.996
    # lower: r = 0 and alpha > 0, so the limit is below 0 and clipped to 0
    row = funnel_limits(0.5, 4).iloc[3]
    assert row["n"] == 4
    assert row["upper_95"] == pytest.approx(0.9, abs=1e-12) and row["upper_998"] == pytest.approx(0.996, abs=1e-12)
    assert row["lower_95"] == 0 and row["lower_998"] == 0


def test_limits_match_scipy_binomial_for_one_n():
    n, theta = 57, 0.62
    limits = funnel_limits(theta, 100).set_index("n").loc[n]
    for column, p in [("lower_95", 0.025), ("upper_95", 0.975), ("lower_998", 0.001), ("upper_998", 0.999)]:
        expected = spiegelhalter_limit(p, n, theta)
        assert limits[column] == pytest.approx(expected, abs=1e-12), column
        # the interpolated limit lies between the neighbouring attainable proportions
        r = stats.binom.ppf(p, n, theta)
        assert (r - 1) / n <= limits[column] <= r / n
    # and the funnel narrows as n grows
    curve = funnel_limits(theta, 400)
    assert (
        curve["upper_998"].iloc[-1] < curve["upper_998"].iloc[50]
        and curve["lower_95"].iloc[-1] > curve["lower_95"].iloc[50]
    )


def test_widening_by_dispersion_scales_the_distance_from_the_target():
    plain, wide = funnel_limits(0.4, 60), funnel_limits(0.4, 60, dispersion=2.25)
    np.testing.assert_allclose(wide["upper_95"].iloc[49] - 0.4, 1.5 * (plain["upper_95"].iloc[49] - 0.4), atol=1e-12)
    assert (wide["lower_998"] <= plain["lower_998"]).all() and (wide["lower_998"] >= 0).all()


def test_target_zero_or_one_gives_flat_limits():
    assert (funnel_limits(1.0, 5)[["lower_95", "upper_998"]] == 1.0).all().all()
    assert (funnel_limits(0.0, 5)[["lower_998", "upper_95"]] == 0.0).all().all()


def test_custom_levels_name_their_columns():
    assert funnel_limits(0.5, 3, limits=(0.9,)).columns.tolist() == ["n", "lower_90", "upper_90"]


# --- practitioner_funnel ------------------------------------------------------------------------


def test_a_clearly_better_practitioner_is_flagged_above_and_small_volume_is_excluded():
    episodes = (
        responders("PR1", 29, 1) + responders("PR2", 12, 18) + responders("PR3", 12, 18) + responders("PR4", 5, 0)
    )
    episodes += [("PR2", 1, 0)]  # baseline too low: not assessable, not counted
    funnel = practitioner_funnel(clinic_of(episodes), min_episodes=10)
    assert funnel["practitioner_id"].tolist() == ["PR1", "PR2", "PR3"]  # PR4 has 5 episodes: left out
    assert funnel["n"].tolist() == [30, 30, 30] and funnel["responders"].tolist() == [29, 12, 12]
    target = (29 + 12 + 12) / 90  # PR4's episodes do not enter the target
    np.testing.assert_allclose(funnel["target"], target, atol=1e-12)
    np.testing.assert_allclose(funnel["indicator"], [29 / 30, 12 / 30, 12 / 30], atol=1e-12)
    upper_998 = spiegelhalter_limit(0.999, 30, target)
    lower_95 = spiegelhalter_limit(0.025, 30, target)
    assert funnel["upper_998"].iloc[0] == pytest.approx(upper_998, abs=1e-12)
    assert 29 / 30 > upper_998 and 12 / 30 > lower_95  # PR1 an alarm above; PR2 and PR3 (0.4 > 0.393) within
    assert funnel["flag"].tolist() == ["above 99.8%", "within", "within"]
    assert funnel.attrs["excluded_practitioners"] == 1 and funnel.attrs["excluded_episodes"] == 5
    assert not any("rank" in c for c in funnel.columns)
    assert funnel.attrs["responder_rule"]["abs_threshold"] == 2


def test_flags_read_the_widest_limit_crossed():
    # target 0.5 fixed; n = 40: 20 is within, 29/40 = 0.725 is above 95% but not 99.8%, 33/40 above 99.8%
    episodes = (
        responders("PR1", 20, 20) + responders("PR2", 29, 11) + responders("PR3", 33, 7) + responders("PR4", 11, 29)
    )
    funnel = practitioner_funnel(clinic_of(episodes), target=0.5).set_index("practitioner_id")
    up95, up998 = spiegelhalter_limit(0.975, 40, 0.5), spiegelhalter_limit(0.999, 40, 0.5)
    low95, low998 = spiegelhalter_limit(0.025, 40, 0.5), spiegelhalter_limit(0.001, 40, 0.5)
    assert up95 < 29 / 40 < up998 and 33 / 40 > up998 and low998 < 11 / 40 < low95
    assert funnel["flag"].to_dict() == {"PR1": "within", "PR2": "above 95%", "PR3": "above 99.8%", "PR4": "below 95%"}
    assert (funnel["target"] == 0.5).all()


def test_no_assessable_episode_gives_an_empty_funnel():
    funnel = practitioner_funnel(clinic_of([("PR1", 1, 0), ("PR1", 0, 0)]))
    assert funnel.empty and "upper_998" in funnel.columns and np.isnan(funnel.attrs["target"])
    assert overdispersion(funnel)["practitioners"].iloc[0] == 0 and np.isnan(overdispersion(funnel)["phi"].iloc[0])
    assert case_mix_adjusted(clinic_of([("PR1", 1, 0)])).empty


def test_the_funnel_and_the_case_mix_model_count_only_courses_that_have_ended():
    """Issue 10, verdict 3: ongoing courses scored at their latest visit so far are interim, not outcomes."""
    ongoing = {"end_date": None}
    # PR1: 12 ended courses, 9 improved; plus 8 ongoing courses that have not improved *yet*.
    # PR2: 10 ended courses, 5 improved; plus 3 ongoing that have improved so far.
    episodes = (
        responders("PR1", 9, 3) + [("PR1", 8, 7, ongoing)] * 8 + responders("PR2", 5, 5) + [("PR2", 8, 2, ongoing)] * 3
    )
    clinic = clinic_of(episodes)
    funnel = practitioner_funnel(clinic, min_episodes=10).set_index("practitioner_id")
    assert funnel["n"].to_dict() == {"PR1": 12, "PR2": 10}
    assert funnel["responders"].to_dict() == {"PR1": 9, "PR2": 5}
    assert funnel["target"].iloc[0] == pytest.approx(14 / 22, abs=1e-12)  # ended only: (9 + 5) / (12 + 10)
    assert funnel.attrs["ongoing_episodes"] == 11 and funnel.attrs["courses"] == "ended"
    # With the ongoing ones mixed in (the old behaviour), PR1 looks worse and PR2 better than their results.
    mixed = practitioner_funnel(clinic, min_episodes=10, courses="all").set_index("practitioner_id")
    assert mixed["n"].to_dict() == {"PR1": 20, "PR2": 13} and mixed["responders"].to_dict() == {"PR1": 9, "PR2": 8}
    assert mixed.attrs["ongoing_episodes"] == 0
    adjusted = case_mix_adjusted(clinic, min_episodes=10).set_index("practitioner_id")
    assert adjusted["n"].to_dict() == {"PR1": 12, "PR2": 10} and adjusted.attrs["model_episodes"] == 22
    assert adjusted["responders"].to_dict() == {"PR1": 9, "PR2": 5} and adjusted.attrs["ongoing_episodes"] == 11
    # Every covariate is constant here (baseline 8, nothing else recorded), so the model is intercept +
    # practitioner: its fit reproduces each practitioner's rate, and with the effects (which add to zero)
    # set to zero the intercept is the mean of their log-odds, (logit 9/12 + logit 5/10) / 2, worked by hand.
    assert adjusted.attrs["reliable"] and adjusted.attrs["covariates"] == []
    average = 1 / (1 + np.exp(-(np.log(9 / 3) + np.log(5 / 5)) / 2))
    assert adjusted["expected"].to_dict() == {
        "PR1": pytest.approx(12 * average, abs=1e-6), "PR2": pytest.approx(10 * average, abs=1e-6)
    }  # fmt: skip
    with pytest.raises(ValueError, match=r"`courses` must be 'ended' .* or 'all' .*, got 'open'"):
        practitioner_funnel(clinic, courses="open")


# --- overdispersion -----------------------------------------------------------------------------


def test_overdispersion_worked_by_hand_for_three_practitioners():
    # target 0.6 = (50 + 120 + 70) / 400; se = sqrt(0.24 / n): 0.04899 for n = 100, 0.03464 for n = 200
    funnel = pd.DataFrame({"n": [100, 200, 100], "indicator": [0.5, 0.6, 0.7], "target": 0.6})
    z = 0.1 / np.sqrt(0.24 / 100)  # 2.0412 for the first and third, 0 for the second
    phi = 2 * z**2 / 3  # 2.7778
    result = overdispersion(funnel, winsorize=0).iloc[0]
    assert result["practitioners"] == 3 and result["df"] == 2
    assert result["phi"] == pytest.approx(phi, abs=1e-12) and result["chi2"] == pytest.approx(3 * phi, abs=1e-12)
    assert result["p_value"] == pytest.approx(np.exp(-3 * phi / 2), abs=1e-12)  # chi-square, 2 df: exp(-x/2)
    # 3 practitioners: overdispersed, but the limits are widened only with 5 or more (issue 10)
    assert result["overdispersed"] and result["inflation"] == 1.0
    widened = overdispersion(funnel, winsorize=0, min_practitioners=3).iloc[0]
    assert widened["inflation"] == pytest.approx(phi, abs=1e-12)
    w = np.array([100, 200, 100]) / 0.24
    assert result["tau2"] == pytest.approx((3 * phi - 2) / (w.sum() - (w**2).sum() / w.sum()), abs=1e-12)
    # winsorised at 10%: the z-scores -2.04, 0, 2.04 are clipped at their 10th / 90th percentiles, +-0.8 x 2.04
    winsorised = overdispersion(funnel).iloc[0]
    assert winsorised["phi"] == pytest.approx(phi, abs=1e-12)
    assert winsorised["phi_winsorized"] == pytest.approx(2 * (0.8 * z) ** 2 / 3, abs=1e-12)


def test_no_overdispersion_when_rates_sit_on_the_target():
    funnel = pd.DataFrame({"n": [50, 80, 120, 60], "indicator": [0.61, 0.59, 0.6, 0.6], "target": 0.6})
    result = overdispersion(funnel).iloc[0]
    assert not result["overdispersed"] and result["inflation"] == 1.0 and result["tau2"] == 0.0
    assert result["p_value"] > 0.9


def test_dispersion_widens_the_practitioner_limits():
    episodes = responders("PR1", 20, 10) + responders("PR2", 10, 20)
    plain = practitioner_funnel(clinic_of(episodes))
    wide = practitioner_funnel(clinic_of(episodes), dispersion=4.0)
    np.testing.assert_allclose(wide["upper_95"] - wide["target"], 2 * (plain["upper_95"] - plain["target"]), atol=1e-12)
    assert wide.attrs["dispersion"] == 4.0


# --- case mix -----------------------------------------------------------------------------------


def assessed(clinic):
    """Assessable episodes with their responder outcome ``y`` and the practitioner who gave every session."""
    episodes = episode_pain(clinic)
    episodes = episodes[episodes["assessable"]].reset_index(drop=True)
    practitioner = clinic.sessions.drop_duplicates("episode_id").set_index("episode_id")["practitioner_id"]
    return episodes.assign(
        y=episodes["responder"].astype(bool).astype(float), practitioner=episodes["episode_id"].map(practitioner)
    )


def hand_fit_expected(data, covariates, practitioner_terms=True):
    """Expected responders per practitioner from an independent per-episode statsmodels Logit (formula API).

    With ``practitioner_terms`` the model has sum-to-zero practitioner terms (patsy's ``Sum`` coding), which
    are then set to zero by hand in the design before predicting; without, the practitioner is left out.
    """
    terms = [*covariates, "C(practitioner, Sum)"] if practitioner_terms else list(covariates)
    fit = smf.logit("y ~ " + (" + ".join(terms) or "1"), data).fit(disp=0)
    exog = pd.DataFrame(fit.model.exog, columns=fit.model.exog_names)
    zeroed = exog.assign(**{c: 0.0 for c in exog.columns if c.startswith("C(practitioner")})
    probability = 1 / (1 + np.exp(-(zeroed.to_numpy() @ fit.params.to_numpy())))
    return pd.Series(probability).groupby(data["practitioner"].to_numpy()).sum(), fit


def simulated_case_mix(seed=11, n=300):
    """PR_A sees high-baseline patients, PR_B low-baseline ones; responding depends on baseline only."""
    rng = np.random.default_rng(seed)
    episodes = []
    for practitioner, low, high in (("PR_A", 7, 10), ("PR_B", 3, 6)):
        baseline = rng.integers(low, high + 1, n)
        respond = rng.random(n) < 1 / (1 + np.exp(-(-4.5 + 0.75 * baseline)))
        drop = np.maximum(2, np.ceil(0.3 * baseline))
        latest = np.where(respond, baseline - drop, baseline)
        episodes += [(practitioner, int(b), float(v)) for b, v in zip(baseline, latest, strict=True)]
    return clinic_of(episodes)


def test_case_mix_explains_the_raw_difference():
    clinic = simulated_case_mix()
    adjusted = case_mix_adjusted(clinic).set_index("practitioner_id")
    raw = adjusted["observed_rate"]
    assert raw["PR_A"] - raw["PR_B"] > 0.3  # the raw rates differ a lot
    assert adjusted["o_minus_e"].abs().max() < 0.05  # but not once baseline is accounted for
    np.testing.assert_allclose(adjusted["o_over_e"], adjusted["responders"] / adjusted["expected"], rtol=1e-12)
    assert adjusted.attrs["reliable"] and adjusted.attrs["problems"] == [] and adjusted.attrs["converged"]
    # Same expected counts from an independent per-episode fit of responder on baseline + practitioner,
    # the practitioner terms then set to zero by hand
    expected, fit = hand_fit_expected(assessed(clinic), ["baseline"])
    assert adjusted["expected"].to_dict() == {
        "PR_A": pytest.approx(expected["PR_A"], abs=1e-4), "PR_B": pytest.approx(expected["PR_B"], abs=1e-4)
    }  # fmt: skip
    assert adjusted.attrs["coefficients"]["baseline"] == pytest.approx(fit.params["baseline"], abs=1e-6)
    effect = fit.params["C(practitioner, Sum)[S.PR_A]"]  # patsy: PR_A's term, PR_B = minus it
    assert adjusted["practitioner_effect"].to_dict() == {
        "PR_A": pytest.approx(effect, abs=1e-6), "PR_B": pytest.approx(-effect, abs=1e-6)
    }  # fmt: skip
    assert not any("rank" in c for c in adjusted.columns)


def test_missing_covariates_are_a_category_and_rare_levels_are_merged():
    rng = np.random.default_rng(2)
    regions = ["neck"] * 41 + ["low_back"] * 39 + ["jaw"] * 3 + [None] * 17
    episodes, weeks = [], []
    for i, region in enumerate(regions):
        baseline = int(rng.integers(4, 10))
        latest = baseline - 3 if rng.random() < 0.5 else baseline
        weeks.append(None if i % 5 == 0 else float(rng.integers(1, 40)))
        episodes.append(
            ("PR1" if i % 2 else "PR2", baseline, latest, {"body_region": region, "symptom_duration_weeks": weeks[-1]})
        )
    birth = [None if i % 7 == 0 else 1960 + i % 40 for i in range(100)]
    patients = pd.DataFrame({"patient_id": [f"P{i:04d}" for i in range(len(regions))], "birth_year": birth})
    clinic = clinic_of(episodes, patients=patients)
    adjusted = case_mix_adjusted(clinic, min_category=10)
    coefficients = adjusted.attrs["coefficients"]
    # 17 episodes without a region are a level of their own; so are those without a duration or birth year
    assert {"body_region[unknown]", "duration_band[unknown]", "age_band[unknown]"} <= set(coefficients)
    # jaw (3 episodes) is pooled into 'other', itself too small, so into the most common region (neck, 41)
    assert adjusted.attrs["merged_levels"]["body_region"] == ["jaw"]
    assert not any("jaw" in name for name in coefficients)
    assert adjusted.attrs["dropped_covariates"] == {"sex": "not recorded"}
    assert adjusted.attrs["model_episodes"] == 100 and adjusted["n"].sum() == 100 and adjusted.attrs["reliable"]
    # Independent fit on covariates built here by hand: ages 2026 - birth year, bands at 30/45/60/75
    age = pd.Series([2026 - b if b else np.nan for b in birth])
    age_band = pd.cut(age, [0, 30, 45, 60, 75, np.inf], right=False, labels=["<30", "30-44", "45-59", "60-74", "75+"])
    age_band = age_band.astype(object).where(age.notna(), "unknown")
    rare_ages = sorted(age_band.value_counts().loc[lambda c: c < 10].index)
    assert adjusted.attrs["merged_levels"].get("age_band", []) == rare_ages
    week = pd.Series(weeks, dtype=float)
    duration = np.select([week < 6, week <= 12, week > 12], ["acute", "subacute", "chronic"], default="unknown")
    assert "duration_band" not in adjusted.attrs["merged_levels"] and min(pd.Series(duration).value_counts()) >= 10
    data = assessed(clinic)
    index = data["episode_id"].str[1:].astype(int).to_numpy()  # E0007 -> episode 7
    pooled_age = age_band.where(~age_band.isin(rare_ages), "other")
    if (pooled_age == "other").sum() < 10:  # the pool, too small itself, joins the most common band
        pooled_age = pooled_age.replace("other", pooled_age[pooled_age != "other"].value_counts().index[0])
    data = data.assign(
        region=pd.Series(regions, dtype=object).fillna("unknown").replace("jaw", "neck").to_numpy()[index],
        duration=duration[index],
        age=pooled_age.to_numpy()[index],
    )
    expected, _ = hand_fit_expected(data, ["baseline", "C(duration)", "C(age)", "C(region)"])
    assert adjusted.set_index("practitioner_id")["expected"].to_dict() == {
        "PR1": pytest.approx(expected["PR1"], abs=1e-4), "PR2": pytest.approx(expected["PR2"], abs=1e-4)
    }  # fmt: skip


def test_everyone_responding_cannot_be_modelled_and_says_so():
    """12 of 12 improved: the model's estimate is infinite; nothing is made up, and the report is told why."""
    adjusted = case_mix_adjusted(clinic_of(responders("PR1", 12, 0)))
    row = adjusted.iloc[0]
    assert row["n"] == 12 and row["responders"] == 12
    assert np.isnan(row["expected"]) and np.isnan(row["o_over_e"]) and row["flag"] == "not estimable"
    assert not adjusted.attrs["reliable"] and not adjusted.attrs["converged"]
    assert adjusted.attrs["problems"] == ["every assessed course of care improved"]
    assert adjusted.attrs["coefficients"] == {}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: practitioner_funnel(c, min_episodes=0), r"`min_episodes` must be a whole number, 1 or more, got 0"),
        (
            lambda c: practitioner_funnel(c, limits=(0.95, 1.2)),
            r"`limits` must be coverage levels between 0 and 1, such as \(0.95, 0.998\), got \(0.95, 1.2\)",
        ),
        (lambda c: practitioner_funnel(c, limits="high"), r"`limits` must be coverage levels .* got 'high'"),
        (
            lambda c: practitioner_funnel(c, dispersion=0),
            r"`dispersion` must be a positive number \(1 means none\), got 0",
        ),
        (lambda c: practitioner_funnel(c, target=1.5), r"`target` must be a proportion from 0 to 1 or None, got 1.5"),
        (lambda c: case_mix_adjusted(c, min_category=0), r"`min_category` must be a whole number, 1 or more, got 0"),
        (lambda c: funnel_limits(0.5, 0), r"`n_max` must be a whole number, 1 or more, got 0"),
        (lambda c: funnel_limits(-0.1, 10), r"`target` must be a proportion from 0 to 1, got -0.1"),
        (
            lambda c: overdispersion(practitioner_funnel(c), winsorize=0.5),
            r"`winsorize` must be a share from 0 to under 0.5 \(0.1 means 10%\), got 0.5",
        ),
        (lambda c: overdispersion(practitioner_funnel(c), alpha=0), r"`alpha` must be between 0 and 1, got 0"),
    ],
)
def test_options_are_checked(call, message):
    with pytest.raises(ValueError, match=message):
        call(clinic_of(responders("PR1", 6, 6)))


def test_generated_clinic_invariants():
    clinic = demo_clinic_of(n_patients=400, seed=0)
    funnel = practitioner_funnel(clinic, min_episodes=20)
    pain = episode_pain(clinic)
    assessable = pain["assessable"].sum()
    ended = set(clinic.episodes.loc[clinic.episodes["end_date"].notna(), "episode_id"])
    ongoing = int((pain["assessable"] & ~pain["episode_id"].isin(ended)).sum())
    assert ongoing > 0 and funnel.attrs["ongoing_episodes"] == ongoing  # ongoing courses: interim, left out
    assert (
        funnel["n"].sum() + funnel.attrs["excluded_episodes"] + funnel.attrs["unattributed_episodes"] + ongoing
        == assessable
    )
    assert funnel["indicator"].between(0, 1).all() and funnel["responders"].le(funnel["n"]).all()
    assert (funnel["lower_998"] <= funnel["lower_95"]).all() and (funnel["lower_95"] <= funnel["target"]).all()
    assert (funnel["target"] <= funnel["upper_95"]).all() and (funnel["upper_95"] <= funnel["upper_998"]).all()
    assert funnel["target"].iloc[0] == pytest.approx(funnel["responders"].sum() / funnel["n"].sum(), abs=1e-12)
    assert set(funnel["flag"]) <= {"within", "above 95%", "below 95%", "above 99.8%", "below 99.8%"}
    dispersion = overdispersion(funnel).iloc[0]
    assert dispersion["practitioners"] == len(funnel) and 0 <= dispersion["p_value"] <= 1
    adjusted = case_mix_adjusted(clinic, min_episodes=20)
    assert adjusted["practitioner_id"].tolist() == funnel["practitioner_id"].tolist()
    assert adjusted["responders"].tolist() == funnel["responders"].tolist()
    assert adjusted["expected_rate"].between(0, 1).all() and adjusted.attrs["converged"]
    assert adjusted.attrs["reliable"] and adjusted.attrs["problems"] == [] and adjusted.attrs["fit_warnings"] == []
    assert adjusted["practitioner_effect"].sum() == pytest.approx(0, abs=1e-9)  # effects add to zero
    np.testing.assert_allclose(adjusted["o_minus_e"], adjusted["observed_rate"] - adjusted["expected_rate"], atol=1e-12)


# --- practitioner not recorded (optional practitioner_id) ----------------------------------------


def test_sessions_without_a_practitioner_are_left_out_and_counted():
    from needling_analytics.metrics.practitioners import practitioner_recording

    # PR1: 6 responders, 4 not; PR2: 3 and 7; 5 episodes (10 sessions) with no practitioner recorded
    episodes = responders("PR1", 6, 4) + responders("PR2", 3, 7) + responders(None, 5, 0)
    clinic = clinic_of(episodes)
    funnel = practitioner_funnel(clinic, min_episodes=10).set_index("practitioner_id")
    assert funnel["n"].to_dict() == {"PR1": 10, "PR2": 10}
    assert funnel["responders"].to_dict() == {"PR1": 6, "PR2": 3}
    assert funnel["target"].iloc[0] == pytest.approx(9 / 20, abs=1e-12)  # the unrecorded 5 do not enter it
    assert funnel.attrs["unattributed_episodes"] == 5 and funnel.attrs["practitioners_recorded"]
    assert set(attribute_episodes(clinic)["practitioner_id"]) == {"PR1", "PR2"}
    assert case_mix_adjusted(clinic, min_episodes=10)["n"].tolist() == [10, 10]
    recording = practitioner_recording(clinic).iloc[0]
    assert recording.to_dict() == {
        "attended_sessions": 50, "without_practitioner": 10, "practitioners": 2, "recorded": True
    }  # fmt: skip


def test_a_clinic_with_no_practitioner_at_all_gives_empty_comparisons():
    from needling_analytics.metrics.practitioners import practitioner_recording
    from needling_analytics.reporting import text

    clinic = clinic_of(responders(None, 6, 6))
    funnel = practitioner_funnel(clinic, min_episodes=1)
    assert funnel.empty and funnel.attrs["unattributed_episodes"] == 12
    assert not funnel.attrs["practitioners_recorded"]
    assert attribute_episodes(clinic).empty
    assert case_mix_adjusted(clinic, min_episodes=1).empty
    assert np.isnan(overdispersion(funnel)["phi"].iloc[0])
    recording = practitioner_recording(clinic)
    assert recording.iloc[0].to_dict() == {
        "attended_sessions": 24, "without_practitioner": 24, "practitioners": 0, "recorded": False
    }  # fmt: skip
    assert text.practitioner_recording(recording).startswith("Practitioners are not recorded in this clinic's data")


def test_report_sentence_counts_sessions_without_a_practitioner():
    from needling_analytics.metrics.practitioners import practitioner_recording
    from needling_analytics.reporting import text

    some = practitioner_recording(clinic_of(responders("PR1", 2, 1) + responders(None, 1, 0)))
    assert text.practitioner_recording(some) == (
        "2 attended sessions have no practitioner recorded; they are left out of the practitioner comparison."
    )
    assert text.practitioner_recording(practitioner_recording(clinic_of(responders("PR1", 2, 1)))) == ""


def test_safety_and_pseudonyms_work_without_practitioners():
    from needling_analytics.metrics.safety import serious_events
    from needling_analytics.reporting.pseudonyms import label_practitioners, practitioner_labels

    clinic = clinic_of(responders(None, 2, 0) + responders("PR1", 1, 0))
    labels = practitioner_labels(clinic)
    assert list(labels.index) == ["PR1"]
    named = label_practitioners(pd.DataFrame({"practitioner_id": [None, "PR1"]}), labels)
    assert named["practitioner_id"].isna().tolist() == [True, False]
    assert serious_events(clinic).empty
    assert practitioner_labels(clinic_of(responders(None, 2, 0))).empty


# --- the funnel verdict counts hidden practitioners (issue 10, wrong verdict 1) ---------------------


def exact_binomial_limit(p, n, theta):
    """Spiegelhalter's interpolated limit from the binomial sums written out (no scipy, no code under test).

    F(r) = sum_{k <= r} C(n, k) theta^k (1 - theta)^(n - k); r is the smallest count with F(r) >= p;
    the limit is (r - (F(r) - p) / (F(r) - F(r - 1))) / n (Spiegelhalter 2005, Stat Med 24:1185, A.1.1).
    """
    cdf, previous = 0.0, 0.0
    for r in range(n + 1):
        previous, cdf = cdf, cdf + math.comb(n, r) * theta**r * (1 - theta) ** (n - r)
        if cdf >= p:
            return max(0.0, (r - (cdf - p) / (cdf - previous)) / n)
    return 1.0


def issue_case_clinic():
    """The case of issue 10: practitioners with 22/40, 24/45, 20/38 and 6/30 responders."""
    episodes = responders("PR1", 22, 18) + responders("PR2", 24, 21) + responders("PR3", 20, 18)
    return clinic_of(episodes + responders("PR4", 6, 24))


def clinic_report_funnel(clinic, min_cell_size=11):
    """The funnel steps of notebooks/clinic_report.py, in order."""
    first_pass = practitioner_funnel(clinic)
    spread = overdispersion(first_pass)
    funnel = practitioner_funnel(clinic, dispersion=float(spread["inflation"].iloc[0]))
    return funnel, spread, reporting.protect_funnel(funnel, min_cell_size=min_cell_size)


def test_issue_case_limits_match_the_binomial_worked_out_independently():
    theta = 72 / 153  # target: (22 + 24 + 20 + 6) / (40 + 45 + 38 + 30)
    funnel, spread, _ = clinic_report_funnel(issue_case_clinic())
    funnel = funnel.set_index("practitioner_id")
    assert funnel["target"].iloc[0] == pytest.approx(theta, abs=1e-12)
    assert spread["practitioners"].iloc[0] == 4 and funnel.attrs["dispersion"] == 1.0  # 4 < 5: never widened
    for pid, n in [("PR1", 40), ("PR2", 45), ("PR3", 38), ("PR4", 30)]:
        for column, p in [("lower_95", 0.025), ("upper_95", 0.975), ("lower_998", 0.001), ("upper_998", 0.999)]:
            assert funnel.loc[pid, column] == pytest.approx(exact_binomial_limit(p, n, theta), abs=1e-9), (pid, column)
    # n = 30: lower 95% limit 0.2752, lower 99.8% limit 0.1773; 6/30 = 0.2 lies between them
    assert exact_binomial_limit(0.001, 30, theta) < 6 / 30 < exact_binomial_limit(0.025, 30, theta)
    assert funnel.loc["PR4", "lower_95"] == pytest.approx(0.27518, abs=5e-5)
    assert funnel["flag"].to_dict() == {"PR1": "within", "PR2": "within", "PR3": "within", "PR4": "below 95%"}


def test_issue_case_verdict_counts_the_hidden_practitioner_without_naming_it():
    funnel, spread, shown = clinic_report_funnel(issue_case_clinic())
    # PR4 has 6 responders (1 to 10): hidden; with the clinic's totals two more must go as complements
    assert shown["practitioner_id"].tolist() == ["PR2"] and shown.attrs["hidden_practitioners"] == 3
    counts = shown.attrs["practitioner_counts"]
    six = {k: counts[k] for k in ("shown", "hidden", "above_95", "below_95", "above_998", "below_998")}
    assert six == {"shown": 1, "hidden": 3, "above_95": 0, "below_95": 1, "above_998": 0, "below_998": 0}
    assert counts["hidden_outside"] == {"below 95%": 1}
    sentence = text.funnel_summary(shown, spread)
    assert "1 practitioner not shown for privacy is below the 95% limit." in sentence
    assert "1 of the 4 practitioners compared is outside the 95% limits." in sentence
    assert "Every practitioner" not in sentence and "no bigger than chance" not in sentence
    assert not [pid for pid in ("PR1", "PR3", "PR4") if pid in sentence]  # hidden ones are never named
    assert "fewer than 5 practitioners" in sentence and "widened (by" not in sentence


def test_funnel_counts_are_inclusive_and_count_hidden_ones_by_widest_limit():
    # target 0.5, n = 40: 29/40 is above the 95% limit only, 33/40 above 99.8%, 11/40 below 95% only
    episodes = responders("PR1", 20, 20) + responders("PR2", 29, 11) + responders("PR3", 33, 7)
    funnel = practitioner_funnel(clinic_of(episodes + responders("PR4", 11, 29)), target=0.5)
    counts = funnel_counts(funnel, hidden=[False, False, True, True])
    assert {k: counts[k] for k in ("shown", "hidden", "above_95", "below_95", "above_998", "below_998")} == {
        "shown": 2, "hidden": 2, "above_95": 2, "below_95": 1, "above_998": 1, "below_998": 0,
    }  # fmt: skip
    assert counts["hidden_outside"] == {"above 99.8%": 1, "below 95%": 1}
    assert funnel_counts(funnel)["hidden"] == 0 and funnel_counts(funnel)["hidden_outside"] == {}
    with pytest.raises(ValueError, match="one value per practitioner"):
        funnel_counts(funnel, hidden=[True])


@pytest.mark.parametrize("k", [1, 4, 20, 37])
def test_expected_alerts_by_chance_alone(k):
    # two-sided 95% limits: each practitioner is outside them with probability 0.05 under no difference
    funnel = pd.DataFrame(
        {"indicator": [0.5] * k, "lower_95": 0.4, "upper_95": 0.6, "lower_998": 0.3, "upper_998": 0.7}
    )
    counts = funnel_counts(funnel)
    assert counts["expected_outside_95"] == pytest.approx(k * 0.05, abs=1e-12)
    assert counts["expected_outside_998"] == pytest.approx(k * 0.002, abs=1e-12)


def test_overdispersion_widening_needs_at_least_five_practitioners():
    # target 0.5, n = 100: se = 0.05, so rates 0.3 / 0.7 are z = -4 / +4 and 0.5 is z = 0
    four = pd.DataFrame({"n": 100, "indicator": [0.3, 0.5, 0.7, 0.5], "target": 0.5})
    five = pd.DataFrame({"n": 100, "indicator": [0.3, 0.5, 0.7, 0.5, 0.5], "target": 0.5})
    with_four, with_five = overdispersion(four, winsorize=0).iloc[0], overdispersion(five, winsorize=0).iloc[0]
    assert with_four["phi"] == pytest.approx(32 / 4) and with_five["phi"] == pytest.approx(32 / 5)
    assert with_four["p_value"] == pytest.approx(stats.chi2.sf(32, 3)) and with_four["overdispersed"]
    assert with_four["inflation"] == 1.0  # 4 practitioners: not widened
    assert with_five["overdispersed"] and with_five["inflation"] == pytest.approx(32 / 5)  # 5: widened by phi
    with pytest.raises(ValueError, match="`min_practitioners` must be a whole number, 2 or more"):
        overdispersion(four, min_practitioners=1)


# --- case mix: practitioner effects fitted, then set to zero (issue 10) ---------------------------


def by_duration(practitioner, n_yes, n_no, weeks):
    """n_yes responders and n_no non-responders with a symptom duration of ``weeks``."""
    extra = {"symptom_duration_weeks": weeks}
    return [(practitioner, 8, 2, extra)] * n_yes + [(practitioner, 8, 7, extra)] * n_no


def test_confounded_case_mix_needs_the_practitioner_terms():
    """PR_S sees most of the long-standing (chronic) cases, which improve less, and does better with them.

    A model without practitioner terms credits PR_S's good results to the
    chronic cases (chronic looks less hard than it is), so expects more of
    PR_S and calls them ordinary; fitted with the practitioners and then
    set to zero, the model expects less and PR_S stands out.
    """
    episodes = by_duration("PR_S", 33, 27, 30.0) + by_duration("PR_S", 9, 1, 2.0)
    for practitioner in ("PR_B", "PR_C", "PR_D"):  # each: 3/10 chronic, 36/50 acute
        episodes += by_duration(practitioner, 3, 7, 30.0) + by_duration(practitioner, 36, 14, 2.0)
    clinic = clinic_of(episodes)
    adjusted = case_mix_adjusted(clinic).set_index("practitioner_id")
    assert adjusted.attrs["reliable"] and adjusted.attrs["covariates"] == ["duration_band"]
    data = assessed(clinic)
    data["duration"] = np.where(
        data["episode_id"].map(clinic.episodes.set_index("episode_id")["symptom_duration_weeks"]) > 12,
        "chronic",
        "acute",
    )
    zeroed, _ = hand_fit_expected(data, ["C(duration)"])
    without, _ = hand_fit_expected(data, ["C(duration)"], practitioner_terms=False)
    for practitioner in adjusted.index:
        assert adjusted.loc[practitioner, "expected"] == pytest.approx(zeroed[practitioner], abs=1e-4)
    # the two models disagree about PR_S by about 6 responders: 29.0 with the terms zeroed, 35.3 without
    assert zeroed["PR_S"] == pytest.approx(28.96, abs=0.01) and without["PR_S"] == pytest.approx(35.31, abs=0.01)
    # The verdict, worked out from scipy's binomial: O = 42 of 70 against Binomial(70, E / 70)
    assert 42 > 70 * spiegelhalter_limit(0.999, 70, zeroed["PR_S"] / 70)  # above the 99.8% limit
    assert 42 < 70 * spiegelhalter_limit(0.975, 70, without["PR_S"] / 70)  # the naive model: within
    assert adjusted["flag"].to_dict() == {"PR_B": "within", "PR_C": "within", "PR_D": "within", "PR_S": "above 99.8%"}
    assert adjusted.loc["PR_S", "practitioner_effect"] > 0


def test_a_practitioner_with_every_course_improved_falls_back_to_the_plain_funnel():
    episodes = responders("PR1", 12, 0) + responders("PR2", 6, 6) + responders("PR3", 5, 7)
    clinic = clinic_of(episodes)
    adjusted = case_mix_adjusted(clinic)
    reason = "for 1 practitioner every one of their courses of care improved, so how they compare with the others cannot be measured"
    assert not adjusted.attrs["reliable"] and adjusted.attrs["problems"] == [reason]
    assert adjusted["expected"].isna().all() and (adjusted["flag"] == "not estimable").all()
    funnel, spread = practitioner_comparison(clinic)
    plain = practitioner_funnel(clinic)
    assert not funnel.attrs["adjusted"] and funnel.attrs["adjustment_problems"] == [reason]
    assert (
        funnel["flag"].tolist() == plain["flag"].tolist()
        and funnel["indicator"].tolist() == plain["indicator"].tolist()
    )
    assert spread["practitioners"].iloc[0] == 3
    sentence = text.case_mix_sentence(reporting.protect_funnel(funnel, min_cell_size=1))
    assert sentence == (
        "This comparison could not allow for differences in patients between practitioners, because "
        f"{reason}; it compares their plain rates."
    )


def test_a_group_of_patients_who_all_improved_is_named():
    episodes = by_duration("PR1", 10, 0, 2.0) + by_duration("PR1", 5, 10, 30.0)
    episodes += by_duration("PR2", 10, 0, 2.0) + by_duration("PR2", 6, 8, 30.0)
    adjusted = case_mix_adjusted(clinic_of(episodes))
    assert not adjusted.attrs["reliable"]
    assert adjusted.attrs["problems"] == [
        "every course of care improved for patients with symptom duration 'acute (<6 weeks)'"
    ]


def test_case_mix_that_cannot_be_told_apart_from_the_practitioner_is_surfaced():
    """PR1 sees only acute cases, PR2 only chronic ones: the duration and practitioner columns are the same."""
    clinic = clinic_of(by_duration("PR1", 6, 6, 2.0) + by_duration("PR2", 4, 8, 30.0))
    adjusted = case_mix_adjusted(clinic)
    data = assessed(clinic)
    design = np.column_stack(
        [np.ones(len(data)), data["practitioner"] == "PR1", data["episode_id"].isin([f"E{i:04d}" for i in range(12)])]
    )
    assert np.linalg.matrix_rank(design.astype(float)) == 2  # three columns, rank two
    assert not adjusted.attrs["reliable"] and not adjusted.attrs["converged"]
    assert adjusted.attrs["problems"] == [
        "the patients' case mix cannot be told apart from who treated them "
        "(some group of patients was seen by one practitioner only)"
    ]
    assert adjusted["expected"].isna().all()
    funnel, _ = practitioner_comparison(clinic)
    assert not funnel.attrs["adjusted"] and "cannot be told apart" in text.case_mix_sentence(funnel)


def test_pain_at_the_start_that_predicts_every_outcome_is_surfaced_with_the_warning():
    """Everyone starting at 7 or more improved, nobody below: statsmodels warns; the warning is kept."""
    episodes = [(p, b, b - 4 if b >= 7 else b) for p in ("PR1", "PR2") for b in range(3, 11) for _ in range(2)]
    adjusted = case_mix_adjusted(clinic_of(episodes))
    assert not adjusted.attrs["reliable"]
    assert "the patients' details alone tell exactly which courses of care improved" in adjusted.attrs["problems"]
    assert any(w.startswith("PerfectSeparationWarning") for w in adjusted.attrs["fit_warnings"])
    assert adjusted["expected"].isna().all()


def test_a_fit_that_did_not_converge_is_surfaced(monkeypatch):
    import needling_analytics.metrics.case_mix as case_mix

    fit = case_mix.sm.GLM.fit
    monkeypatch.setattr(case_mix.sm.GLM, "fit", lambda self, **options: fit(self, maxiter=1, **options))
    adjusted = case_mix_adjusted(clinic_of(responders("PR1", 9, 3) + responders("PR2", 5, 5)))
    assert not adjusted.attrs["reliable"] and not adjusted.attrs["converged"]
    assert adjusted.attrs["problems"] == ["the calculation did not settle on an answer"]
    assert adjusted["expected"].isna().all()


def test_the_adjusted_rates_are_read_against_the_average_practitioner():
    """The line to compare with is sum E / sum n (the average practitioner with these patients), not sum O / sum n."""
    episodes = by_duration("PR_S", 33, 27, 30.0) + by_duration("PR_S", 9, 1, 2.0)
    for practitioner in ("PR_B", "PR_C", "PR_D"):
        episodes += by_duration(practitioner, 3, 7, 30.0) + by_duration(practitioner, 36, 14, 2.0)
    adjusted = case_mix_adjusted(clinic_of(episodes))
    # hand fit (test_confounded_case_mix_needs_the_practitioner_terms): E = 42.148 x 3 and 28.962, of 250 courses
    target = (3 * 42.148457 + 28.961837) / 250
    assert adjusted["target"].iloc[0] == pytest.approx(target, abs=1e-5)
    assert adjusted.attrs["clinic_rate"] == pytest.approx((42 + 3 * 39) / 250, abs=1e-12)
    assert adjusted["indicator"].tolist() == pytest.approx((adjusted["o_over_e"] * target).tolist(), abs=1e-5)
    # the flags read O against Binomial(n, E / n) whatever the line: PR_B is 39 of 60 against E = 42.148
    assert adjusted.set_index("practitioner_id").loc["PR_B", "indicator"] < target

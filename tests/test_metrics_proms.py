"""Questionnaires (PROMs): the instrument table, change per episode, and the summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from needling_analytics.clinic import Clinic
from needling_analytics.metrics.norms import instrument_table
from needling_analytics.metrics.proms import COLUMNS, prom_change, summarize_proms
from needling_analytics.schema import INSTRUMENT_RANGES, INSTRUMENTS

from .conftest import demo_clinic_of, small_clinic


def clinic_of(rows):
    """A clinic from (episode, completed_on, instrument, score) rows."""
    proms = pd.DataFrame(rows, columns=["episode_id", "completed_on", "instrument", "score"])
    return small_clinic(proms=proms, episodes_from="proms")


def pair(instrument, baseline, latest, episode="E1"):
    """Two scores a month apart."""
    return [(episode, "2026-01-05", instrument, baseline), (episode, "2026-02-05", instrument, latest)]


def row_of(rows, **kwargs) -> pd.Series:
    out = prom_change(clinic_of(rows), **kwargs)
    assert len(out) == 1, out
    return out.iloc[0]


# --- the instrument table --------------------------------------------------------------------------------------


def test_instrument_table_directions_mcids_and_sources():
    table = instrument_table().set_index("instrument")
    assert list(table.index) == list(INSTRUMENTS)
    assert table.loc[["NDI", "ODI", "QuickDASH"], "better"].eq("lower").all()
    assert table.loc[["PSFS", "LEFS"], "better"].eq("higher").all() and pd.isna(table.loc["other", "better"])
    expected_mcid = {"NDI": 7.5, "ODI": 10, "PSFS": 2, "LEFS": 9, "QuickDASH": 13.4}
    assert {k: table.loc[k, "mcid"] for k in expected_mcid} == expected_mcid and np.isnan(table.loc["other", "mcid"])
    assert table.loc["QuickDASH", "mdc"] == 17.1 and table.loc["NDI", "mdc"] == 10.2 and table.loc["LEFS", "mdc"] == 9
    for name in ("NDI", "ODI", "PSFS", "LEFS", "QuickDASH"):
        assert (table.loc[name, "scale_min"], table.loc[name, "scale_max"]) == INSTRUMENT_RANGES[name]
    assert table["source"].str.len().gt(0).all()


# --- prom_change: hand-worked cases --------------------------------------------------------------------------


def test_ndi_lower_is_better_worked_by_hand():
    row = row_of(pair("NDI", 20, 8))
    assert (row["baseline_score"], row["latest_score"], row["change"], row["n_scores"]) == (20, 8, -12, 2)
    assert row["better"] == "lower" and row["improvement"] == 12
    assert row["pct_improvement"] == pytest.approx(60.0, abs=1e-12)  # 12 of 20 points to the best score 0
    # threshold max(MCID 7.5, MDC 10.2) = 10.2 (Young 2009)
    assert row["mcid"] == 10.2 and row["assessable"] and row["assessment"] == "reached_mcid"
    assert row["reached_mcid"] == True  # noqa: E712
    assert (row["baseline_date"], row["latest_date"]) == (pd.Timestamp("2026-01-05"), pd.Timestamp("2026-02-05"))


def test_lefs_higher_is_better_worked_by_hand():
    row = row_of(pair("LEFS", 40, 52))
    assert row["change"] == 12 and row["better"] == "higher" and row["improvement"] == 12
    assert row["pct_improvement"] == pytest.approx(30.0, abs=1e-12)  # 12 of the 40 points up to 80
    assert row["reached_mcid"] == True  # noqa: E712  12 >= 9
    row = row_of(pair("LEFS", 40, 30))
    assert (
        row["change"] == -10 and row["improvement"] == -10 and row["pct_improvement"] == pytest.approx(-25.0, abs=1e-12)
    )
    assert row["assessment"] == "not_reached_mcid" and row["reached_mcid"] == False  # noqa: E712
    # The same numbers on the NDI (lower is better) mean the opposite.
    row = row_of(pair("NDI", 40, 28))
    assert row["improvement"] == 12 and row["reached_mcid"] == True  # noqa: E712


@pytest.mark.parametrize(
    ("instrument", "baseline", "latest", "reached"),
    [
        ("NDI", 20, 9.8, True),  # exactly the MDC 10.2 (the MCID 7.5 lies inside measurement error)
        ("NDI", 20, 9.9, False),  # 10.1
        ("ODI", 40, 30, True),  # exactly 10
        ("ODI", 40, 31, False),
        ("PSFS", 3.1, 5.1, True),  # 5.1 - 3.1 = 1.9999999999999996 in floating point: still 2
        ("PSFS", 3.0, 4.9, False),
        ("LEFS", 30, 39, True),
        ("LEFS", 30, 38, False),
        ("QuickDASH", 50, 32.9, True),  # the SDC 17.1 (the MIC 13.4 lies inside measurement error)
        ("QuickDASH", 50, 33.0, False),
    ],
)
def test_mcid_boundaries(instrument, baseline, latest, reached):
    row = row_of(pair(instrument, baseline, latest))
    assert row["assessable"] and row["reached_mcid"] == reached


@pytest.mark.parametrize(
    ("instrument", "baseline", "assessable"),
    [
        ("NDI", 5, False),  # 5 points from the best score 0 < 10.2
        ("NDI", 10, False),  # room for the MCID 7.5, not for the MDC 10.2
        ("NDI", 10.2, True),  # exactly the MDC of room
        ("LEFS", 75, False),  # 5 points below 80 < 9
        ("LEFS", 71, True),
        ("PSFS", 8.5, False),
        ("QuickDASH", 10, False),
        ("ODI", 0, False),
    ],
)
def test_a_baseline_with_less_room_than_the_mcid_cannot_be_assessed(instrument, baseline, assessable):
    row = row_of(pair(instrument, baseline, baseline))
    assert row["assessable"] == assessable
    if not assessable:
        assert row["assessment"] == "too_little_room" and pd.isna(row["reached_mcid"])
    else:
        assert row["assessment"] == "not_reached_mcid"


def test_the_baseline_at_the_best_score_has_no_percent():
    row = row_of(pair("NDI", 0, 4))
    assert row["improvement"] == -4 and np.isnan(row["pct_improvement"])


def test_no_follow_up_single_score_and_same_day_repeat():
    row = row_of([("E1", "2026-01-05", "NDI", 20)])
    assert np.isnan(row["latest_score"]) and pd.isna(row["latest_date"]) and np.isnan(row["change"])
    assert row["assessment"] == "no_follow_up" and not row["assessable"] and pd.isna(row["reached_mcid"])
    row = row_of([("E1", "2026-01-05", "NDI", 20), ("E1", "2026-01-05", "NDI", 10)])
    assert row["baseline_score"] == 20 and row["n_scores"] == 2 and row["assessment"] == "no_follow_up"


def test_latest_is_the_last_later_score_and_missing_scores_are_ignored():
    rows = [
        ("E1", "2026-03-01", "ODI", 30),
        ("E1", "2026-01-05", "ODI", 50),
        ("E1", "2026-02-01", "ODI", None),
        ("E1", "2026-02-01", "ODI", 40),
    ]
    row = row_of(rows)
    assert (row["baseline_score"], row["latest_score"], row["improvement"], row["n_scores"]) == (50, 30, 20, 3)


def test_unknown_instrument_other_is_not_classified():
    row = row_of(pair("other", 30, 20))
    assert row["change"] == -10 and pd.isna(row["better"]) and np.isnan(row["improvement"])
    assert np.isnan(row["mcid"]) and np.isnan(row["pct_improvement"])
    assert row["assessment"] == "no_mcid" and not row["assessable"] and pd.isna(row["reached_mcid"])


def test_odi_percent_threshold():
    # 40 -> 29: 11 points (>= 10) but 27.5% (< 30).
    assert row_of(pair("ODI", 40, 29))["reached_mcid"] == True  # noqa: E712
    row = row_of(pair("ODI", 40, 29), odi_threshold="percent")
    assert row["mcid"] == pytest.approx(12.0, abs=1e-12) and row["reached_mcid"] == False  # noqa: E712
    # 20 -> 14: 6 points (< 10) but exactly 30%.
    assert row_of(pair("ODI", 20, 14))["reached_mcid"] == False  # noqa: E712
    row = row_of(pair("ODI", 20, 14), odi_threshold="percent")
    assert row["pct_improvement"] == pytest.approx(30.0, abs=1e-12) and row["reached_mcid"] == True  # noqa: E712
    # Other instruments are unaffected.
    assert row_of(pair("NDI", 20, 12.6), odi_threshold="percent")["mcid"] == 10.2


def test_instrument_overrides_and_selection():
    rows = pair("NDI", 20, 12, "E1") + pair("LEFS", 30, 40, "E2")
    clinic = clinic_of(rows)
    assert prom_change(clinic).set_index("instrument").loc["NDI", "reached_mcid"] == False  # noqa: E712  8 < 10.2
    loose = prom_change(clinic, instruments=pd.DataFrame({"instrument": ["NDI"], "mcid": [7.5], "mdc": [np.nan]}))
    assert loose.set_index("instrument").loc["NDI", "reached_mcid"] == True  # noqa: E712  no MDC: 8 >= 7.5
    assert loose.set_index("instrument").loc["LEFS", "mcid"] == 9
    assert list(prom_change(clinic, instruments=["LEFS"])["instrument"]) == ["LEFS"]
    assert list(prom_change(clinic, instruments="NDI")["episode_id"]) == ["E1"]


def test_rows_are_per_episode_and_instrument():
    rows = pair("NDI", 20, 10, "E1") + pair("PSFS", 3, 6, "E1") + pair("NDI", 30, 30, "E2")
    out = prom_change(clinic_of(rows))
    assert list(zip(out["episode_id"], out["instrument"], strict=True)) == [
        ("E1", "NDI"),
        ("E1", "PSFS"),
        ("E2", "NDI"),
    ]
    assert list(out.columns) == COLUMNS and list(out["patient_id"]) == ["P1", "P1", "P2"]


def test_empty_proms_give_empty_frames():
    clinic = Clinic.from_frames(patients=pd.DataFrame({"patient_id": ["P1"]}))
    out = prom_change(clinic)
    assert out.empty and list(out.columns) == COLUMNS
    assert summarize_proms(out).empty


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"odi_threshold": "30%"}, r"`odi_threshold` must be 'points' or 'percent', got '30%'"),
        ({"instruments": ["NDI", "SF-36"]}, r"`instruments` has unknown instrument 'SF-36'"),
        (
            {"instruments": 5},
            r"`instruments` must be a DataFrame with an `instrument` column \(or a list of names\), got 'int'",
        ),
        (
            {"instruments": pd.DataFrame({"instrument": ["NDI"], "better": ["down"]})},
            r"`instruments` better must be 'lower' or 'higher', got 'down'",
        ),
        (
            {"instruments": pd.DataFrame({"instrument": ["NDI"], "mcid": [-2.0]})},
            r"`instruments` values must be numbers of zero or more, got -2.0",
        ),
        (
            {"instruments": pd.DataFrame({"instrument": ["SF-36"], "mcid": [2.0]})},
            r"`instruments` has an unknown instrument 'SF-36'",
        ),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        prom_change(clinic_of(pair("NDI", 20, 10)), **kwargs)


# --- summarize_proms ---------------------------------------------------------------------------------------------


def test_summary_worked_by_hand():
    rows = (
        pair("NDI", 20, 8, "E1")  # improvement 12: reached
        + pair("NDI", 30, 26, "E2")  # improvement 4: not reached
        + [("E3", "2026-01-05", "NDI", 25)]  # no follow-up
        + pair("NDI", 4, 0, "E4")  # improvement 4, too little room
        + pair("other", 10, 5, "E5")
    )
    table = summarize_proms(prom_change(clinic_of(rows))).set_index("instrument")
    ndi = table.loc["NDI"]
    assert (ndi["episodes"], ndi["with_follow_up"], ndi["assessable"], ndi["reached_mcid"]) == (4, 3, 2, 1)
    assert ndi["mean_improvement"] == pytest.approx(20 / 3, abs=1e-12)  # (12 + 4 + 4) / 3
    assert ndi["median_improvement"] == pytest.approx(4.0, abs=1e-12)
    assert ndi["share_reached_mcid"] == pytest.approx(0.5, abs=1e-12)
    lower, upper = proportion_confint(1, 2, alpha=0.05, method="beta")
    assert (ndi["ci_lower"], ndi["ci_upper"]) == (pytest.approx(lower, abs=1e-9), pytest.approx(upper, abs=1e-9))
    other = table.loc["other"]
    assert (other["episodes"], other["with_follow_up"], other["assessable"], other["reached_mcid"]) == (1, 1, 0, 0)
    assert np.isnan(other["share_reached_mcid"]) and np.isnan(other["mean_improvement"]) and np.isnan(other["ci_lower"])


def test_summary_by_group_and_errors():
    rows = pair("NDI", 20, 8, "E1") + pair("NDI", 20, 18, "E2")
    changes = prom_change(clinic_of(rows)).assign(practitioner_id=["PR1", "PR2"])
    table = summarize_proms(changes, by="practitioner_id")
    assert list(table["practitioner_id"]) == ["PR1", "PR2"] and list(table["reached_mcid"]) == [1, 0]
    assert list(table.columns[:2]) == ["practitioner_id", "instrument"]
    with pytest.raises(ValueError, match=r"`confidence` must be between 0 and 1, got 95"):
        summarize_proms(changes, confidence=95)
    with pytest.raises(ValueError, match=r"`changes` lacks column\(s\) \['clinic'\]"):
        summarize_proms(changes, by="clinic")


# --- integration -----------------------------------------------------------------------------------------------


def test_invariants_on_a_generated_clinic():
    clinic = demo_clinic_of(n_patients=400, seed=5)
    out = prom_change(clinic)
    proms = clinic.proms
    assert len(out) == len(proms[["episode_id", "instrument"]].drop_duplicates()) and out["n_scores"].sum() == len(
        proms
    )
    sign = out["better"].map({"lower": -1.0, "higher": 1.0}).astype("float64")
    np.testing.assert_allclose(out["improvement"], sign * out["change"], rtol=0, atol=1e-12)
    reached = out[out["reached_mcid"].fillna(False)]
    assert (reached["improvement"] >= reached["mcid"] - 1e-9).all() and len(reached) > 0
    missed = out[out["reached_mcid"].eq(False).fillna(False)]
    assert (missed["improvement"] < missed["mcid"]).all()
    assert (out["assessable"] == out["reached_mcid"].notna()).all()
    assert (out.loc[out["latest_score"].isna(), "assessment"].isin(["no_follow_up", "no_mcid"])).all()
    table = summarize_proms(out)
    assert table["episodes"].sum() == len(out)
    assert (table["with_follow_up"] <= table["episodes"]).all() and (
        table["assessable"] <= table["with_follow_up"]
    ).all()
    assert (table["reached_mcid"] <= table["assessable"]).all()
    share = table["share_reached_mcid"].dropna()
    assert share.between(0, 1).all()
    assert (table["ci_lower"] <= table["share_reached_mcid"] + 1e-12).all() and (
        table["share_reached_mcid"] <= table["ci_upper"] + 1e-12
    ).all()


def test_an_ndi_change_above_the_mcid_but_inside_measurement_error_is_not_important():
    # 20 -> 11: 9 points, above Young 2009's MCID 7.5 but below its MDC 10.2 (the old rule counted it)
    row = row_of(pair("NDI", 20, 11))
    assert row["improvement"] == 9 and row["assessable"]
    assert row["mcid"] == 10.2 and row["reached_mcid"] == False  # noqa: E712
    # QuickDASH: 15 points, above the MIC 13.4, below the SDC 17.1 (van Kampen 2013)
    assert row_of(pair("QuickDASH", 60, 45))["reached_mcid"] == False  # noqa: E712
    # LEFS: MCID = MDC = 9, unchanged; ODI and PSFS have no MDC, so their MCID stands
    assert row_of(pair("LEFS", 30, 39))["mcid"] == 9 and row_of(pair("PSFS", 3, 5))["mcid"] == 2


def test_summary_interval_is_clustered_by_patient():
    # 6 patients with two NDI courses each, both improved or both not: wider than 12 independent courses
    rows = []
    for i in range(12):
        rows += pair("NDI", 30, 15 if (i // 2) % 2 == 0 else 28, f"E{i:02d}")
    changes = prom_change(clinic_of(rows))
    changes["patient_id"] = [f"P{i // 2}" for i in range(12)]
    row = summarize_proms(changes).iloc[0]
    lower, upper = proportion_confint(6, 12, alpha=0.05, method="beta")
    assert row["share_reached_mcid"] == pytest.approx(0.5, abs=1e-12)
    assert row["ci_upper"] - row["ci_lower"] > upper - lower + 0.05

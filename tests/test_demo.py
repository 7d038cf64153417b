"""Tests of the synthetic demo clinic (needling_analytics.demo).

Expected figures are computed here independently, with plain pandas, from
the generated tables.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from needling_analytics.demo import DEMO_END, generate_clinic, make_messy, write_clinic
from needling_analytics.demo.generator import demo_holidays
from needling_analytics.demo.messy import FAULT_KINDS
from needling_analytics.reference import plausible_degrees
from needling_analytics.schema import INSTRUMENT_RANGES, TABLES

PERIOD_START = pd.Timestamp("2025-11-01")
PERIOD_END = pd.Timestamp(DEMO_END)


@pytest.fixture(scope="module")
def clinic() -> dict[str, pd.DataFrame]:
    return generate_clinic()


@pytest.fixture(scope="module")
def attended(clinic) -> pd.DataFrame:
    sessions = clinic["sessions"]
    return sessions[sessions["status"] == "attended"]


@pytest.fixture(scope="module")
def per_episode(clinic, attended) -> pd.DataFrame:
    """Per episode: attended sessions, first and last pain_pre, early frequency."""
    start = clinic["episodes"].set_index("episode_id")["start_date"]
    days = (attended["session_date"] - attended["episode_id"].map(start)).dt.days
    scored = attended.assign(days=days).dropna(subset=["pain_pre"]).sort_values(["episode_id", "session_date"])
    pain = scored.groupby("episode_id")["pain_pre"]
    early = scored[scored["days"] < 28].groupby("episode_id")["pain_pre"]
    out = pd.DataFrame(
        {
            "n_attended": attended.groupby("episode_id").size(),
            "n_scored": pain.size(),
            "first": pain.first(),
            "last": pain.last(),
            "early_sessions": attended[days < 28].groupby("episode_id").size(),
            "week4_scored": early.size(),
            "week4_last": early.last(),
        }
    )
    out["reduction"] = out["first"] - out["last"]
    out["percent"] = out["reduction"] / out["first"].where(out["first"] > 0)
    out["week4_percent"] = (out["first"] - out["week4_last"]) / out["first"].where(out["first"] > 0)
    return out.join(clinic["episodes"].set_index("episode_id")[["end_date", "discharge_reason"]])


def spearman(x: pd.Series, y: pd.Series) -> float:
    both = pd.DataFrame({"x": x, "y": y}).dropna()
    return both["x"].rank().corr(both["y"].rank())


# ----------------------------------------------------------------------------
# Determinism and structure
# ----------------------------------------------------------------------------


def test_same_seed_gives_identical_tables(clinic):
    again = generate_clinic()
    for name, frame in clinic.items():
        pd.testing.assert_frame_equal(frame, again[name])


def test_other_seed_gives_other_tables(clinic):
    other = generate_clinic(seed=1)
    assert not other["sessions"].equals(clinic["sessions"])
    assert not other["patients"].equals(clinic["patients"])


def test_columns_follow_the_schema(clinic):
    assert list(clinic) == ["patients", "episodes", "sessions", "rom", "proms", "adverse_events", "journal"]
    for name, frame in clinic.items():
        spec = TABLES[name]
        assert list(frame.columns) == spec.column_names, name
        for column in spec.columns:
            dtype = frame[column.name].dtype
            if column.kind == "date":
                assert dtype == "datetime64[ns]", (name, column.name)
            elif column.kind == "number":
                assert dtype == "float64", (name, column.name)
            elif column.kind == "integer":
                assert dtype == "Int64", (name, column.name)
            else:
                assert pd.api.types.is_string_dtype(dtype), (name, column.name)


def test_every_table_has_rows(clinic):
    assert len(clinic["patients"]) == 400
    for name, frame in clinic.items():
        assert len(frame) > 0, name


def test_categories_are_allowed_values(clinic):
    for name, frame in clinic.items():
        for column in TABLES[name].columns:
            if column.allowed:
                values = set(frame[column.name].dropna())
                assert values <= set(column.allowed), (name, column.name, values - set(column.allowed))


def test_numbers_are_within_schema_limits(clinic):
    for name, frame in clinic.items():
        for column in TABLES[name].columns:
            if column.kind in ("number", "integer") and (column.minimum is not None or column.maximum is not None):
                values = frame[column.name].dropna().astype(float)
                low = -np.inf if column.minimum is None else column.minimum
                high = np.inf if column.maximum is None else column.maximum
                assert values.between(low, high).all(), (name, column.name)


def test_pain_scores_are_whole_points_from_0_to_10(attended, clinic):
    for values in (attended["pain_pre"], attended["pain_post"], clinic["journal"]["pain"]):
        values = values.dropna()
        assert values.between(0, 10).all()
        assert (values == values.round()).all()
    both = attended.dropna(subset=["pain_pre", "pain_post"])
    assert (both["pain_post"] <= both["pain_pre"]).all()


def test_ids_are_unique_and_well_formed(clinic):
    keys = {"patients": "patient_id", "episodes": "episode_id", "sessions": "session_id"}
    for table, key in keys.items():
        assert clinic[table][key].is_unique, table
    assert clinic["patients"]["patient_id"].str.fullmatch(r"P\d{4}").all()
    assert clinic["episodes"]["episode_id"].str.fullmatch(r"E\d{5}").all()
    assert clinic["sessions"]["session_id"].str.fullmatch(r"S\d{6}").all()
    assert not clinic["journal"].duplicated(["patient_id", "entry_date"]).any()
    practitioners = set(clinic["sessions"]["practitioner_id"])
    assert practitioners == {"PR01", "PR02", "PR03", "PR04"}


def test_patients_look_real(clinic):
    patients = clinic["patients"]
    age = PERIOD_END.year - patients["birth_year"]
    assert age.between(17, 86).all()
    assert patients["postcode"].str.fullmatch(r"\d{5}").all()
    assert patients["postcode"].str.startswith("0").any()
    assert patients["sex"].isin(["F", "M"]).mean() > 0.95
    assert patients[["first_name", "last_name"]].notna().all().all()


# ----------------------------------------------------------------------------
# Dates
# ----------------------------------------------------------------------------


def _all_dates(clinic) -> dict[str, pd.Series]:
    return {
        "start_date": clinic["episodes"]["start_date"],
        "end_date": clinic["episodes"]["end_date"].dropna(),
        "session_date": clinic["sessions"]["session_date"],
        "measured_on": clinic["rom"]["measured_on"],
        "completed_on": clinic["proms"]["completed_on"],
        "entry_date": clinic["journal"]["entry_date"],
    }


def test_dates_fall_in_the_period(clinic):
    for name, values in _all_dates(clinic).items():
        assert values.between(PERIOD_START, PERIOD_END).all(), name
        assert (values == values.dt.normalize()).all(), name


def test_visits_are_on_weekdays_and_not_on_holidays(clinic):
    visits = pd.concat([clinic["sessions"]["session_date"], clinic["episodes"]["start_date"]])
    assert (visits.dt.day_of_week < 5).all()
    fixed = visits.dt.strftime("%m-%d").isin(["01-01", "12-25", "12-26", "05-01"])
    assert not fixed.any()
    assert not visits.isin(demo_holidays(PERIOD_START, PERIOD_END)).any()
    assert pd.Timestamp("2026-04-03") in demo_holidays(PERIOD_START, PERIOD_END)  # Good Friday 2026


def test_session_times_are_clinic_slots(clinic):
    times = clinic["sessions"]["session_time"]
    assert times.str.fullmatch(r"\d{2}:(00|15|30|45)").all()
    assert times.between("08:00", "18:30").all()


def test_sessions_lie_within_their_episode(clinic):
    sessions = clinic["sessions"].merge(clinic["episodes"], on="episode_id", suffixes=("", "_episode"))
    assert (sessions["session_date"] >= sessions["start_date"]).all()
    ended = sessions["end_date"].notna()
    assert (sessions.loc[ended, "session_date"] <= sessions.loc[ended, "end_date"]).all()
    first = clinic["sessions"].groupby("episode_id")["session_date"].min()
    start = clinic["episodes"].set_index("episode_id")["start_date"]
    pd.testing.assert_series_equal(first.sort_index(), start.sort_index(), check_names=False)


def test_episodes_end_consistently(clinic):
    episodes = clinic["episodes"]
    assert (episodes["end_date"].isna() == episodes["discharge_reason"].isna()).all()
    assert (episodes["end_date"].dropna() >= episodes.loc[episodes["end_date"].notna(), "start_date"]).all()
    reasons = episodes["discharge_reason"].value_counts()
    assert reasons.idxmax() == "goals_met"
    assert {"referred", "self_discharged"} <= set(reasons.index)
    assert 0.1 < episodes["end_date"].isna().mean() < 0.5


def test_second_episodes_start_after_the_first_ended(clinic):
    episodes = clinic["episodes"].sort_values(["patient_id", "start_date"])
    counts = episodes["patient_id"].value_counts()
    assert (counts <= 2).all()
    assert 0.05 < (counts == 2).mean() < 0.25
    previous_end = episodes.groupby("patient_id")["end_date"].shift()
    later = episodes["patient_id"].duplicated()
    assert (episodes.loc[later, "start_date"] > previous_end[later]).all()


# ----------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------


def test_references_resolve(clinic, attended):
    patients = set(clinic["patients"]["patient_id"])
    episode_patient = clinic["episodes"].set_index("episode_id")["patient_id"]
    sessions = clinic["sessions"]
    assert clinic["episodes"]["patient_id"].isin(patients).all()
    assert patients == set(clinic["episodes"]["patient_id"])
    assert (sessions["episode_id"].map(episode_patient) == sessions["patient_id"]).all()
    for table in ("rom", "proms"):
        frame = clinic[table]
        assert (frame["episode_id"].map(episode_patient) == frame["patient_id"]).all(), table
    events = clinic["adverse_events"]
    session_patient = attended.set_index("session_id")["patient_id"]
    assert (events["session_id"].map(session_patient) == events["patient_id"]).all()
    rom_session = clinic["rom"]["session_id"].map(attended.set_index("session_id")["session_date"])
    assert (rom_session == clinic["rom"]["measured_on"]).all()
    assert clinic["journal"]["patient_id"].isin(patients).all()


def test_cancelled_sessions_have_no_treatment(clinic):
    sessions = clinic["sessions"]
    missed = sessions[sessions["status"] != "attended"]
    assert missed[["pain_pre", "pain_post", "needles", "muscles", "twitch_response"]].isna().all().all()
    treated = sessions[sessions["status"] == "attended"]
    assert treated["needles"].between(1, 15).all()
    assert treated["muscles"].str.split(";").str.len().between(1, 3).all()
    assert treated["twitch_response"].eq("yes").mean() == pytest.approx(0.6, abs=0.05)


# ----------------------------------------------------------------------------
# Measurements
# ----------------------------------------------------------------------------


def test_rom_readings_are_plausible(clinic):
    rom = clinic["rom"].merge(plausible_degrees(), on=["joint", "movement"], how="left")
    assert rom["min_degrees"].notna().all()
    assert rom["degrees"].between(rom["min_degrees"], rom["max_degrees"]).all()
    assert (rom["degrees"] == rom["degrees"].round()).all()
    cervical = clinic["rom"][clinic["rom"]["joint"] == "cervical_spine"]
    assert cervical["device"].value_counts().idxmax() == "crom"
    assert clinic["rom"]["mode"].eq("active").mean() > 0.7


def test_rom_improves_over_the_episode(clinic):
    rom = clinic["rom"].sort_values("measured_on")
    keys = ["episode_id", "joint", "movement", "side"]
    change = rom.groupby(keys)["degrees"].last() - rom.groupby(keys)["degrees"].first()
    repeated = rom.groupby(keys).size() > 1
    assert change[repeated].mean() > 0


def test_prom_scores_are_in_range(clinic):
    proms = clinic["proms"]
    low = proms["instrument"].map({name: low for name, (low, _) in INSTRUMENT_RANGES.items()})
    high = proms["instrument"].map({name: high for name, (_, high) in INSTRUMENT_RANGES.items()})
    assert proms["score"].between(low, high).all()
    neck = proms.merge(clinic["episodes"], on="episode_id")
    assert set(neck.loc[neck["body_region"] == "neck", "instrument"]) <= {"NDI", "PSFS"}
    assert 0.35 < proms["episode_id"].nunique() / len(clinic["episodes"]) < 0.65


def test_proms_track_the_pain_change(clinic, per_episode):
    proms = clinic["proms"].sort_values(["episode_id", "completed_on"])
    lower_better = proms[proms["instrument"].isin(["NDI", "ODI", "QuickDASH"])]
    scores = lower_better.groupby("episode_id")["score"]
    both = scores.size() == 2
    change = (scores.first() - scores.last())[both] / scores.first()[both]
    assert (change > 0).mean() > 0.6
    assert change.corr(per_episode.loc[change.index, "percent"]) > 0.3


def test_adverse_events_follow_published_rates(clinic, attended):
    events = clinic["adverse_events"]
    rate = events["event_type"].value_counts() / len(attended)
    assert 0.05 <= rate["bruising"] <= 0.10
    assert 0.03 <= rate["bleeding"] <= 0.07
    assert events["severity"].value_counts().idxmax() == "mild"
    assert (events["severity"] == "serious").sum() <= 1
    bruising = events.loc[events["event_type"] == "bruising", "resolved_days"]
    assert bruising.between(3, 7).mean() > 0.95


def test_journal_shows_post_needling_soreness(clinic, attended):
    journal = clinic["journal"]
    visits = attended[["patient_id", "session_date"]].drop_duplicates()
    day_after = visits.assign(entry_date=visits["session_date"] + pd.Timedelta(days=1))
    two_later = visits.assign(entry_date=visits["session_date"] + pd.Timedelta(days=3))
    sore = journal.merge(day_after, on=["patient_id", "entry_date"])["pain"].mean()
    later = journal.merge(two_later, on=["patient_id", "entry_date"])["pain"].mean()
    assert sore > later + 0.5
    assert journal["pain"].corr(journal["stiffness"]) > 0.5
    assert journal["pain"].corr(journal["mobility"]) < -0.5
    assert 0.15 < journal["patient_id"].nunique() / len(clinic["patients"]) < 0.35


# ----------------------------------------------------------------------------
# Statistical shape of the default clinic
# ----------------------------------------------------------------------------


def test_about_a_third_do_not_reach_the_clinically_important_change(per_episode):
    assessable = per_episode[per_episode["n_scored"] >= 2]
    important = (assessable["reduction"] >= 2) & (assessable["percent"] >= 0.3)
    assert 0.2 <= 1 - important.mean() <= 0.45


def test_episode_lengths(per_episode):
    sessions = per_episode["n_attended"]
    assert 3 <= sessions.median() <= 8
    assert (sessions == 1).sum() >= 3
    assert (sessions >= 15).sum() >= 3


def test_cancellations_and_no_shows(clinic):
    status = clinic["sessions"]["status"]
    assert 0.07 <= status.isin(["cancelled", "no_show"]).mean() <= 0.15
    assert (status == "cancelled").sum() > (status == "no_show").sum()


def test_missing_pain_scores_are_rare(attended):
    assert attended["pain_pre"].isna().mean() == pytest.approx(0.02, abs=0.015)
    assert attended["pain_post"].isna().mean() == pytest.approx(0.03, abs=0.015)


def test_early_frequency_goes_with_faster_improvement(per_episode):
    enough = per_episode[per_episode["week4_scored"] >= 2]
    assert spearman(enough["early_sessions"], enough["week4_percent"]) > 0.1


def test_more_sessions_go_with_less_improvement(per_episode):
    discharged = per_episode[per_episode["end_date"].notna() & (per_episode["n_scored"] >= 2)]
    assert spearman(discharged["n_attended"], discharged["percent"]) < -0.1


# ----------------------------------------------------------------------------
# Arguments and output
# ----------------------------------------------------------------------------


def test_other_arguments():
    tables = generate_clinic(n_patients=30, months=3, end=date(2024, 12, 31), seed=5, n_practitioners=3)
    assert len(tables["patients"]) == 30
    sessions = tables["sessions"]["session_date"]
    assert sessions.between(pd.Timestamp("2024-10-01"), pd.Timestamp("2024-12-31")).all()
    assert set(tables["sessions"]["practitioner_id"]) <= {"PR01", "PR02", "PR03"}
    assert not sessions.isin(pd.to_datetime(["2024-12-25", "2024-12-26"])).any()


def test_a_single_patient_clinic_has_the_same_columns_and_dtypes(clinic):
    tables = generate_clinic(n_patients=1, n_practitioners=1, seed=3)
    assert len(tables["patients"]) == 1
    assert len(tables["sessions"]) >= 1
    for name, frame in tables.items():
        pd.testing.assert_series_equal(frame.dtypes, clinic[name].dtypes, obj=name)


@pytest.mark.parametrize(
    ("argument", "value"),
    [("n_patients", 0), ("months", 0), ("n_practitioners", 100), ("n_patients", 2.5)],
)
def test_bad_arguments_are_named(argument, value):
    with pytest.raises(ValueError, match=f"`{argument}` must be a whole number"):
        generate_clinic(**{argument: value})


def test_write_clinic_writes_iso_dates_and_blank_cells(clinic, tmp_path):
    paths = write_clinic(clinic, tmp_path / "demo")
    assert [p.name for p in paths] == [f"{name}.csv" for name in clinic]
    episodes = pd.read_csv(tmp_path / "demo" / "episodes.csv", dtype=str, keep_default_na=False)
    assert episodes["start_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert (episodes["end_date"] == "").sum() == clinic["episodes"]["end_date"].isna().sum()
    sessions = pd.read_csv(tmp_path / "demo" / "sessions.csv", dtype=str, keep_default_na=False)
    assert not sessions["pain_pre"].str.endswith(".0").any()
    assert list(sessions.columns) == TABLES["sessions"].column_names
    assert len(sessions) == len(clinic["sessions"])


def test_write_clinic_parquet_round_trips(clinic, tmp_path):
    pytest.importorskip("pyarrow")
    (path,) = write_clinic({"sessions": clinic["sessions"]}, tmp_path, fmt="parquet")
    back = pd.read_parquet(path)
    assert back["session_id"].tolist() == clinic["sessions"]["session_id"].tolist()


def test_write_clinic_rejects_unknown_format(clinic, tmp_path):
    with pytest.raises(ValueError, match="`fmt` must be 'csv' or 'parquet', not 'xls'"):
        write_clinic(clinic, tmp_path, fmt="xls")


# ----------------------------------------------------------------------------
# Messy copies
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def messy(clinic):
    before = {name: frame.copy() for name, frame in clinic.items()}
    tables, faults = make_messy(clinic, seed=0)
    for name, frame in clinic.items():
        pd.testing.assert_frame_equal(frame, before[name])
    return tables, faults


def _row(tables, table: str, key: str) -> pd.DataFrame:
    id_column = TABLES[table].key
    return tables[table][tables[table][id_column] == key]


def test_messy_lists_every_kind_of_fault(messy):
    _, faults = messy
    assert list(faults.columns) == ["table", "key", "column", "value", "fault"]
    assert set(faults["fault"]) == set(FAULT_KINDS)
    assert faults["fault"].value_counts().max() <= 3


def test_messy_tables_are_text(messy, clinic):
    tables, _ = messy
    assert list(tables) == list(clinic)
    for name, frame in tables.items():
        assert list(frame.columns) == TABLES[name].column_names
        for column in frame.columns:
            assert pd.api.types.is_string_dtype(frame[column]) or frame[column].dtype == object, (name, column)
    assert len(tables["sessions"]) == len(clinic["sessions"]) + 2


def test_messy_faults_can_be_found(messy, clinic):
    tables, faults = messy
    by_kind = {kind: group for kind, group in faults.groupby("fault")}
    for fault in faults.itertuples():
        row = _row(tables, fault.table, fault.key)
        assert len(row) >= 1, fault
        if isinstance(fault.column, str):
            written = row[fault.column].iloc[-1]
            assert (pd.isna(written) and pd.isna(fault.value)) or written == fault.value, fault
    typo = by_kind["category_typo"]
    assert set(typo["value"]).isdisjoint(set(TABLES["episodes"].column("body_region").allowed) | {"attended"})
    assert pd.to_numeric(by_kind["out_of_range"].set_index("column").loc["pain_pre", "value"]) > 10
    assert pd.isna(pd.to_datetime(by_kind["unparseable_date"]["value"].iloc[0], format="%Y-%m-%d", errors="coerce"))
    future = pd.to_datetime(by_kind["future_date"]["value"].iloc[0])
    assert future > PERIOD_END + pd.Timedelta(days=365)


def test_messy_duplicates(messy):
    tables, faults = messy
    exact = _row(tables, "sessions", faults.loc[faults["fault"] == "exact_duplicate", "key"].iloc[0])
    assert len(exact) == 2 and exact.iloc[0].equals(exact.iloc[1])
    conflict = _row(tables, "sessions", faults.loc[faults["fault"] == "conflicting_duplicate", "key"].iloc[0])
    assert len(conflict) == 2 and conflict["pain_pre"].nunique() == 2


def test_messy_references_and_episode_window(messy):
    tables, faults = messy
    episodes = tables["episodes"].set_index("episode_id")
    orphan = _row(tables, "sessions", faults.loc[faults["fault"] == "orphan_reference", "key"].iloc[0])
    assert orphan["episode_id"].iloc[0] not in episodes.index
    mismatch = _row(tables, "sessions", faults.loc[faults["fault"] == "patient_mismatch", "key"].iloc[0])
    assert mismatch["patient_id"].iloc[0] != episodes.loc[mismatch["episode_id"].iloc[0], "patient_id"]
    outside = _row(tables, "sessions", faults.loc[faults["fault"] == "outside_episode", "key"].iloc[0])
    when = pd.Timestamp(outside["session_date"].iloc[0])
    episode = episodes.loc[outside["episode_id"].iloc[0]]
    end = pd.Timestamp(episode["end_date"]) if pd.notna(episode["end_date"]) else PERIOD_END
    assert when < pd.Timestamp(episode["start_date"]) or when > end
    assert PERIOD_START <= when <= PERIOD_END


def test_messy_is_deterministic(clinic, messy):
    tables, faults = make_messy(clinic, seed=0)
    pd.testing.assert_frame_equal(faults, messy[1])
    pd.testing.assert_frame_equal(tables["sessions"], messy[0]["sessions"])
    _, other = make_messy(clinic, seed=1)
    assert not other["key"].equals(faults["key"])


def test_messy_needs_the_core_tables(clinic):
    with pytest.raises(ValueError, match="`tables` must include"):
        make_messy({"patients": clinic["patients"]})

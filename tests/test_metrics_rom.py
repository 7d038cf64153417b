"""Range of motion: reference tables (normal ranges, MDC) and change per series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from needling_analytics.clinic import Clinic
from needling_analytics.metrics.norms import mdc_table, normal_rom, resolve_mdc
from needling_analytics.metrics.rom import COLUMNS, rom_change
from needling_analytics.schema import JOINTS, MOVEMENTS, ROM_DEVICES

from .conftest import demo_clinic_of, small_clinic

FIELDS = [
    "episode_id",
    "measured_on",
    "joint",
    "movement",
    "side",
    "degrees",
    "device",
    "rater_id",
    "mode",
    "session_id",
]


def reading(episode="E1", on="2026-01-05", joint="cervical_spine", movement="rotation", side="left", degrees=60.0,
            device="crom", rater="PR1", mode="active", session=None):  # fmt: skip
    return (episode, on, joint, movement, side, degrees, device, rater, mode, session)


def clinic_of(rows, sessions=None):
    """A clinic from ROM readings (see ``reading``); episodes and patients are derived."""
    return small_clinic(rom=pd.DataFrame(rows, columns=FIELDS), sessions=sessions, episodes_from="rom")


def only(frame: pd.DataFrame) -> pd.Series:
    assert len(frame) == 1, frame
    return frame.iloc[0]


# --- reference tables ----------------------------------------------------------------------------------------


def test_normal_table_uses_the_schema_vocabulary_and_cites_every_row():
    table = normal_rom()
    assert list(table.columns) == ["joint", "movement", "normal_degrees", "source"]
    assert set(table["joint"]) <= set(JOINTS) and set(table["movement"]) <= set(MOVEMENTS)
    assert not table.duplicated(["joint", "movement"]).any()
    assert (table["normal_degrees"] > 0).all() and table["source"].str.len().gt(0).all()
    needed = {("cervical_spine", m) for m in ("flexion", "extension", "lateral_flexion", "rotation")}
    needed |= {("lumbar_spine", "flexion"), ("thoracic_spine", "rotation"), ("shoulder", "abduction"), ("elbow", "flexion"),
               ("forearm", "supination"), ("wrist", "extension"), ("hip", "flexion"), ("knee", "flexion"), ("ankle", "dorsiflexion")}  # fmt: skip
    assert needed <= set(zip(table["joint"], table["movement"], strict=True))
    # DOMAIN.md's common values (shoulder 180/180/90/70, hip 120/45, lumbar 60/25) hold.
    values = table.set_index(["joint", "movement"])["normal_degrees"]
    assert values[("shoulder", "flexion")] == 180 and values[("shoulder", "external_rotation")] == 90
    assert values[("shoulder", "internal_rotation")] == 70 and values[("hip", "abduction")] == 45
    assert values[("lumbar_spine", "flexion")] == 60 and values[("lumbar_spine", "extension")] == 25
    assert 45 <= values[("cervical_spine", "flexion")] <= 50 and 70 <= values[("cervical_spine", "rotation")] <= 80


def test_mdc_table_covers_every_joint_device_and_rater_situation():
    table = mdc_table()
    assert list(table.columns) == ["joint", "device", "same_rater", "mdc_degrees", "source"]
    assert len(table) == len(JOINTS) * len(ROM_DEVICES) * 2
    assert not table.duplicated(["joint", "device", "same_rater"]).any()
    assert (table["mdc_degrees"] > 0).all() and table["source"].str.len().gt(0).all()
    value = table.set_index(["joint", "device", "same_rater"])["mdc_degrees"]
    assert value[("cervical_spine", "crom", True)] == 9.6  # top of 3.5-9.6
    assert value[("shoulder", "inclinometer", False)] == 25  # de Winter 2004: 20-25
    assert value[("knee", "goniometer", True)] == 3.5 and value[("knee", "goniometer", False)] == 10.4
    # Two raters never beat one; a visual estimate never beats an instrument.
    wide = table.pivot_table(index=["joint", "device"], columns="same_rater", values="mdc_degrees")
    assert (wide[False] >= wide[True]).all()
    for joint in JOINTS:
        assert value[(joint, "visual", True)] >= value[(joint, "goniometer", True)]


# --- rom_change: hand-worked cases ---------------------------------------------------------------------------


def test_two_readings_same_device_and_rater_worked_by_hand():
    clinic = clinic_of([reading(degrees=60), reading(on="2026-01-19", degrees=72)])
    row = only(rom_change(clinic))
    assert (row["baseline_degrees"], row["latest_degrees"], row["gain_degrees"], row["n_readings"]) == (60, 72, 12, 2)
    assert row["latest_date"] == pd.Timestamp("2026-01-19")
    assert row["normal_degrees"] == 80  # cervical rotation, AMA Guides
    assert row["baseline_pct_normal"] == pytest.approx(75.0, abs=1e-12)  # 60 / 80
    assert row["latest_pct_normal"] == pytest.approx(90.0, abs=1e-12)  # 72 / 80
    assert row["same_device"] == True and row["same_rater"] == True and not row["rater_flag"]  # noqa: E712
    assert row["mdc_degrees"] == 9.6 and row["beyond_mdc"] == True  # noqa: E712  12 > 9.6
    assert row["change_class"] == "improved beyond measurement error"


def test_percent_of_normal_for_other_joints_by_hand():
    rows = [
        reading(joint="shoulder", movement="abduction", side="right", device="goniometer", degrees=90),
        reading(
            joint="shoulder", movement="abduction", side="right", device="goniometer", degrees=135, on="2026-02-02"
        ),
        reading(joint="hip", movement="flexion", side="left", device="goniometer", degrees=96),
    ]
    out = rom_change(clinic_of(rows)).set_index("joint", drop=False)
    assert out.loc["shoulder", "baseline_pct_normal"] == pytest.approx(50.0, abs=1e-12)  # 90 / 180
    assert out.loc["shoulder", "latest_pct_normal"] == pytest.approx(75.0, abs=1e-12)  # 135 / 180
    assert out.loc["hip", "baseline_pct_normal"] == pytest.approx(80.0, abs=1e-12)  # 96 / 120
    assert np.isnan(out.loc["hip", "latest_pct_normal"])


def test_a_single_reading_has_no_latest():
    row = only(rom_change(clinic_of([reading(degrees=60)])))
    assert row["baseline_degrees"] == 60 and np.isnan(row["latest_degrees"]) and np.isnan(row["gain_degrees"])
    assert pd.isna(row["latest_date"]) and pd.isna(row["latest_device"]) and np.isnan(row["mdc_degrees"])
    assert (
        pd.isna(row["same_device"])
        and pd.isna(row["same_rater"])
        and pd.isna(row["beyond_mdc"])
        and not row["rater_flag"]
    )
    assert row["change_class"] == "no follow-up"


def test_a_gain_exactly_at_the_mdc_is_not_beyond_it():
    knee = {"joint": "knee", "movement": "flexion", "side": "right", "device": "goniometer"}
    row = only(rom_change(clinic_of([reading(degrees=100, **knee), reading(on="2026-02-02", degrees=103.5, **knee)])))
    assert row["gain_degrees"] == 3.5 and row["mdc_degrees"] == 3.5
    assert row["beyond_mdc"] == False and row["change_class"] == "within measurement error"  # noqa: E712
    # 59.6 - 50.0 is 9.600000000000001 in floating point: still exactly the CROM MDC.
    row = only(rom_change(clinic_of([reading(degrees=50.0), reading(on="2026-02-02", degrees=59.6)])))
    assert row["beyond_mdc"] == False and row["change_class"] == "within measurement error"  # noqa: E712
    row = only(rom_change(clinic_of([reading(degrees=50.0), reading(on="2026-02-02", degrees=59.7)])))
    assert row["change_class"] == "improved beyond measurement error"


def test_a_loss_beyond_the_mdc_is_worse():
    row = only(rom_change(clinic_of([reading(degrees=70), reading(on="2026-02-02", degrees=55)])))
    assert row["gain_degrees"] == -15 and row["beyond_mdc"] == True  # noqa: E712
    assert row["change_class"] == "worse beyond measurement error"


def test_different_devices_are_not_compared_by_default():
    rows = [reading(degrees=60, device="crom"), reading(on="2026-02-02", degrees=69.8, device="goniometer")]
    row = only(rom_change(clinic_of(rows)))
    assert row["change_class"] == "not comparable" and np.isnan(row["latest_degrees"]) and pd.isna(row["beyond_mdc"])
    assert row["same_device"] == False and row["device"] == "crom" and row["n_readings"] == 2  # noqa: E712
    # Compared when asked: the larger MDC of the two devices applies (goniometer 10 > CROM 9.6).
    row = only(rom_change(clinic_of(rows), same_device_only=False))
    assert row["latest_degrees"] == 69.8 and row["gain_degrees"] == pytest.approx(9.8, abs=1e-9)
    assert row["device"] == "crom" and row["latest_device"] == "goniometer" and row["same_device"] == False  # noqa: E712
    assert row["mdc_degrees"] == 10.0 and row["change_class"] == "within measurement error"


def test_same_device_only_skips_other_devices_to_the_last_same_device_reading():
    rows = [
        reading(degrees=60, device="crom"),
        reading(on="2026-01-19", degrees=75, device="crom"),
        reading(on="2026-02-02", degrees=40, device="visual"),
    ]
    row = only(rom_change(clinic_of(rows)))
    assert (row["latest_degrees"], row["latest_date"], row["n_readings"]) == (75, pd.Timestamp("2026-01-19"), 3)
    row = only(rom_change(clinic_of(rows), same_device_only=False))
    assert row["latest_degrees"] == 40 and row["mdc_degrees"] == 15.0  # visual, one rater
    assert row["change_class"] == "worse beyond measurement error"


def test_different_raters_are_flagged_and_judged_against_the_inter_rater_mdc():
    shoulder = {"joint": "shoulder", "movement": "abduction", "side": "right", "device": "inclinometer"}
    rows = [
        reading(degrees=100, rater="PR1", **shoulder),
        reading(on="2026-02-02", degrees=120, rater="PR2", **shoulder),
    ]
    row = only(rom_change(clinic_of(rows)))
    assert row["same_rater"] == False and row["rater_flag"]  # noqa: E712
    assert row["mdc_degrees"] == 25 and row["change_class"] == "within measurement error"  # 20 <= 25 (de Winter 2004)
    # The same 20 degrees by one rater is beyond the intra-rater default of 10.
    rows[1] = reading(on="2026-02-02", degrees=120, rater="PR1", **shoulder)
    row = only(rom_change(clinic_of(rows)))
    assert row["same_rater"] == True and not row["rater_flag"] and row["mdc_degrees"] == 10  # noqa: E712
    assert row["change_class"] == "improved beyond measurement error"


def test_an_unknown_rater_is_not_flagged_but_gets_the_inter_rater_mdc():
    rows = [reading(degrees=60, rater=None), reading(on="2026-02-02", degrees=75, rater="PR1")]
    row = only(rom_change(clinic_of(rows)))
    assert pd.isna(row["same_rater"]) and not row["rater_flag"]
    assert row["mdc_degrees"] == 25 and row["change_class"] == "within measurement error"  # 15 <= 25


def test_an_unknown_baseline_device_is_never_the_same_device():
    rows = [reading(degrees=60, device=None), reading(on="2026-02-02", degrees=75, device="crom")]
    row = only(rom_change(clinic_of(rows)))
    assert row["change_class"] == "not comparable" and pd.isna(row["device"])
    row = only(rom_change(clinic_of(rows), same_device_only=False))
    assert row["mdc_degrees"] == 15.0  # the unknown device counts as "other" (15) > CROM (9.6)
    assert row["change_class"] == "within measurement error"


def test_same_day_readings_are_ordered_by_session_and_are_not_follow_ups():
    sessions = pd.DataFrame(
        {
            "session_id": ["S1", "S2", "S3"],
            "episode_id": ["E1"] * 3,
            "patient_id": ["P1"] * 3,
            "practitioner_id": ["PR1"] * 3,
            "session_date": ["2026-01-05", "2026-01-05", "2026-01-12"],
            "session_time": ["14:00", "09:00", "09:00"],
        }
    )
    rows = [
        reading(degrees=64, session="S1"),  # afternoon
        reading(degrees=60, session="S2"),  # morning: the baseline
        reading(on="2026-01-12", degrees=70, session="S3"),
    ]
    row = only(rom_change(clinic_of(rows, sessions=sessions)))
    assert (row["baseline_degrees"], row["latest_degrees"], row["gain_degrees"]) == (60, 70, 10)
    # Two readings on one day only: a repeat, not a follow-up.
    row = only(rom_change(clinic_of(rows[:2], sessions=sessions)))
    assert row["baseline_degrees"] == 60 and row["change_class"] == "no follow-up"
    # Without sessions, the table's order breaks the tie.
    row = only(rom_change(clinic_of(rows[:2])))
    assert row["baseline_degrees"] == 64


def test_side_and_mode_make_separate_series_and_a_missing_mode_is_its_own():
    rows = [
        reading(degrees=60, mode="active"),
        reading(on="2026-02-02", degrees=72, mode="active"),
        reading(degrees=65, mode="passive"),
        reading(degrees=50, mode=None),
        reading(on="2026-02-02", degrees=52, mode=None),
        reading(degrees=58, side="right"),
    ]
    out = rom_change(clinic_of(rows))
    assert len(out) == 4
    by = {(r.side, r.mode if pd.notna(r.mode) else None): r for r in out.itertuples()}
    assert by[("left", "active")].gain_degrees == 12 and np.isnan(by[("left", "passive")].gain_degrees)
    assert by[("left", None)].gain_degrees == 2 and by[("right", "active")].n_readings == 1


def test_a_deficit_recorded_as_a_negative_angle_improves_upward():
    knee = {"joint": "knee", "movement": "extension", "side": "left", "device": "goniometer"}
    row = only(rom_change(clinic_of([reading(degrees=-10, **knee), reading(on="2026-02-02", degrees=-2, **knee)])))
    assert row["gain_degrees"] == 8 and row["change_class"] == "improved beyond measurement error"  # 8 > 3.5
    assert np.isnan(row["normal_degrees"]) and np.isnan(row["baseline_pct_normal"])  # normal end position is 0


def test_missing_degrees_are_skipped():
    rows = [reading(degrees=None), reading(on="2026-01-19", degrees=60), reading(on="2026-02-02", degrees=None)]
    row = only(rom_change(clinic_of(rows)))
    assert row["baseline_degrees"] == 60 and row["n_readings"] == 1 and row["change_class"] == "no follow-up"


def test_overrides_of_mdc_and_normal():
    knee = {"joint": "knee", "movement": "flexion", "side": "right", "device": "goniometer"}
    clinic = clinic_of([reading(degrees=100, **knee), reading(on="2026-02-02", degrees=108, **knee)])
    assert only(rom_change(clinic))["change_class"] == "improved beyond measurement error"  # 8 > 3.5
    row = only(rom_change(clinic, mdc={("knee", "goniometer", True): 8.0}, normal={("knee", "flexion"): 160.0}))
    assert row["mdc_degrees"] == 8 and row["change_class"] == "within measurement error"
    assert row["baseline_pct_normal"] == pytest.approx(62.5, abs=1e-12)  # 100 / 160
    frame = pd.DataFrame({"joint": ["knee"], "device": ["goniometer"], "same_rater": [True], "mdc_degrees": [7.9]})
    assert only(rom_change(clinic, mdc=frame))["change_class"] == "improved beyond measurement error"
    assert (
        resolve_mdc(frame)
        .set_index(["joint", "device", "same_rater"])
        .loc[("knee", "goniometer", False), "mdc_degrees"]
        == 10.4
    )


def test_empty_rom_table_gives_an_empty_frame_with_the_columns():
    clinic = Clinic.from_frames(patients=pd.DataFrame({"patient_id": ["P1"]}))
    out = rom_change(clinic)
    assert out.empty and list(out.columns) == COLUMNS


def test_input_is_not_modified():
    clinic = clinic_of([reading(degrees=60), reading(on="2026-01-19", degrees=72)])
    before = clinic.rom.copy()
    rom_change(clinic, mdc={("cervical_spine", "crom", True): 1.0})
    pd.testing.assert_frame_equal(clinic.rom, before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"same_device_only": "yes"}, r"`same_device_only` must be True or False, got 'yes'"),
        ({"mdc": [1, 2]}, r"`mdc` must be a DataFrame or a dict keyed by .*got 'list'"),
        ({"mdc": {("knee", "goniometer"): 3}}, r"`mdc` keys must be tuples .*got \('knee', 'goniometer'\)"),
        ({"mdc": {("neck", "goniometer", True): 3}}, r"`mdc` has an unknown joint 'neck'"),
        ({"mdc": {("knee", "tape", True): 3}}, r"`mdc` has an unknown device 'tape'"),
        ({"mdc": {("knee", "goniometer", "yes"): 3}}, r"`mdc` same_rater must be True or False, got 'yes'"),
        ({"mdc": {("knee", "goniometer", True): -1}}, r"`mdc` values must be numbers of zero or more, got -1"),
        (
            {"mdc": pd.DataFrame({"joint": ["knee"]})},
            r"`mdc` lacks column\(s\) \['device', 'same_rater', 'mdc_degrees'\]",
        ),
        ({"normal": {("knee", "twist"): 10}}, r"`normal` has an unknown movement 'twist'"),
        ({"normal": {("knee", "flexion"): "a lot"}}, r"`normal` values must be numbers of zero or more, got 'a lot'"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rom_change(clinic_of([reading()]), **kwargs)


# --- integration -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_clinic():
    return demo_clinic_of(n_patients=400, seed=3)


@pytest.mark.parametrize("same_device_only", [True, False])
def test_invariants_on_a_generated_clinic(demo_clinic, same_device_only):
    out = rom_change(demo_clinic, same_device_only=same_device_only)
    rom = demo_clinic.rom
    assert list(out.columns) == COLUMNS
    keys = ["episode_id", "joint", "movement", "side", "mode"]
    assert len(out) == len(rom[keys].drop_duplicates()) and out["n_readings"].sum() == len(rom)
    # Baseline is the earliest day of the series (computed independently).
    earliest = rom.groupby(keys, observed=True, dropna=False)["measured_on"].min().rename("earliest").reset_index()
    merged = out.merge(earliest, on=keys, how="left")
    assert (merged["baseline_date"] == merged["earliest"]).all()
    has = out["latest_degrees"].notna()
    assert (out.loc[has, "latest_date"] > out.loc[has, "baseline_date"]).all()
    np.testing.assert_allclose(out["gain_degrees"], out["latest_degrees"] - out["baseline_degrees"], rtol=0, atol=1e-12)
    assert out.loc[has, "mdc_degrees"].notna().all() and out.loc[~has, "mdc_degrees"].isna().all()
    assert (out["rater_flag"] == out["same_rater"].eq(False).fillna(False)).all()
    beyond = out["beyond_mdc"].fillna(False)
    assert (
        beyond == out["change_class"].isin(["improved beyond measurement error", "worse beyond measurement error"])
    ).all()
    improved = out[out["change_class"] == "improved beyond measurement error"]
    assert (improved["gain_degrees"] > improved["mdc_degrees"]).all() and len(improved) > 0
    assert (out.loc[~has, "change_class"].isin(["no follow-up", "not comparable"])).all()
    if same_device_only:
        assert out.loc[has, "same_device"].all()
    else:
        assert (out["change_class"] != "not comparable").all()
    pct = out["baseline_pct_normal"].dropna()
    assert pct.between(0, 200).all() and len(pct) > 0.9 * len(out)


# --- readings with no device recorded ------------------------------------------------------------------------


def test_readings_without_a_device_are_compared_with_one_another_against_the_commonest_device():
    # the clinic's cervical rotation readings: 3 by CROM, 1 by inclinometer -> CROM is the commonest
    rows = [
        reading("E1", degrees=60, device="crom"), reading("E1", on="2026-02-02", degrees=65, device="crom"),
        reading("E2", degrees=50, device="crom"), reading("E2", on="2026-02-02", degrees=52, device="inclinometer"),
        # E3: no device at all; one rater, so the same-rater CROM MDC (9.6) applies: 50 -> 62 is beyond it
        reading("E3", degrees=50, device=None), reading("E3", on="2026-02-02", degrees=62, device=None),
        # E4: no device, different raters: inter-rater CROM MDC (25); 50 -> 62 is within it
        reading("E4", degrees=50, device=None, rater="PR1"),
        reading("E4", on="2026-02-02", degrees=62, device=None, rater="PR2"),
    ]  # fmt: skip
    out = rom_change(clinic_of(rows)).set_index("episode_id")
    e3, e4 = out.loc["E3"], out.loc["E4"]
    assert e3["change_class"] == "improved beyond measurement error"
    assert e3["mdc_degrees"] == pytest.approx(9.6, abs=1e-12) and e3["mdc_device"] == "crom"
    assert pd.isna(e3["same_device"]) and e3["no_device_readings"] == 2
    assert e4["change_class"] == "within measurement error" and e4["mdc_degrees"] == pytest.approx(25.0, abs=1e-12)
    # known devices are untouched: E2 (CROM then inclinometer) stays not comparable
    assert out.loc["E2", "change_class"] == "not comparable" and pd.isna(out.loc["E2", "mdc_device"])
    assert out.loc["E1", "no_device_readings"] == 0 and out.loc["E1", "mdc_degrees"] == pytest.approx(9.6)
    assert out.attrs["no_device_readings"] == 4


def test_a_missing_device_is_not_compared_with_a_known_one():
    rows = [reading(degrees=50, device="crom"), reading(on="2026-02-02", degrees=70, device=None)]
    row = only(rom_change(clinic_of(rows)))
    assert row["change_class"] == "not comparable" and row["no_device_readings"] == 1


def test_commonest_device_is_per_joint_and_movement_and_ties_go_to_the_first_listed():
    rows = [
        # knee flexion: goniometer twice, app once -> goniometer (same rater 3.5)
        reading("E1", joint="knee", movement="flexion", degrees=100, device="goniometer"),
        reading("E2", joint="knee", movement="flexion", degrees=100, device="goniometer"),
        reading("E3", joint="knee", movement="flexion", degrees=100, device="app"),
        reading("E4", joint="knee", movement="flexion", degrees=100, device=None),
        reading("E4", joint="knee", movement="flexion", on="2026-01-20", degrees=104, device=None),
        # shoulder flexion: inclinometer once, goniometer once -> tie, goniometer is listed first (same rater 10)
        reading("E5", joint="shoulder", movement="flexion", degrees=120, device="inclinometer"),
        reading("E6", joint="shoulder", movement="flexion", degrees=120, device="goniometer"),
        reading("E7", joint="shoulder", movement="flexion", degrees=120, device=None),
        reading("E7", joint="shoulder", movement="flexion", on="2026-01-20", degrees=125, device=None),
        # lumbar flexion: no device anywhere -> "other" (same rater 15)
        reading("E8", joint="lumbar_spine", movement="flexion", side="none", degrees=40, device=None),
        reading("E8", joint="lumbar_spine", movement="flexion", side="none", on="2026-01-20", degrees=50, device=None),
    ]  # fmt: skip
    out = rom_change(clinic_of(rows)).set_index("episode_id")
    assert (out.loc["E4", "mdc_device"], out.loc["E4", "mdc_degrees"]) == ("goniometer", 3.5)
    assert out.loc["E4", "change_class"] == "improved beyond measurement error"  # 4 > 3.5
    assert (out.loc["E7", "mdc_device"], out.loc["E7", "mdc_degrees"]) == ("goniometer", 10.0)
    assert out.loc["E7", "change_class"] == "within measurement error"
    assert pd.isna(out.loc["E8", "mdc_device"]) and out.loc["E8", "mdc_degrees"] == 15.0
    assert out.loc["E8", "change_class"] == "within measurement error"  # 10 < 15


def test_report_footnote_on_readings_without_a_device():
    from needling_analytics.reporting import text

    rows = [
        reading("E1", degrees=60, device="crom"),
        reading("E3", degrees=50, device=None), reading("E3", on="2026-02-02", degrees=62, device=None),
    ]  # fmt: skip
    out = rom_change(clinic_of(rows))
    assert text.rom_device_note(out) == (
        "2 readings had no device recorded; their changes are judged against the measurement error of crom "
        "(the device used most for that movement in this clinic)."
    )
    assert text.rom_device_note(out[out["episode_id"] == "E1"]) == ""


def test_footnote_hides_a_small_count_in_aggregate_reports():
    from needling_analytics.reporting import text

    rows = [reading("E3", degrees=50, device=None), reading("E3", on="2026-02-02", degrees=62, device=None)]
    note = text.rom_device_note(rom_change(clinic_of(rows)), min_cell_size=11)
    assert note.startswith("Fewer than 11 readings had no device recorded; their changes are judged against")
    assert "unknown device" in note  # no device recorded anywhere for the movement: the cautious "other"

"""The messy demo clinic: validation catches every injected fault and keeps the rest."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from needling_analytics import DataQualityWarning, load_clinic
from needling_analytics.demo import make_messy, write_clinic
from needling_analytics.schema import TABLES

from .conftest import demo_tables

EXPECTED_RULE = {
    "category_typo": "not_allowed",
    "out_of_range": "out_of_range",
    "unparseable_date": "not_a_date",
    "outside_episode": "outside_episode",
    "conflicting_duplicate": "duplicate_id",
    "orphan_reference": "unknown_episode",
    "future_date": "future_date",
    "patient_mismatch": "patient_mismatch",
    "missing_required": "missing_required",
}


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    clean = demo_tables(n_patients=120, seed=11)
    tables, faults = make_messy(clean, seed=11)
    folder = tmp_path_factory.mktemp("messy")
    write_clinic(tables, folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        clinic = load_clinic(folder, as_of="2026-11-28")
    return clean, tables, faults, clinic


def test_every_injected_fault_is_caught_with_the_right_rule(messy):
    _, _, faults, clinic = messy
    assert set(faults["fault"]) >= set(EXPECTED_RULE) | {"exact_duplicate"}
    for fault in faults.itertuples():
        if fault.fault == "exact_duplicate":
            continue
        spec = TABLES[fault.table]
        optional = not spec.column(fault.column).required and fault.column != "status"  # status decides the row
        if fault.fault in ("out_of_range", "category_typo") and optional:
            # an unreadable optional value is cleared and its row kept, with the problem listed
            kept = clinic.tables[fault.table].set_index(spec.key)
            assert pd.isna(kept.loc[fault.key, fault.column]), fault
            problems = clinic.quality.problems.query("table == @fault.table and column == @fault.column")
            assert (problems["value"] == fault.value).any() and set(problems["action"]) == {"cleared"}, fault
            continue
        quarantined = clinic.quality.quarantine[fault.table]
        rules = set(quarantined.loc[quarantined[spec.key] == fault.key, "rule"])
        assert EXPECTED_RULE[fault.fault] in rules, (fault, rules)
        assert fault.key not in set(clinic.tables[fault.table][spec.key]), fault


def test_exact_duplicates_are_collapsed_and_nothing_else_is_lost(messy):
    clean, tables, faults, clinic = messy
    summary = clinic.quality.tables.set_index("table")
    n_exact = (faults["fault"] == "exact_duplicate").sum()
    assert summary.loc["sessions", "duplicates_collapsed"] == n_exact
    for name in TABLES:
        row = summary.loc[name]
        # every row read is kept, collapsed or quarantined: nothing vanishes
        assert row["rows_read"] == row["rows_kept"] + row["duplicates_collapsed"] + row["rows_quarantined"]
        assert row["rows_read"] == len(tables.get(name, ()))
    # sessions untouched by a fault, directly or through a quarantined episode, are all kept
    bad_sessions = set(faults.loc[faults["table"] == "sessions", "key"])
    bad_episodes = set(faults.loc[faults["table"] == "episodes", "key"])
    expected = clean["sessions"][
        ~clean["sessions"]["session_id"].isin(bad_sessions) & ~clean["sessions"]["episode_id"].isin(bad_episodes)
    ]
    kept = set(clinic.sessions["session_id"])
    assert set(expected["session_id"]) <= kept


def test_clean_demo_validates_with_nothing_quarantined(tmp_path):
    write_clinic(demo_tables(n_patients=120, seed=5), tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        clinic = load_clinic(tmp_path, as_of="2026-11-28")
    assert clinic.quality.is_clean
    assert clinic.quality.collapsed.empty
    assert (clinic.quality.tables["rows_read"] == clinic.quality.tables["rows_kept"]).all()
    assert len(clinic.patients) == 120 and pd.api.types.is_datetime64_dtype(clinic.sessions["session_date"])

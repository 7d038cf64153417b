"""Audience and disclosure method: owner sees everything, shared reports suppress or round to 5 with share bands."""

from __future__ import annotations

import pandas as pd
import pytest

from needling_analytics.privacy.suppression import Disclosure, round_counts, share_band
from needling_analytics.reporting import text
from needling_analytics.reporting.suppression import suppress_small_counts, suppression_note

# Hand table: v -> nearest multiple of 5 (remainders 0-2 down, 3-4 up; no ties for whole numbers).
ROUNDED = {
    0: 0,
    1: 0,
    2: 0,
    3: 5,
    4: 5,
    5: 5,
    6: 5,
    7: 5,
    8: 10,
    9: 10,
    10: 10,
    11: 10,
    12: 10,
    13: 15,
    14: 15,
    15: 15,
    16: 15,
    17: 15,
    18: 20,
    19: 20,
    20: 20,
}


def test_round_counts_to_base_5_matches_the_hand_table():
    assert round_counts(list(ROUNDED)).tolist() == [float(v) for v in ROUNDED.values()]


@pytest.mark.parametrize("audience", ["staff", "public"])
def test_rounding_still_hides_1_to_10_and_rounds_the_rest(audience):
    table = pd.DataFrame({"count": list(range(21))})
    shown = suppress_small_counts(table, ["count"], min_cell_size=Disclosure(audience, "round"))["count"].tolist()
    expected = ["0"] + ["<11"] * 10 + [str(ROUNDED[v]) for v in range(11, 21)]
    assert shown == expected


def _shares(policy):
    t = pd.DataFrame({"n": [100, 90], "r": [95, 85], "o": [5, 5]})
    t["rate"] = t["r"] / t["n"]
    return suppress_small_counts(
        t,
        ["n", "r", "o"],
        min_cell_size=policy,
        totals={"n": ["r", "o"]},
        rate_columns={"rate": ["n", "r", "o"]},
        rate_format="{:.0%}",
        bands={"rate": (["r"], ["o"])},
    )


def test_band_holds_for_every_hidden_complement_so_reveals_nothing():
    # 95 improved, 1-10 not: share from 95/105 = 90.5% to 95/96: "over 90%" whatever the hidden count.
    assert share_band(95, 0, hidden_complement=1) == (0.9, 1.0)
    # 85 improved: 85/95 = 89.5% is possible, so "over 90%" would say fewer than 10 did not improve.
    assert share_band(85, 0, hidden_complement=1) == (0.8, 1.0)
    for r in range(11, 300):
        band = share_band(r, 0, hidden_complement=1)
        for c in range(1, 11):  # the same band for every hidden value, and it always holds
            assert band == share_band(r, 0, hidden_complement=1)
            assert band is None or band[0] < r / (r + c) <= band[1]
    assert _shares(Disclosure("public", "round"))["rate"].tolist() == ["over 90%", "over 80%"]


def test_owner_sees_exact_counts_and_shares_public_default_hides():
    owner = _shares(Disclosure("owner"))
    assert owner["o"].tolist() == ["5", "5"] and owner["rate"].tolist() == ["95%", "94%"]
    public = _shares(Disclosure())
    assert public["r"].tolist() == ["*", "*"] and public["rate"].tolist() == ["*", "*"]
    assert Disclosure().audience == "public" and Disclosure().method == "suppress"


def test_header_names_the_audience():
    assert "For the clinic owner: not for sharing" in text.report_header("R", audience=Disclosure("owner"))
    assert "For staff" in text.report_header("R", audience="staff")
    assert "Suitable for sharing" in text.report_header("R", audience=Disclosure())
    assert "rounded to the nearest 5" in suppression_note(Disclosure("public", "round"))
    assert "no count is hidden" in suppression_note(Disclosure("owner"))


def test_bad_audience_is_refused():
    with pytest.raises(ValueError, match="`audience` must be"):
        Disclosure("everyone")
    with pytest.raises(ValueError, match="`disclosure` must be"):
        Disclosure("public", "blur")

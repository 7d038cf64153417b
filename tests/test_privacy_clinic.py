"""Privacy of the clinic report: small counts hidden in charts too, practitioners under keyed pseudonyms.

Chart tests inspect what the plot functions draw (bar heights, line data,
texts) on small hand-made frames whose expected hidden cells are worked
out by hand in each test. The end-to-end tests run the clinic notebook
through the runner on a small generated clinic.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import re  # noqa: E402
import stat  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from needling_analytics import metrics, plots, reporting  # noqa: E402
from needling_analytics.cli import main  # noqa: E402
from needling_analytics.clinic import Clinic  # noqa: E402
from needling_analytics.errors import InputError  # noqa: E402
from needling_analytics.privacy import keys  # noqa: E402
from needling_analytics.privacy.policies import monthly_hidden  # noqa: E402
from needling_analytics.privacy.pseudonyms import practitioner_pseudonyms  # noqa: E402
from needling_analytics.privacy.suppression import keep_steps, pool_bands, small_count_mask  # noqa: E402
from needling_analytics.reporting import pseudonyms  # noqa: E402
from needling_analytics.runner import RunConfig, load_config  # noqa: E402
from needling_analytics.runner.config import clinic_parameters, ensure_practitioner_key, report_settings  # noqa: E402

from .conftest import demo_tables

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def allowed(counts, min_cell_size: int = 11) -> bool:
    """Whether every count is 0 or at least ``min_cell_size`` (rounded: counts read back from drawn shares)."""
    values = np.rint(np.asarray(counts, dtype=float))
    return bool(np.all((values == 0) | (values >= min_cell_size)))


# ------------------------------------------------------------------ suppression helpers


def test_small_count_mask_hides_exactly_what_the_table_hides():
    table = pd.DataFrame({"booked": [30, 25, 57], "attended": [25, 25, 50], "missed": [5, 0, 7]})
    mask = small_count_mask(table, ["booked", "attended", "missed"], totals={"booked": ["attended", "missed"]})
    text = reporting.suppress_small_counts(
        table, ["booked", "attended", "missed"], totals={"booked": ["attended", "missed"]}
    )
    shown_as_hidden = text[["booked", "attended", "missed"]].isin(["<11", "*"])
    pd.testing.assert_frame_equal(mask, shown_as_hidden)
    assert mask["attended"].tolist() == [True, False, True]  # complements: 30 - 25 = 5 and 57 - 50 = 7
    assert (mask.attrs["suppressed"], mask.attrs["complementary"]) == (2, 2)


def test_pool_bands_leaves_no_pool_of_1_to_10():
    assert pool_bands([2, 0, 12, 3, 9, 20, 1]).tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert pool_bands([0, 0, 5, 20]).tolist() == [0, 0, 1, 1]  # empty bands may stay apart (zero is shown)
    assert pool_bands([20, 0, 0, 3]).tolist() == [0, 0, 0, 0]  # a small end joins back, across empty bands
    assert pool_bands([4, 3]).tolist() == [0, 0]  # 7 in all: one pool, to be hidden
    rng = np.random.default_rng(7)
    for _ in range(200):
        counts = rng.choice([0, 1, 2, 5, 9, 11, 30], size=rng.integers(1, 12))
        pools = pool_bands(counts)
        sums = pd.Series(counts).groupby(pools).sum()
        assert list(sums.index) == list(range(len(sums)))  # consecutive pools, left to right
        assert allowed(sums) or len(sums) == 1


def test_keep_steps_keeps_every_count_and_difference_at_0_or_11_or_more():
    rng = np.random.default_rng(3)
    for _ in range(200):
        total = int(rng.integers(11, 80))
        improved = np.sort(rng.integers(0, total + 1, size=rng.integers(2, 30)))[::-1]
        keep = keep_steps(improved, start=total, anchors=[0])
        kept = improved[keep]
        assert allowed(kept) and allowed(total - kept) and allowed(np.abs(np.diff(kept)))
    assert keep_steps([40, 35, 28, 20, 9, 0], start=40).tolist() == [True, False, True, False, False, True]
    assert keep_steps([40, 35, 28, 20, 9, 0], start=40, anchors=[3]).tolist() == [True, False, False, True, False, True]


def test_monthly_hidden_matches_the_kpi_table():
    monthly = pd.DataFrame(
        {
            "month": pd.period_range("2026-09", periods=2, freq="M"),
            "active_patients": [40, 45], "new_patients": [12, 5], "new_episodes": [12, 14],
            "sessions_booked": [60, 57], "sessions_attended": [48, 50], "cancelled": [12, 7], "no_show": [0, 0],
            "attendance_rate": [0.8, 50 / 57], "discharges": [0, 20], "discharged_responder_rate": [np.nan, 0.6],
            "responder_ci_lower": [np.nan, 0.4], "responder_ci_upper": [np.nan, 0.8],
            "discharged_assessable": [0, 20], "mean_pain_reduction": [np.nan, 2.5], "adverse_events": [15, 3],
            "ae_rate_per_100": [31.25, 6.0], "discharged_responders": [0, 12],
        }
    )  # fmt: skip
    hidden = monthly_hidden(monthly)
    # October: 7 cancelled beside 0 missed, so the 50 attended is hidden too (57 - 50 = 7).
    assert hidden.loc[1, ["new_patients", "cancelled", "sessions_attended", "adverse_events"]].all()
    assert not hidden.loc[0, ["new_patients", "sessions_attended", "active_patients"]].any()
    kpis = reporting.kpi_table(monthly, "2026-10").set_index("indicator")
    for column, (words, kind) in reporting.KPIS.items():
        if kind == "count":
            shown_hidden = kpis.loc[words, ["previous_month", "this_month"]].isin(["<11", "*"]).tolist()
            assert shown_hidden == hidden[column].tolist(), column


def test_funnel_hidden_protects_small_counts_and_their_complements():
    funnel = pd.DataFrame(
        {"practitioner_id": ["A", "B", "C"], "n": [40, 30, 25], "responders": [20, 25, 12], "target": 57 / 95}
    ).assign(indicator=lambda f: f["responders"] / f["n"])
    funnel.attrs["target"] = 57 / 95
    # B has 5 non-responders; knowing the clinic's totals, C (the smallest shown) must go too.
    protected = reporting.protect_funnel(funnel)
    assert protected["practitioner_id"].tolist() == ["A"]
    assert protected.attrs["hidden_practitioners"] == 2 and protected.attrs["target"] == pytest.approx(57 / 95)
    assert reporting.protect_funnel(funnel, min_cell_size=5)["practitioner_id"].tolist() == ["A", "B", "C"]
    ten = funnel.assign(n=[40, 30, 10], responders=[20, 15, 0])  # 10 assessed: a count of 1 to 10
    assert "C" not in reporting.protect_funnel(ten)["practitioner_id"].tolist()


def test_adverse_event_table_hides_rates_built_on_few_events():
    comparison = pd.DataFrame(
        {
            "event_type": ["any", "any"], "severity": ["mild", "major"], "study": "Brady 2014",
            "benchmark_rate_per_100": [19.18, 0.0], "events": [120, 4], "treatments": 1000,
            "rate_per_100": [12.0, 0.4], "ci_lower": [10.0, 0.1], "ci_upper": [14.2, 1.0],
            "comparison": ["below", "above"],
        }
    )  # fmt: skip
    table = reporting.adverse_event_table(comparison)
    assert table.loc[1, ["events", "rate_per_100", "ci_lower", "ci_upper", "comparison"]].tolist() == [
        "<11", "*", "*", "*", "*"
    ]  # fmt: skip
    assert table.loc[0, ["events", "rate_per_100", "comparison"]].tolist() == ["120", "12.00", "below"]
    assert table.loc[1, "benchmark_rate_per_100"] == 0.0  # published figures stay


# ------------------------------------------------------------------ charts


def _monthly():
    return pd.DataFrame(
        {
            "month": pd.period_range("2026-08", periods=3, freq="M"),
            "active_patients": [30, 8, 0], "new_patients": [12, 3, 0], "new_episodes": [12, 3, 0],
            "sessions_booked": [82, 57, 0], "sessions_attended": [70, 50, 0], "cancelled": [12, 7, 0],
            "no_show": [0, 0, 0], "attendance_rate": [0.875, 50 / 57, np.nan], "discharges": [0, 0, 0],
            "discharged_responder_rate": np.nan, "responder_ci_lower": np.nan, "responder_ci_upper": np.nan,
            "discharged_assessable": 0, "mean_pain_reduction": np.nan, "adverse_events": [12, 0, 0],
            "ae_rate_per_100": [17.1, 0.0, np.nan], "discharged_responders": 0,
        }
    )  # fmt: skip


def test_monthly_chart_does_not_draw_hidden_months_as_their_value():
    ax = plots.plot_monthly_activity(_monthly(), min_cell_size=11)
    sessions = next(c for c in ax.containers if c.get_label() == "sessions attended")
    heights = [p.get_height() for p in sessions.patches]
    # September: 7 cancelled and 0 missed of 57 booked, so its 50 attended would give the 7 away.
    assert heights[0] == 70 and np.isnan(heights[1]) and heights[2] == 0
    assert not [c for c in ax.containers if c.get_label() == "sessions: hidden"]  # no small count of sessions
    assert "*" in texts_of(ax)  # 50 is hidden to protect the 7, not because it is small: a mark, no bar
    patients = next(line for line in ax.get_lines() if line.get_label().startswith("patients seen"))
    ydata = np.asarray(patients.get_ydata(), dtype=float)
    assert ydata[0] == 30 and np.isnan(ydata[1]) and ydata[2] == 0  # 8 patients: not drawn
    assert texts_of(ax).count("<11") == 1  # the hollow point of the 8 patients
    assert any("privacy" in t for t in texts_of(ax))
    tiny = plots.plot_monthly_activity(
        _monthly().assign(sessions_attended=[70, 9, 0], sessions_booked=[82, 16, 0]), min_cell_size=11
    )
    hidden = next(c for c in tiny.containers if c.get_label() == "sessions: hidden")
    assert [(p.get_x() + p.get_width() / 2, p.get_height()) for p in hidden.patches] == [(1.0, 11)]
    assert all(p.get_hatch() for p in hidden.patches) and texts_of(tiny).count("<11") == 2
    plain = plots.plot_monthly_activity(_monthly())  # without min_cell_size every value is drawn
    assert [p.get_height() for p in plain.containers[0].patches] == [70, 50, 0]


def texts_of(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def _outcomes(pct) -> pd.DataFrame:
    return pd.DataFrame({"pct_reduction": np.asarray(pct, dtype=float), "assessable": True})


def test_responder_curve_steps_stand_for_at_least_11_episodes():
    rng = np.random.default_rng(5)
    pct = np.round(rng.uniform(-40, 100, size=60))
    curve = metrics.responder_curve(_outcomes(pct))
    ax = plots.plot_responder_curve(curve, min_cell_size=11)
    line = ax.get_lines()[0]
    improved = np.asarray(line.get_ydata(), dtype=float) / 100 * 60
    assert allowed(improved) and allowed(60 - improved) and allowed(np.abs(np.diff(improved)))
    assert len(line.get_xdata()) < len(curve)  # thinned
    assert any("privacy" in t for t in texts_of(ax))
    assert len(plots.plot_responder_curve(curve).get_lines()[0].get_xdata()) == len(curve)
    few = plots.plot_responder_curve(metrics.responder_curve(_outcomes(pct[:8])), min_cell_size=11)
    assert not [line for line in few.get_lines() if len(line.get_xdata()) > 2]
    assert any(t.startswith("Fewer than 11 courses of care") for t in texts_of(few))


def test_pain_change_histogram_pools_small_bars():
    # 3 worse, 2 at 0-10%, 30 at 10-20%, 5 at 20-30%; 25 at 40-50%, 2 at 90-100%.
    pct = [-25] * 3 + [5] * 2 + [15] * 30 + [25] * 5 + [45] * 25 + [95] * 2
    ax = plots.plot_pain_change_distribution(_outcomes(pct), min_cell_size=11)
    drawn = [p for c in ax.containers for p in c.patches]
    counts = [p.get_height() * p.get_width() / 10 for p in drawn]
    assert allowed(counts) and sum(counts) == pytest.approx(len(pct))
    assert sorted(round(c) for c in counts if c) == [27, 40]  # left of 30%: 40 in one pool; right: 25 + 2
    assert ax.get_ylabel() == "Episodes per 10-point band"
    assert "40% of 67 episodes improved by 30% or more" in texts_of(ax)
    # neither the axis nor the leftmost bar shows how bad the worst result (-25%) was
    assert ax.get_xlim()[0] == -100 and min(p.get_x() for p in drawn if p.get_height() > 0) == -100


@pytest.mark.parametrize("improved, not_improved", [(45, 5), (6, 40)])
def test_pain_change_histogram_not_drawn_when_one_side_of_30_percent_is_small(improved, not_improved):
    # The total assessed is printed elsewhere in the report (responder curve note, by-region "all" row), so
    # any count or bar height on the large side would give the small side away as total minus that side.
    pct = [50] * improved + [10] * not_improved
    ax = plots.plot_pain_change_distribution(_outcomes(pct), min_cell_size=11)
    bars = [p for c in ax.containers for p in c.patches] + [p for p in ax.patches if p.get_height() > 0]
    assert not bars
    constants = re.compile(r"\b(11|30%)")  # the threshold and the 30% line: the only numbers allowed
    assert not [t for t in texts_of(ax) if re.search(r"\d", constants.sub("", t))]  # no count, share or total
    assert any("privacy" in t and "fewer than 11" in t for t in texts_of(ax))
    assert not ax.get_xticks().size and not ax.get_yticks().size


def test_time_to_response_rises_in_steps_of_at_least_11_responses():
    times = np.arange(0, 31, dtype=float)
    at_risk = np.arange(60, 29, -1)
    events = np.r_[0, np.ones(30, dtype=int)]
    share = np.cumsum(events) / 60
    km = pd.DataFrame({"time": times, "at_risk": at_risk, "events": events, "survival": 1 - share,
                       "std_error": 0.0, "share_responded": share, "ci_lower": share * 0.8, "ci_upper": share})  # fmt: skip
    ax = plots.plot_time_to_response(km, min_cell_size=11)
    line = next(line for line in ax.get_lines() if line.get_label() == "share of episodes")
    assert np.asarray(line.get_xdata()).tolist() == [0, 11, 22]  # 11 responses between drawn steps
    assert np.asarray(line.get_ydata()).tolist() == pytest.approx([0, 100 * 11 / 60, 100 * 22 / 60])
    assert any("privacy" in t for t in texts_of(ax))


def test_frequency_chart_draws_band_averages_not_single_episodes():
    x = np.r_[np.full(40, 0.5), np.full(30, 1.5), np.full(4, 2.5)]
    exposures = pd.DataFrame({"early_frequency": x, "reduction": np.linspace(0, 4, len(x))})
    ax = plots.plot_frequency_association(exposures, min_cell_size=11)
    assert not [c for c in ax.collections if c.get_label() == "one episode"]
    bands = next(c for c in ax.collections if c.get_label() == "average of a frequency band")
    assert len(bands.get_offsets()) == 2  # the 4 at "2 or more" pooled with "1 to 2"
    assert {"under 1 a week:\n40 episodes", "1 or more a week:\n34 episodes"} <= set(texts_of(ax))
    plain = plots.plot_frequency_association(exposures)
    assert len(next(c for c in plain.collections if c.get_label() == "one episode").get_offsets()) == len(x)


def test_adverse_event_chart_hides_rates_built_on_few_events():
    comparison = pd.DataFrame(
        {
            "event_type": ["any", "any"], "severity": ["mild", "major"], "study": "Brady 2014",
            "benchmark_rate_per_100": [19.18, 0.0], "events": [120, 4], "treatments": 1000,
            "rate_per_100": [12.0, 0.4], "ci_lower": [10.0, 0.1], "ci_upper": [14.2, 1.0], "comparison": "within",
        }
    )  # fmt: skip
    ax = plots.plot_adverse_event_rates(comparison, min_cell_size=11)
    clinic = next(c for c in ax.containers if c.get_label() == "this clinic (95% interval)")
    rates = np.asarray(clinic.lines[0].get_xdata(), dtype=float)
    assert rates[0] == 12.0 and np.isnan(rates[1])
    assert "fewer than 11 events: rate hidden" in texts_of(ax)
    assert "0.4" not in texts_of(ax) and "0.40" not in texts_of(ax)
    # the hidden rate's interval (up to 1.0) must not set the axis either
    wide = comparison.assign(ci_upper=[14.2, 150.0], benchmark_rate_per_100=[19.18, 0.5])
    assert plots.plot_adverse_event_rates(wide, min_cell_size=11).get_xlim()[1] == 100


def test_funnel_chart_without_hidden_practitioners_and_with_pseudonyms():
    funnel = pd.DataFrame(
        {"practitioner_id": ["PR01", "PR02", "PR03"], "n": [40, 30, 60], "responders": [20, 25, 30], "target": 0.6}
    ).assign(indicator=lambda f: f["responders"] / f["n"])
    labels = practitioner_pseudonyms(funnel["practitioner_id"], KEY)
    shown = reporting.label_practitioners(reporting.protect_funnel(funnel), labels)
    ax = plots.plot_funnel(shown, reporting.funnel_curve(shown))
    # PR02 has 5 non-responders; PR01 (the smaller of the others) goes too, as the totals would give PR02 away.
    assert len(next(c for c in ax.collections if c.get_label() == "practitioner").get_offsets()) == 1
    assert labels["PR03"] in texts_of(ax)
    assert not any(re.search(r"PR0\d", t) for t in texts_of(ax))
    assert any("2 practitioners are not drawn" in t for t in texts_of(ax))


# ------------------------------------------------------------------ pseudonyms


def test_pseudonyms_are_keyed_stable_and_short():
    ids = ["PR01", "PR02", "AB", "JS"]
    first = practitioner_pseudonyms(ids, KEY)
    assert first.equals(practitioner_pseudonyms(list(reversed(ids)) + [None, "AB"], KEY))
    assert all(re.fullmatch(r"Practitioner [0-9A-F]{4}", p) for p in first)
    other = practitioner_pseudonyms(ids, OTHER_KEY)
    assert not (first == other).any()
    with pytest.raises(ValueError, match=r"`key` must be bytes of at least 32 .* got 5 bytes"):
        practitioner_pseudonyms(ids, b"short")


def test_pseudonyms_lengthen_on_collision():
    ids = [f"PR{i:02d}" for i in range(20)]  # 20 IDs cannot have 20 different one-digit codes (16 exist)
    names = practitioner_pseudonyms(ids, KEY, shortest=1)
    assert names.is_unique
    codes = names.str.removeprefix("Practitioner ")
    longer = codes[codes.str.len() > 1]
    assert len(longer) >= 4
    for practitioner, code in longer.items():  # lengthened because another code shared its shorter form
        rivals = codes.drop(practitioner)
        assert any(len(r) >= len(code) and r[: len(code) - 1] == code[:-1] for r in rivals)
    full = practitioner_pseudonyms(ids, KEY)
    assert full.is_unique and (full.str.len() == len("Practitioner ") + 4).all()


def test_key_file_is_made_once_private_and_reused(tmp_path):
    path = keys.create_key_file(tmp_path / "reports" / pseudonyms.KEY_FILE_NAME)
    assert path == tmp_path / "reports" / ".practitioner-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and re.fullmatch(rb"[0-9a-f]{64}\n", path.read_bytes())
    key = path.read_bytes()
    assert keys.create_key_file(path) == path and path.read_bytes() == key
    assert keys.load_key(key_file=path) == key.strip()  # the text format: 64 hex digits, newline ignored
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no draft left behind
    path.chmod(0o644)
    with pytest.warns(keys.KeyFileWarning, match="can be read by other users"):
        keys.load_key(key_file=path)
    path.chmod(0o600)
    path.write_bytes(b"short")
    with pytest.raises(InputError, match="the key in the key file is 5 bytes long; at least 32 are needed"):
        keys.load_key(key_file=path)
    with pytest.raises(InputError, match="nowhere: key file not found"):
        keys.load_key(key_file=tmp_path / "nowhere")


def test_practitioner_key_files_of_earlier_versions_keep_their_code_names(tmp_path):
    """A binary practitioner key (32 random bytes, as earlier versions wrote) is used byte for byte."""
    import hmac

    path = tmp_path / ".practitioner-key"
    raw = b"\n" + bytes(range(200, 231))  # a binary key that begins with a whitespace byte: nothing stripped
    path.write_bytes(raw)
    path.chmod(0o600)
    assert keys.load_key(key_file=path) == raw
    clinic = SimpleNamespace(sessions=pd.DataFrame({"practitioner_id": ["PR01", "AB", "PR01"]}))
    names = pseudonyms.practitioner_labels(clinic, key_file=str(path))
    for practitioner in ("PR01", "AB"):  # as earlier versions computed them
        digest = hmac.digest(raw, b"clinic-report-practitioner:" + practitioner.encode(), "sha256").hex().upper()
        assert names[practitioner] == "Practitioner " + digest[:4]


def test_one_key_gives_unrelated_code_names_and_research_pseudonyms():
    from needling_analytics.privacy import pseudonym

    code = practitioner_pseudonyms(["PR01"], KEY)["PR01"].removeprefix("Practitioner ")
    research = pseudonym(pd.Series(["PR01"]), KEY, kind="practitioner").iloc[0].removeprefix("PR")
    assert code.lower() != research[: len(code)]


def test_label_practitioners_replaces_ids_and_refuses_unknown_ones():
    frame = pd.DataFrame({"practitioner_id": ["PR01", None, "PR02"], "n": [1, 2, 3]})
    frame.attrs["target"] = 0.5
    labels = practitioner_pseudonyms(["PR01", "PR02"], KEY)
    out = reporting.label_practitioners(frame, labels)
    assert out["practitioner_id"].iloc[[0, 2]].tolist() == [labels["PR01"], labels["PR02"]]
    assert pd.isna(out["practitioner_id"].iloc[1])
    assert out.attrs["target"] == 0.5 and frame["practitioner_id"].iloc[0] == "PR01"  # input untouched
    with pytest.raises(ValueError, match=r"1 practitioner ID\(s\) that `labels` does not know") as error:
        reporting.label_practitioners(frame.assign(practitioner_id=["PR01", "PR09", None]), labels)
    assert "PR09" not in str(error.value)


def test_config_key_and_clinic_parameters(tmp_path):
    (tmp_path / "clinic.toml").write_text('data_dir = "exports"\nout_dir = "out"\nshow_practitioner_ids = true\n')
    assert load_config(tmp_path / "clinic.toml").show_practitioner_ids is True
    (tmp_path / "clinic.toml").write_text('data_dir = "exports"\nshow_practitioner_ids = "yes"\n')
    with pytest.raises(InputError, match=r"`show_practitioner_ids` must be true .* or false .*, got 'yes'"):
        load_config(tmp_path / "clinic.toml")
    config = RunConfig(data_dir=tmp_path / "exports", out_dir=tmp_path / "out")
    assert config.show_practitioner_ids is False
    settings = report_settings(config)  # what the run writes into its cache for the reports
    assert settings.show_practitioner_ids is False
    assert settings.practitioner_key_file == str(tmp_path / "out" / ".practitioner-key")
    assert set(clinic_parameters("2026-10", tmp_path / "cache")) == {"month", "cache_dir", "results_dir"}
    assert not (tmp_path / "out").exists()  # building settings or parameters writes nothing: the run makes the key
    assert ensure_practitioner_key(config) == tmp_path / "out" / ".practitioner-key"
    key = (tmp_path / "out" / ".practitioner-key").read_bytes()
    assert report_settings(config).practitioner_key_file == str(tmp_path / "out" / ".practitioner-key")
    ensure_practitioner_key(config)
    assert (tmp_path / "out" / ".practitioner-key").read_bytes() == key  # made once, then the same every month
    shown = RunConfig(data_dir=tmp_path / "exports", out_dir=tmp_path / "out2", show_practitioner_ids=True)
    assert report_settings(shown).practitioner_key_file == ""
    assert ensure_practitioner_key(shown) is None
    assert not (tmp_path / "out2").exists()


# ------------------------------------------------------------------ the clinic report, end to end

MONTH = "2026-10"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A 120-patient clinic on disk, with a few significant events (listed with their practitioner), and its cache."""
    from needling_analytics import load_clinic
    from needling_analytics.demo import write_clinic
    from needling_analytics.reporting import RunSettings, write_cache

    folder = tmp_path_factory.mktemp("privacy")
    frames = demo_tables(n_patients=120, seed=2)
    events = frames["adverse_events"].copy()
    events.loc[events.index[:4], "severity"] = "significant"
    frames["adverse_events"] = events
    write_clinic(frames, folder / "data")
    cache = write_cache(
        load_clinic(folder / "data"), folder / "cache", settings=RunSettings(clinic_name="Privacy clinic")
    )
    ids = sorted(frames["sessions"]["practitioner_id"].dropna().unique())
    return {"data": folder / "data", "cache": cache, "ids": ids, "folder": folder, "tables": frames}


def _render(demo, out, show: bool) -> str:
    from needling_analytics.runner import run_report

    config = RunConfig(data_dir=demo["data"], clinic_name="Privacy clinic", out_dir=out, show_practitioner_ids=show)
    ensure_practitioner_key(config)  # as the monthly run and the report command do, then the run's cache
    cache = reporting.write_cache(
        reporting.read_clinic(demo["cache"])[0], out / "cache", settings=report_settings(config)
    )
    parameters = clinic_parameters(MONTH, cache)
    html = out / "clinic_report.html"
    run_report("clinic", parameters, html, title="Clinic report", timeout=300)
    text = html.read_text(encoding="utf-8")
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)  # charts are checked above, artist by artist


@pytest.mark.slow
def test_clinic_report_names_no_practitioner_unless_allowed(demo, tmp_path):
    hidden = _render(demo, tmp_path / "pseudonyms", show=False)
    assert demo["ids"] and not [i for i in demo["ids"] if i in hidden]
    table = pseudonyms.pseudonym_table(
        Clinic.from_frames(**demo["tables"]), tmp_path / "pseudonyms" / pseudonyms.KEY_FILE_NAME
    )
    shown_names = set(re.findall(r"Practitioner [0-9A-F]{4,}", hidden))
    assert shown_names and shown_names <= set(table["pseudonym"])  # the owner's table matches the report
    assert "keeps the same code name in every month" in hidden

    named = _render(demo, tmp_path / "ids", show=True)
    assert [i for i in demo["ids"] if i in named]
    assert not re.search(r"Practitioner [0-9A-F]{4,}", named)
    assert not (tmp_path / "ids" / ".practitioner-key").exists()


@pytest.mark.slow
def test_pseudonym_command_prints_the_mapping(demo, tmp_path, capsys):
    (tmp_path / "clinic.toml").write_text(f'data_dir = "{demo["data"]}"\nout_dir = "{tmp_path / "out"}"\n')
    assert main(["practitioners", "--config", str(tmp_path / "clinic.toml")]) == 0
    printed = capsys.readouterr().out
    key = keys.load_key(key_file=tmp_path / "out" / ".practitioner-key")
    expected = practitioner_pseudonyms(demo["ids"], key)
    for practitioner, name in expected.items():
        assert re.search(rf"{practitioner}\s+{name}", printed)
    assert main(["practitioners", "--config", str(tmp_path / "missing.toml")]) == 2

"""The public metrics API: one shape for every metric, and no metric changes what it is given.

Every function in ``metrics.__all__`` takes the ``Clinic`` or a frame made
by another metric first (annotated, and for a frame its docstring names the
function that makes it), takes its options by keyword only, and lists the
columns it returns. Every one of them is called on a small demo clinic and
must leave the clinic's tables, and any frame it was given, as they were.
"""

from __future__ import annotations

import inspect
import re
import tempfile
import typing
from pathlib import Path

import pandas as pd
import pytest

from needling_analytics import metrics
from needling_analytics.clinic import Clinic
from needling_analytics.demo import generate_clinic

FUNCTIONS = {name: getattr(metrics, name) for name in metrics.__all__ if inspect.isfunction(getattr(metrics, name))}

#: Public functions that read no clinic data: reference tables (no argument), and the funnel's limits for
#: plotting (a target proportion and a largest sample size in, the limits out).
NOT_ON_DATA = {
    "difference_funnel_limits",
    "funnel_limits",
    "instrument_table",
    "mdc_table",
    "normal_rom",
    "published_benchmarks",
}

#: Public functions that read a file written by the package, not clinic data: a saved expected-recovery model
#: (its parameters only, fitted once on pooled data and reused in each clinic's run).
FROM_FILE = {"load_expected_recovery"}

#: Public functions that describe a fitted expected-recovery model alone (its estimates), reading no clinic.
OF_THE_MODEL = {"recovery_summary"}

#: Argument names of the old vocabulary, removed (pre-1.0, no aliases).
OLD_NAMES = {"months_before", "threshold", "min_cell"}


def _section(doc: str, title: str) -> str:
    """The text of a numpydoc section (``Parameters``, ``Returns``...) of ``doc``; empty when there is none."""
    lines = inspect.cleandoc(doc or "").splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == title and set(lines[i + 1].strip()) == {"-"}:
            body = []
            for j in range(i + 2, len(lines)):
                if j + 1 < len(lines) and lines[j + 1].strip() and set(lines[j + 1].strip()) == {"-"}:
                    break
                body.append(lines[j])
            return "\n".join(body)
    return ""


def _parameter_text(doc: str, name: str) -> str:
    """What the ``Parameters`` section says about ``name`` (its line and the lines indented under it)."""
    text = _section(doc, "Parameters")
    match = re.search(rf"^{re.escape(name)}( :|,|$).*?(?=^\S|\Z)", text, flags=re.M | re.S)
    return match.group(0) if match else ""


def _hints(function) -> dict:
    return typing.get_type_hints(function)


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) - NOT_ON_DATA - FROM_FILE))
def test_a_metric_takes_the_clinic_or_a_documented_frame_first(name):
    function = FUNCTIONS[name]
    first = next(iter(inspect.signature(function).parameters.values()))
    assert first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, name
    hints = _hints(function)
    if first.name == "clinic":
        assert hints.get("clinic") is Clinic, f"{name}: annotate `clinic: Clinic`"
        return
    if hints.get(first.name) is metrics.TrajectoryResult:  # a model's diagnostics take the fitted model
        assert ":func:`fit_trajectory`" in _parameter_text(function.__doc__, first.name), name
        return
    if hints.get(first.name) is metrics.ExpectedRecovery:  # the model's uses take the fitted model, then the clinic
        assert ":func:`fit_expected_recovery`" in _parameter_text(function.__doc__, first.name), name
        if name not in OF_THE_MODEL:
            assert _hints(function).get("clinic") is Clinic, f"{name}: annotate `clinic: Clinic`"
        return
    assert hints.get(first.name) is pd.DataFrame, f"{name}: the first argument is the Clinic or a DataFrame"
    described = _parameter_text(function.__doc__, first.name)
    assert ":func:" in described, f"{name}: the docstring must say which function makes `{first.name}`"


@pytest.mark.parametrize("name", sorted(NOT_ON_DATA))
def test_functions_that_read_no_clinic_data_are_reference_tables_or_funnel_limits(name):
    parameters = inspect.signature(FUNCTIONS[name]).parameters
    required = [p for p in parameters.values() if p.default is inspect.Parameter.empty]
    assert name in ("funnel_limits", "difference_funnel_limits") or not parameters, name
    assert all(p.annotation in ("float", "int") for p in required), name


@pytest.mark.parametrize("name", sorted(FROM_FILE))
def test_functions_that_read_a_file_take_only_its_path(name):
    parameters = list(inspect.signature(FUNCTIONS[name]).parameters.values())
    assert [p.name for p in parameters] == ["path"], name


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_options_are_keyword_only_and_named_in_the_one_vocabulary(name):
    parameters = list(inspect.signature(FUNCTIONS[name]).parameters.values())
    for parameter in parameters[1:]:
        if parameter.default is not inspect.Parameter.empty or parameter.name == "rule":
            assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}: `{parameter.name}` must be keyword-only"
    names = {p.name for p in parameters}
    assert not names & OLD_NAMES, f"{name}: {sorted(names & OLD_NAMES)} (the vocabulary: months, min_cell_size)"
    # ``group`` groups by a column nowhere: fit_trajectory's is the random-effects nesting ("auto", "subject", "patient")
    assert "group" not in names or name == "fit_trajectory", f"{name}: group by a column with `by=`"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_metric_says_what_it_returns(name):
    function = FUNCTIONS[name]
    assert "return" in _hints(function), f"{name}: annotate the return type"
    returns = _section(function.__doc__, "Returns")
    assert returns, f"{name}: the docstring needs a Returns section"
    if _hints(function)["return"] is pd.DataFrame:
        columns = re.findall(r"``([a-z][a-z0-9_<>]*)``", returns)
        assert len(columns) >= 2, f"{name}: the Returns section must list the columns, as ``name``"


# ---------------------------------------------------------------- nothing changes its input


@pytest.fixture(scope="module")
def clinic() -> Clinic:
    return Clinic.from_frames(**generate_clinic(n_patients=60, seed=3))


@pytest.fixture(scope="module")
def made(clinic) -> dict:
    """The frames the frame-first metrics take, made by the metrics that make them."""
    episodes = metrics.episode_pain(clinic)
    funnel = metrics.practitioner_funnel(clinic, min_episodes=1)
    monthly = metrics.monthly_activity(clinic, "2026-10", months=12)
    times = metrics.time_to_response(clinic).merge(clinic.episodes[["episode_id", "body_region"]], on="episode_id")
    return {
        "episodes": episodes,
        "outcomes": episodes.merge(clinic.episodes[["episode_id", "body_region"]], on="episode_id"),
        "funnel": funnel,
        "monthly": monthly,
        "times": times,
        "rates": metrics.adverse_event_rates(clinic),
        "per_episode": metrics.attendance(clinic),
        "changes": metrics.prom_change(clinic),
        "per_session": metrics.post_session_soreness(clinic),
        "pain": metrics.session_pain(clinic),
    }


def _recovery(clinic: Clinic) -> metrics.ExpectedRecovery:
    """The expected-recovery model of the small test clinic (fitted without validation: too few courses for it)."""
    return metrics.fit_expected_recovery(clinic, min_courses=10, validate=False)


def _saved_and_loaded(clinic: Clinic) -> pd.DataFrame:
    """Save the model, load it back, and predict: the loaded model reads no clinic until it predicts."""
    with tempfile.TemporaryDirectory() as folder:
        path = _recovery(clinic).save(Path(folder) / "model.json")
        return metrics.load_expected_recovery(path).predict(clinic, [28])


#: How each public function is called: (the frames of ``made`` it is given, the call). A new public
#: metric must be added here (a test checks that the table is complete).
CALLS = {
    "adverse_event_rates": ((), lambda c, m: metrics.adverse_event_rates(c)),
    "analyze_frequency": ((), lambda c, m: metrics.analyze_frequency(c)),
    "attendance": ((), lambda c, m: metrics.attendance(c)),
    "attribute_episodes": ((), lambda c, m: metrics.attribute_episodes(c)),
    "case_mix_adjusted": ((), lambda c, m: metrics.case_mix_adjusted(c, min_episodes=1)),
    "calibration_table": ((), lambda c, m: metrics.calibration_table(_recovery(c).one_step(c))),
    "compare_to_benchmarks": (("rates",), lambda c, m: metrics.compare_to_benchmarks(m["rates"])),
    "courses_not_on_track": ((), lambda c, m: metrics.courses_not_on_track(_recovery(c), c)),
    "control_chart": (
        ("monthly",),
        lambda c, m: metrics.control_chart(
            m["monthly"], numerator="discharged_responders", denominator="discharged_assessable"
        ),
    ),
    "difference_funnel": (
        (),
        lambda c, m: metrics.difference_funnel(metrics.expected_at_fixed_time(_recovery(c), c), min_episodes=1),
    ),
    "difference_funnel_limits": ((), lambda c, m: metrics.difference_funnel_limits(0.0, 1.5, 20)),
    "episode_pain": ((), lambda c, m: metrics.episode_pain(c)),
    "expected_at_fixed_time": ((), lambda c, m: metrics.expected_at_fixed_time(_recovery(c), c)),
    "fit_expected_recovery": ((), lambda c, m: metrics.fit_expected_recovery(c, min_courses=10)),
    "fit_trajectory": (
        ("pain",),
        lambda c, m: metrics.fit_trajectory(m["pain"], outcome="pain_pre", time="weeks_since_start"),
    ),
    "funnel_counts": (("funnel",), lambda c, m: metrics.funnel_counts(m["funnel"])),
    "funnel_limits": ((), lambda c, m: metrics.funnel_limits(0.5, 20)),
    "instrument_table": ((), lambda c, m: metrics.instrument_table()),
    "journal_trend": ((), lambda c, m: metrics.journal_trend(c)),
    "kaplan_meier": (("times",), lambda c, m: metrics.kaplan_meier(m["times"], by="body_region", cluster="patient_id")),
    "landmark_outcomes": ((), lambda c, m: metrics.landmark_outcomes(c)),
    "logrank_test": (("times",), lambda c, m: metrics.logrank_test(m["times"], by="body_region")),
    "load_expected_recovery": ((), lambda c, m: _saved_and_loaded(c)),
    "mdc_table": ((), lambda c, m: metrics.mdc_table()),
    "median_time": (("times",), lambda c, m: metrics.median_time(m["times"], by="body_region", cluster="patient_id")),
    "month_over_month": (("monthly",), lambda c, m: metrics.month_over_month(m["monthly"], "2026-10")),
    "monthly_activity": ((), lambda c, m: metrics.monthly_activity(c, "2026-10", months=3)),
    "monthly_control_chart": (("monthly",), lambda c, m: metrics.monthly_control_chart(m["monthly"], "responders")),
    "normal_rom": ((), lambda c, m: metrics.normal_rom()),
    "overdispersion": (("funnel",), lambda c, m: metrics.overdispersion(m["funnel"])),
    "pain_readings": ((), lambda c, m: metrics.pain_readings(c)),
    "post_session_soreness": ((), lambda c, m: metrics.post_session_soreness(c)),
    "practitioner_comparison": ((), lambda c, m: metrics.practitioner_comparison(c, min_episodes=1)),
    "practitioner_funnel": ((), lambda c, m: metrics.practitioner_funnel(c, min_episodes=1)),
    "practitioner_recording": ((), lambda c, m: metrics.practitioner_recording(c)),
    "prom_change": ((), lambda c, m: metrics.prom_change(c)),
    "published_benchmarks": ((), lambda c, m: metrics.published_benchmarks()),
    "recovery_effectiveness": (
        (),
        lambda c, m: metrics.recovery_effectiveness(
            metrics.expected_at_fixed_time(_recovery(c), c), by="practitioner_id"
        ),
    ),
    "recovery_summary": ((), lambda c, m: metrics.recovery_summary(_recovery(c))),
    "residual_table": (
        (),
        lambda c, m: metrics.residual_table(
            metrics.fit_trajectory(m["pain"], outcome="pain_pre", time="weeks_since_start"), bands=4
        ),
    ),
    "responder_curve": (("episodes",), lambda c, m: metrics.responder_curve(m["episodes"])),
    "responder_sensitivity": (("outcomes",), lambda c, m: metrics.responder_sensitivity(m["outcomes"])),
    "rom_change": ((), lambda c, m: metrics.rom_change(c)),
    "serious_events": ((), lambda c, m: metrics.serious_events(c)),
    "session_exposures": ((), lambda c, m: metrics.session_exposures(c)),
    "session_pain": ((), lambda c, m: metrics.session_pain(c)),
    "summarize_attendance": (("per_episode",), lambda c, m: metrics.summarize_attendance(m["per_episode"])),
    "summarize_proms": (("changes",), lambda c, m: metrics.summarize_proms(m["changes"])),
    "summarize_responders": (("episodes",), lambda c, m: metrics.summarize_responders(m["episodes"], by="patient_id")),
    "summarize_soreness": (("per_session",), lambda c, m: metrics.summarize_soreness(m["per_session"])),
    "time_to_response": ((), lambda c, m: metrics.time_to_response(c, confirmed=True)),
}


def test_every_public_function_is_called_below():
    assert set(CALLS) == set(FUNCTIONS)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", sorted(CALLS))
def test_no_metric_changes_the_clinic_or_the_frames_it_is_given(name, clinic, made):
    inputs, call = CALLS[name]
    tables = {table: frame.copy(deep=True) for table, frame in clinic.tables.items()}
    frames = {key: made[key].copy(deep=True) for key in inputs}
    attrs = {key: repr(made[key].attrs) for key in inputs}
    result = call(clinic, made)
    assert result is not None
    assert list(clinic.tables) == list(tables)
    for table, before in tables.items():
        pd.testing.assert_frame_equal(clinic.tables[table], before, obj=f"{name}: clinic.{table}")
    for key, before in frames.items():
        pd.testing.assert_frame_equal(made[key], before, obj=f"{name}: its input {key!r}")
        assert repr(made[key].attrs) == attrs[key], f"{name}: changed the attrs of its input {key!r}"
    for frame in result if isinstance(result, tuple) else (result,):
        assert all(frame is not made[key] for key in inputs), f"{name}: returned its input, not a new frame"

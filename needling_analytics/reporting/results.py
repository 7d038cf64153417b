"""The clinic report's headline figures and tables, as files a spreadsheet or BI tool can read.

Each clinic report writes, beside its HTML, ``summary.json`` (the headline
figures, :func:`clinic_summary`) and one CSV per table shown in the report
under ``tables/`` (:func:`write_results`). A clinic can then track its
figures month by month without copying them out of a web page. The files
hold exactly what the report shows to its audience: a figure the report
hides is ``null`` in the JSON, and a table is written as it was protected.
The keys are listed in ``docs/metrics.md`` ("Machine-readable results").

Both files hold patient-derived figures, so they are written under the
run's file permissions (owner only by default), like every output.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from ..periods import parse_month
from ..privacy.suppression import Disclosure, as_disclosure, round_counts
from ..spreadsheet import write_csv

#: Version of the ``summary.json`` layout; raised when a key changes meaning or is removed.
SUMMARY_VERSION = 1

#: The funnel counts copied into ``summary.json["practitioners"]``.
_FUNNEL_KEYS = ("shown", "hidden", "above_95", "below_95", "above_998", "below_998")


def _number(value, kind=float):
    """``value`` as a JSON number (``kind``), or None when it is missing or not finite."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return None
    number = kind(value)
    return None if isinstance(number, float) and not math.isfinite(number) else number


def responder_figures(
    summary: pd.DataFrame, *, cohort: str = "ended", min_cell_size: int | Disclosure | None = 11
) -> dict:
    """The responder headline as the report shows it: ``cohort, assessed, improved, rate, ci_lower, ci_upper``.

    ``summary`` is the one-row output of
    :func:`~needling_analytics.metrics.summarize_responders`. The same
    small-cell rule as :func:`~needling_analytics.reporting.text.responder_summary`:
    with fewer than ``min_cell_size`` courses assessed, only the cohort is given
    (``assessed`` is ``null`` unless it is 0); when the improved or the
    not-improved count is from 1 to ``min_cell_size - 1``, ``improved``, the
    rate and its interval are ``null`` (either would reveal the small
    count). ``min_cell_size=None``, or a
    :class:`~needling_analytics.privacy.suppression.Disclosure` for the owner, hides
    nothing; a Disclosure with ``method="round"`` gives the counts rounded
    to the nearest 5, as the report writes them ("about 415").
    """
    out = {"cohort": cohort, "assessed": None, "improved": None, "rate": None, "ci_lower": None, "ci_upper": None}
    if summary is None or len(summary) == 0:
        return out
    row = summary.iloc[0]
    assessed, improved = int(row["assessable"]), int(row["responders"])
    policy = None if min_cell_size is None else as_disclosure(min_cell_size)
    limit = policy.cutoff if policy is not None else 0
    if 0 < assessed < limit:
        return out
    shown = (lambda n: int(round_counts(n))) if policy is not None and policy.rounds else int
    out["assessed"] = shown(assessed)
    if 0 < improved < limit or 0 < assessed - improved < limit:
        return out
    out["improved"] = shown(improved)
    out.update(
        {
            key: _number(row[source])
            for key, source in (("rate", "responder_rate"), ("ci_lower", "ci_lower"), ("ci_upper", "ci_upper"))
        }
    )
    return out


def frequency_figures(patient_level: pd.DataFrame) -> dict:
    """The session-frequency association: ``estimable, design, episodes, estimate, ci_lower, ci_upper``.

    ``patient_level`` is :attr:`~needling_analytics.metrics.FrequencyAnalysis.patient_level`.
    The estimate is the change in the fall in pain (points) with each extra
    session a week in the first four weeks; ``null`` when the analysis
    could not be estimated (``estimable`` false).
    """
    attrs = patient_level.attrs
    estimable = bool(attrs.get("estimable", False)) and "early_frequency" in patient_level.index
    out = {
        "estimable": estimable,
        "design": attrs.get("design"),
        "episodes": _number(attrs.get("n_episodes"), int),
        "estimate": None,
        "ci_lower": None,
        "ci_upper": None,
    }
    if estimable:
        row = patient_level.loc["early_frequency"]
        out.update({key: _number(row[key]) for key in ("estimate", "ci_lower", "ci_upper")})
    return out


def clinic_summary(
    *,
    disclosure: Disclosure,
    month,
    months: int = 12,
    as_of,
    rule,
    responders: dict,
    practitioner_counts: Mapping | None,
    frequency: dict,
    version: str,
    recovery: dict | None = None,
    practitioner_comparison: str = "responder_rate",
) -> dict:
    """The clinic report's headline figures as one JSON-ready dict.

    Keys: ``summary_version``, ``audience`` (``disclosure``'s: owner,
    staff or public), ``disclosure`` (``audience``, ``method``,
    ``threshold``: how the report protected small counts), ``period`` (``month``, and
    ``courses_from``, ``courses_to``: the window of ``months`` months up to
    its end in which the reported courses of care started; ``as_of``: the
    date the records were taken up to; ISO dates), ``rule`` (its
    four fields), ``responders`` (:func:`responder_figures`),
    ``practitioners`` (the six counts of
    :func:`~needling_analytics.metrics.funnel_counts` on the unprotected
    funnel: ``shown, hidden, above_95, below_95, above_998, below_998``;
    ``null`` values when no practitioner was compared; and ``comparison``:
    ``responder_rate``, or ``observed_minus_expected`` when the funnel was
    the case-mix adjusted one of the expected course), ``frequency``
    (:func:`frequency_figures`), ``recovery`` (the expected course:
    :func:`~needling_analytics.reporting.recovery_figures`; ``null`` when
    not given) and ``version`` (of needling-analytics).
    """
    period = parse_month(month)
    start, end = (period - (months - 1)).start_time, period.end_time
    counts = dict(practitioner_counts or {})
    return {
        "summary_version": SUMMARY_VERSION,
        "audience": disclosure.audience,
        "disclosure": disclosure.to_dict(),
        "period": {
            "month": str(period),
            "courses_from": f"{start:%Y-%m-%d}",
            "courses_to": f"{end:%Y-%m-%d}",
            "as_of": f"{pd.Timestamp(as_of):%Y-%m-%d}",
        },
        "rule": {key: (value if isinstance(value, str) else float(value)) for key, value in asdict(rule).items()},
        "responders": responders,
        "practitioners": {
            **{key: _number(counts.get(key), int) for key in _FUNNEL_KEYS},
            "comparison": practitioner_comparison,
        },
        "frequency": frequency,
        "recovery": recovery,
        "version": version,
    }


def _write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_results(folder, summary: dict, tables: Mapping[str, pd.DataFrame]) -> list[Path]:
    """Write ``summary.json`` and ``tables/<name>.csv`` into ``folder``; return the paths written.

    An empty ``folder`` ("" or None, e.g. a report run by hand) writes
    nothing. Each table is written as given (already protected for the
    report's audience), its index kept as columns when it is named, and
    formula-safe (:func:`~needling_analytics.spreadsheet.write_csv`). Old
    CSVs of tables that are no longer shown are removed, so the folder
    always matches the report.
    """
    if not folder:
        return []
    folder = Path(folder)
    table_dir = folder / "tables"
    table_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        if not name.isidentifier():
            raise ValueError(f"table name {name!r} must be letters, digits and underscores (it becomes a file name)")
        frame = table.reset_index() if any(n is not None for n in table.index.names) else table
        written.append(write_csv(frame, table_dir / f"{name}.csv"))
    for stale in table_dir.glob("*.csv"):
        if stale not in written:
            stale.unlink()
    path = folder / "summary.json"
    _write_text_atomically(path, json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return [path, *written]

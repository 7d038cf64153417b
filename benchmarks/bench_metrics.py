"""Time every metric family on a large generated clinic.

    python benchmarks/bench_metrics.py --patients 120000     # about 1,000,000 sessions

Generates the clinic with the demo generator (in memory, no files), then
times each metric family once on one core, prints peak memory, and compares
the vectorised episode metrics with a naive ``groupby().apply`` version of
the same computation (run on a sample and scaled, since the naive version
is slow by design).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as promised in docs/performance.md
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from needling_analytics import metrics  # noqa: E402
from needling_analytics.demo import generate_clinic  # noqa: E402
from needling_analytics.load import Clinic  # noqa: E402


def naive_episode_pain(sessions: pd.DataFrame) -> pd.DataFrame:
    """Baseline, latest and reduction per episode with a Python function per episode."""

    def one(group: pd.DataFrame) -> pd.Series:
        scored = group[(group["status"] == "attended") & group["pain_pre"].notna()].sort_values(
            ["session_date", "session_time", "session_id"]
        )
        baseline = scored["pain_pre"].iloc[0] if len(scored) else np.nan
        latest = scored["pain_pre"].iloc[-1] if len(scored) > 1 else np.nan
        return pd.Series({"baseline": baseline, "latest": latest, "reduction": baseline - latest})

    return sessions.groupby("episode_id").apply(one, include_groups=False)


def timed(label: str, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    seconds = time.perf_counter() - start
    print(f"  {label:<34} {seconds:7.2f} s")
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=120_000)
    parser.add_argument("--naive-sample", type=int, default=5_000, help="episodes timed for the naive version")
    args = parser.parse_args()

    start = time.perf_counter()
    clinic = Clinic.from_frames(as_of="2026-11-28", **generate_clinic(n_patients=args.patients, seed=0))
    print(f"clinic: {args.patients:,} patients, {len(clinic.episodes):,} episodes, {len(clinic.sessions):,} sessions "
          f"(generated in {time.perf_counter() - start:.1f} s)")  # fmt: skip
    families = [("session pain", metrics.session_pain, ()), ("episode pain + responders", metrics.episode_pain, ())]
    for name in [
        "time_to_response",
        "rom_change",
        "prom_change",
        "adverse_event_rates",
        "attendance",
        "journal_trend",
        "post_session_soreness",
        "practitioner_funnel",
    ]:
        if hasattr(metrics, name):
            families.append((name.replace("_", " "), getattr(metrics, name), ()))
    if hasattr(metrics, "monthly_activity"):
        families.append(("monthly activity (13 months)", metrics.monthly_activity, ("2026-10",)))
    if hasattr(metrics, "session_exposures"):
        families.append(("session exposures", metrics.session_exposures, ()))
    print("metric family (one run, one core):")
    total = 0.0
    episodes = None
    for label, function, extra in families:
        result, seconds = timed(label, function, clinic, *extra)
        total += seconds
        if function is metrics.episode_pain:
            episodes, vectorised = result, seconds
    summary, seconds = timed(
        "responder summary + curve", lambda e: (metrics.summarize_responders(e), metrics.responder_curve(e)), episodes
    )
    total += seconds
    print(f"  {'total':<34} {total:7.2f} s")

    sample_ids = clinic.episodes["episode_id"].iloc[: args.naive_sample]
    sample = clinic.sessions[clinic.sessions["episode_id"].isin(sample_ids)]
    _, naive_seconds = timed(f"naive groupby-apply ({len(sample_ids):,} episodes)", naive_episode_pain, sample)
    scaled = naive_seconds * len(clinic.episodes) / len(sample_ids)
    print(
        f"naive version scaled to {len(clinic.episodes):,} episodes: {scaled:.1f} s; vectorised episode pain is {scaled / vectorised:.0f}x faster"
    )
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()

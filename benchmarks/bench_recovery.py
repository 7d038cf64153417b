"""Time the expected-recovery model: fit (with its temporal validation), predict, one step ahead.

    python benchmarks/bench_recovery.py --patients 10000    # about 100,000 scored visits
    python benchmarks/bench_recovery.py --patients 100000   # about 1,000,000 scored visits

The clinic is simulated without a loop per patient (one course each, 4-16
scored visits, about 10 on average; case mix drawn at random; pain falling
on the logit scale with a random level per course, rounded to whole
points) and built with ``Clinic.from_frames``; ``--demo`` uses the demo
generator instead. One core: BLAS threads pinned to 1.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from needling_analytics import metrics  # noqa: E402
from needling_analytics.clinic import Clinic  # noqa: E402

REGIONS = np.array(["neck", "low_back", "shoulder", "knee", "hip", "upper_back", "elbow", "ankle_foot"], dtype=object)


def simulate(n_patients: int, seed: int = 0) -> Clinic:
    rng = np.random.default_rng(seed)
    n = n_patients
    start = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 540, n), unit="D")
    baseline = np.clip(np.round(rng.normal(6, 1.8, n)), 1, 10)
    visits = rng.integers(3, 16, n)  # follow-ups; plus the baseline visit: 4-16 scored visits
    course = np.repeat(np.arange(n), visits)
    gaps = rng.integers(3, 15, len(course)).astype(float)
    first = np.r_[0, np.cumsum(visits)[:-1]]
    total = np.cumsum(gaps)
    day = total - np.repeat(total[first] - gaps[first], visits)
    region = rng.integers(0, len(REGIONS), n)
    bz = np.log((baseline + 0.5) / (10.5 - baseline))
    z = 0.2 + 0.8 * bz[course] - 0.1 * day / 7 + 0.05 * (region[course] == 1) + rng.normal(0, 0.5, n)[course]
    pain = np.clip(np.round(-0.5 + 11 / (1 + np.exp(-(z + rng.normal(0, 0.35, len(course)))))), 0, 10)
    ids = pd.Series(np.arange(n)).map("E{:07d}".format).to_numpy(dtype=object)
    patients = pd.Series(np.arange(n)).map("P{:07d}".format).to_numpy(dtype=object)
    owner = np.r_[np.arange(n), course]
    dates = np.r_[start.to_numpy(), start.to_numpy()[course] + (day * 86_400e9).astype("timedelta64[ns]")]
    return Clinic.from_frames(
        as_of="2026-11-28",
        patients=pd.DataFrame(
            {"patient_id": patients, "birth_year": rng.integers(1940, 2005, n), "sex": rng.choice(["F", "M"], n)}
        ),
        episodes=pd.DataFrame(
            {
                "episode_id": ids,
                "patient_id": patients,
                "start_date": start,
                "body_region": REGIONS[region],
                "symptom_duration_weeks": rng.integers(1, 60, n).astype(float),
            }
        ),  # fmt: skip
        sessions=pd.DataFrame(
            {
                "session_id": pd.Series(np.arange(len(owner))).map("S{:08d}".format).to_numpy(dtype=object),
                "episode_id": ids[owner],
                "patient_id": patients[owner],
                "practitioner_id": "PR1",
                "session_date": dates,
                "pain_pre": np.r_[baseline, pain],
            }
        ),  # fmt: skip
    )


def timed(label: str, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    print(f"  {label:<44} {time.perf_counter() - start:7.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--demo", action="store_true", help="use the demo generator instead of the simulation")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.demo:
        from needling_analytics.demo import generate_clinic

        clinic = Clinic.from_frames(as_of="2026-11-28", **generate_clinic(n_patients=args.patients, seed=0))
    else:
        clinic = simulate(args.patients)
    scored = int(clinic.sessions["pain_pre"].notna().sum())
    print(f"clinic: {args.patients:,} patients, {len(clinic.episodes):,} courses, {scored:,} scored visits "
          f"(built in {time.perf_counter() - start:.1f} s)")  # fmt: skip
    model = timed("fit_expected_recovery (with validation)", metrics.fit_expected_recovery, clinic)
    timed("fit_expected_recovery (validate=False)", metrics.fit_expected_recovery, clinic, validate=False)
    timed("predict, weeks 0-12 (13 days a course)", model.predict, clinic, np.arange(0, 85, 7))
    timed("one_step (every follow-up score)", model.one_step, clinic)
    print(f"  fitted: {model.n_courses:,} courses, {model.n_observations:,} follow-up scores, knots {model.knots}")
    v = model.validation
    print(f"  validation: coverage {v['coverage']:.3f}, MAE {v['mae_model']:.2f} vs carry-forward "
          f"{v['mae_carry_forward']:.2f}; available {model.available}")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak resident memory: {peak:.2f} GiB")


if __name__ == "__main__":
    main()

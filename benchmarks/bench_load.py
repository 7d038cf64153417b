"""Time loading and validating a generated clinic.

    python benchmarks/bench_load.py --patients 20000 [--messy]

Generates a demo clinic of the given size, writes it as CSV, then times
``load_clinic`` on it and prints rows per second and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import warnings
from pathlib import Path

from needling_analytics import DataQualityWarning, load_clinic
from needling_analytics.demo import generate_clinic, make_messy, write_clinic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--messy", action="store_true")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    args = parser.parse_args()

    start = time.perf_counter()
    tables = generate_clinic(n_patients=args.patients, seed=0)
    if args.messy:
        tables, _ = make_messy(tables, seed=0)
    generated = time.perf_counter() - start
    rows = sum(len(t) for t in tables.values())
    with tempfile.TemporaryDirectory() as folder:
        write_clinic(tables, Path(folder), fmt=args.format)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            clinic = load_clinic(folder, as_of="2026-11-28")
        loaded = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(f"patients {args.patients:,}; rows in all tables {rows:,} ({args.format}{', messy' if args.messy else ''})")
    print(f"generate: {generated:6.2f} s")
    print(
        f"load + validate: {loaded:6.2f} s  ({rows / loaded:,.0f} rows/s); peak resident memory of the process {peak / 2**20:,.0f} MiB"
    )
    print(f"quarantined rows: {clinic.quality.rows_quarantined:,}")


if __name__ == "__main__":
    main()

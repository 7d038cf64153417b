"""Reports per minute: warm kernels versus a fresh kernel per report, 1 versus all workers.

    python benchmarks/bench_reports.py --patients 120 --baseline-patients 20

Generates the demo clinic, picks the first ``--patients`` patients seen in
October 2026, and times: plain ``papermill`` on the patient notebook (one
fresh kernel per report, one after another), then the monthly runner's
fan-out with ``isolation`` "strict" and "warm", each with 1 worker and with
all cores, and "warm" with all cores on a Dask LocalCluster (``executor =
"dask"``). The slow configurations (plain papermill and strict) make only
the first ``--baseline-patients`` reports, to keep the benchmark short; a
rate is reports per minute either way, and the start-up of worker processes
and kernels is inside every timing. Load, validation and the metrics cache
are done once and not timed, as in a real run. Prints reports per minute
and the ratios.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
import papermill

from needling_analytics import DataQualityWarning, load_clinic
from needling_analytics.demo import generate_clinic, write_clinic
from needling_analytics.reporting import RunSettings, write_cache
from needling_analytics.runner import RunConfig, patients_seen
from needling_analytics.runner.cluster import fan_out as fan_out_on_dask
from needling_analytics.runner.execute import KERNEL, notebook_path
from needling_analytics.runner.local import Job, fan_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=60, help="patient reports with warm kernels")
    parser.add_argument(
        "--baseline-patients", type=int, default=20, help="patient reports for plain papermill and strict isolation"
    )
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_clinic(generate_clinic(n_patients=400, seed=0), tmp / "data")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            clinic = load_clinic(tmp / "data")
        cache = write_cache(clinic, tmp / "cache", settings=RunSettings(clinic_name="Benchmark clinic"))
        patients = patients_seen(clinic, pd.Period("2026-10", "M"))[: args.patients]
        baseline = patients[: args.baseline_patients]
        print(f"{len(patients)} patient reports with warm kernels, {len(baseline)} otherwise; {cores} cores")

        def parameters(pid):
            return {
                "patient_id": pid,
                "cache_dir": str(cache),
                "data_dir": str(tmp / "data"),
                "as_of": f"{clinic.as_of:%Y-%m-%d}",
            }

        rates = {}
        start = time.perf_counter()
        for pid in baseline:
            papermill.execute_notebook(
                str(notebook_path("patient")),
                str(tmp / f"plain-{pid}.ipynb"),
                parameters=parameters(pid),
                kernel_name=KERNEL,
                progress_bar=False,
            )
        rates["plain papermill, 1 process"] = len(baseline) / (time.perf_counter() - start) * 60
        for isolation in ("strict", "warm"):
            chosen = baseline if isolation == "strict" else patients
            for workers in sorted({1, cores}):
                out = tmp / f"{isolation}-{workers}"
                jobs = [Job(pid, "patient", pid, parameters(pid), out / f"{pid}.html", "") for pid in chosen]
                config = RunConfig(data_dir=tmp / "data", out_dir=out, workers=workers, isolation=isolation)
                start = time.perf_counter()
                results = fan_out(jobs, config, out)
                seconds = time.perf_counter() - start
                failed = [r for r in results if r.status != "ok"]
                if failed:
                    raise SystemExit(f"{len(failed)} report(s) failed: {failed[0].reason}")
                rates[f"{isolation}, {workers} worker(s)"] = len(chosen) / seconds * 60
        out = tmp / "dask"
        jobs = [Job(pid, "patient", pid, parameters(pid), out / f"{pid}.html", "") for pid in patients]
        config = RunConfig(data_dir=tmp / "data", out_dir=out, workers=cores, executor="dask")
        (out / "kernels").mkdir(parents=True)
        start = time.perf_counter()
        results = fan_out_on_dask(jobs, config, out)
        seconds = time.perf_counter() - start
        if any(r.status != "ok" for r in results):
            raise SystemExit("a report failed on the Dask cluster")
        rates[f"warm, dask, {cores} worker(s)"] = len(patients) / seconds * 60
        base = rates["plain papermill, 1 process"]
        for label, rate in rates.items():
            print(f"  {label:<28} {rate:6.1f} reports/min  ({rate / base:4.1f}x plain papermill)")


if __name__ == "__main__":
    main()

"""The Dask executor on an existing cluster: a real scheduler and real workers started with Dask's command.

(The same monthly-run tests run with a LocalCluster in ``test_runner.py`` and
``test_runner_lifeline.py``.) A worker that cannot see the run folder is
started in a private mount namespace where an empty file system hides the
folder, as a machine without the shared folder would be.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from needling_analytics.demo import write_clinic

from .conftest import demo_tables
from .test_runner_lifeline import _processes_marked, _wait_until

MONTH = "2026-10"
DASK = str(Path(sys.executable).parent / "dask")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the cluster's processes through /proc"),
]


def _certificates(folder: Path) -> list[str]:
    """A certificate authority and one certificate it signed for 127.0.0.1, made with openssl: the TLS options."""
    folder.mkdir()

    def openssl(*arguments):
        subprocess.run(["openssl", *arguments], cwd=folder, check=True, capture_output=True)

    new_key = ["-newkey", "rsa:2048", "-nodes", "-days", "2"]
    openssl("req", "-x509", *new_key, "-keyout", "ca-key.pem", "-out", "ca.pem", "-subj", "/CN=needling-test-ca")
    openssl("req", *new_key[:3], "-keyout", "key.pem", "-out", "cert.csr", "-subj", "/CN=localhost")
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    sign = ["x509", "-req", "-in", "cert.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial"]
    openssl(*sign, "-days", "2", "-extfile", "san.cnf", "-out", "cert.pem")
    return [
        f"--tls-ca-file={folder / 'ca.pem'}",
        f"--tls-cert={folder / 'cert.pem'}",
        f"--tls-key={folder / 'key.pem'}",
    ]


@pytest.fixture
def cluster(tmp_path, request):
    """Start ``dask scheduler`` on loopback (over TLS when the test is parametrised with ``tls``);
    yield its address and a function that starts a worker (optionally blind)."""
    mark = f"needling-cluster-{uuid.uuid4().hex}"
    env = {**os.environ, "NEEDLING_TEST_MARK": mark}
    address_file = tmp_path / "scheduler.json"
    tls = _certificates(tmp_path / "certs") if getattr(request, "param", "tcp") == "tls" else []
    started = [
        subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
            + ["--scheduler-file", str(address_file)]
            + (["--protocol", "tls", *tls] if tls else []),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]

    def worker(*, hide: Path | None = None):
        command = [DASK, "worker", "--scheduler-file", str(address_file), "--nthreads", "1", "--no-dashboard", *tls]
        if hide is not None:  # an empty file system over the folder, seen by this worker only
            command = ["unshare", "--mount", "sh", "-c", f'mount -t tmpfs tmpfs "{hide}" && exec "$@"', "sh", *command]
        started.append(
            subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
        )

    try:
        assert _wait_until(address_file.is_file, 60), "the scheduler did not start"
        yield json.loads(address_file.read_text())["address"], worker, mark
    finally:
        for process in reversed(started):
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for pid in _processes_marked(mark):
            os.kill(pid, signal.SIGKILL)


def _workers(address: str, count: int, certificates: Path | None = None) -> bool:
    from distributed import Client, Security

    security = None
    if certificates is not None:
        files = {"tls_ca_file": "ca.pem", "tls_client_cert": "cert.pem", "tls_client_key": "key.pem"}
        security = Security(**{k: str(certificates / v) for k, v in files.items()}, require_encryption=True)
    with Client(address, timeout=10, security=security) as client:
        return len(client.scheduler_info()["workers"]) >= count


@pytest.fixture
def run_folder():
    folder = Path(tempfile.mkdtemp(prefix="run-", dir="/tmp"))  # short, as a real one: room for kernel sockets
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _monthly(data: Path, out: Path, address: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "needling_analytics", "monthly", "--month", MONTH, "--data", str(data)]
    command += ["--out", str(out), "--clinic-name", "Cluster", "--executor", "dask", "--scheduler", address]
    command += ["--insecure"] if address.startswith("tcp://") else []  # the test's own loopback cluster
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def test_an_existing_cluster_makes_every_report_and_its_kernels_end_with_the_run(cluster, tmp_path, run_folder):
    address, worker, mark = cluster
    worker()
    worker()
    assert _wait_until(lambda: _workers(address, 2), 60), "the workers did not join"
    data = tmp_path / "data"
    write_clinic(demo_tables(n_patients=12, seed=1), data)
    done = _monthly(data, run_folder, address)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = run_folder / "cluster" / MONTH
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["parameters"]["executor"] == "dask" and manifest["parameters"]["scheduler"] == address
    assert manifest["counts"]["failed"] == 0 and manifest["counts"]["ok"] == len(manifest["reports"]) > 2
    assert (run_dir / "clinic" / "clinic_report.html").is_file()
    # the workers stay (the cluster is not the run's), their kernels do not
    running = _wait_until(lambda: not any("ipykernel" in c for c in _processes_marked(mark).values()), 10)
    assert running, _processes_marked(mark)
    assert sum("dask worker" in c or "spawn_main" in c for c in _processes_marked(mark).values()) >= 2
    assert not list((run_dir / "kernels").iterdir())


@pytest.mark.skipif(
    subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode != 0,
    reason="needs unshare --mount to hide the run folder from one worker",
)
def test_workers_that_cannot_see_the_run_folder_are_named_and_the_run_exits_2(cluster, tmp_path, run_folder):
    address, worker, _ = cluster
    worker()
    worker(hide=run_folder)
    assert _wait_until(lambda: _workers(address, 2), 60), "the workers did not join"
    data = tmp_path / "data"
    write_clinic(demo_tables(n_patients=12, seed=1), data)
    started = time.monotonic()
    done = _monthly(data, run_folder, address)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "1 of 2 Dask worker(s) cannot see the run folder" in done.stderr
    assert "shared folder" in done.stderr and str(run_folder / "cluster" / MONTH) in done.stderr
    run_dir = run_folder / "cluster" / MONTH
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["exit_code"] == 2 and manifest["reports"] == []
    assert not list((run_dir / "patients").glob("*.html"))
    assert time.monotonic() - started < 120


@pytest.mark.parametrize("cluster", ["tls"], indirect=True)
def test_a_tls_cluster_is_reached_with_the_certificates_named_in_the_config(cluster, tmp_path, run_folder):
    address, worker, _ = cluster
    assert address.startswith("tls://")
    worker()
    certificates = tmp_path / "certs"
    assert _wait_until(lambda: _workers(address, 1, certificates), 60), "the worker did not join"
    data = tmp_path / "data"
    write_clinic(demo_tables(n_patients=6, seed=1), data)
    config = tmp_path / "clinic.toml"
    config.write_text(
        f'clinic_name = "Cluster"\ndata_dir = "data"\nout_dir = "{run_folder}"\nexecutor = "dask"\n'
        f'scheduler = "{address}"\ntls_ca_file = "certs/ca.pem"\ntls_cert_file = "certs/cert.pem"\n'
        'tls_key_file = "certs/key.pem"\n'
    )
    command = [sys.executable, "-m", "needling_analytics", "monthly", "--month", MONTH, "--config", str(config)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((run_folder / "cluster" / MONTH / "manifest.json").read_text())
    assert manifest["parameters"]["scheduler"] == address and manifest["counts"]["failed"] == 0
    assert manifest["counts"]["ok"] == len(manifest["reports"]) >= 2
    # plain TCP is refused before connecting; forced with --insecure, the TLS scheduler does not answer it
    plain = address.replace("tls://", "tcp://")
    command[command.index("--config") :] = ["--data", str(data), "--out", str(run_folder / "plain")]
    command += ["--executor", "dask", "--scheduler", plain]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "unencrypted" in refused.stderr and "--insecure" in refused.stderr
    unanswered = _monthly(data, run_folder / "plain", plain)
    assert unanswered.returncode == 2 and "could not be reached" in unanswered.stderr


def test_two_runs_share_one_cluster_and_neither_stops_the_others_kernels(cluster, tmp_path, run_folder):
    """Each run's worker plugin is its own: one run ending (its teardown) must not kill the other's kernels."""
    address, worker, mark = cluster
    worker()
    worker()
    assert _wait_until(lambda: _workers(address, 2), 60), "the workers did not join"
    runs = []
    for number, patients in ((1, 6), (2, 14)):  # a short run that ends while the longer one is still going
        data = tmp_path / f"data-{number}"
        write_clinic(demo_tables(n_patients=patients, seed=number), data)
        command = [sys.executable, "-m", "needling_analytics", "monthly", "--month", MONTH, "--data", str(data)]
        command += ["--out", str(run_folder / f"out-{number}"), "--clinic-name", f"Clinic {number}"]
        command += ["--executor", "dask", "--scheduler", address, "--insecure"]
        runs.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for number, process in enumerate(runs, start=1):
        _, error = process.communicate(timeout=900)
        assert process.returncode == 0, error[-3000:]
        manifest = json.loads((run_folder / f"out-{number}" / f"clinic-{number}" / MONTH / "manifest.json").read_text())
        assert manifest["counts"]["failed"] == 0 and manifest["counts"]["ok"] == len(manifest["reports"]) >= 2
    running = _wait_until(lambda: not any("ipykernel" in c for c in _processes_marked(mark).values()), 10)
    assert running, "a kernel outlived both runs"

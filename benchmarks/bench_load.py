"""Time loading and validating a generated clinic.

    python benchmarks/bench_load.py --patients 20000 [--messy]
    python benchmarks/bench_load.py --format postgresql --patients 23600
    python benchmarks/bench_load.py --format cliniko --appointments 1000000

Generates a demo clinic of the given size, writes it as CSV, then times
``load_clinic`` on it and prints rows per second and peak memory.

With ``--format postgresql`` the clinic is written instead into a fresh
schema of the database named by ``--database`` (default: the tests'
``NEEDLING_TEST_PG_URL``, password in ``NEEDLING_TEST_PG_PASSWORD``; start
one with ``make pg``), with bigint IDs, numeric pain and a timestamptz
start, and three things are timed: ``pandas.read_sql`` of the sessions
query over an ADBC connection (the floor), the PostgreSQL source reading
the same query, and ``load_clinic`` through a mapping with one query per
table. The schema is dropped afterwards. 23,600 patients give about
200,000 sessions.

With ``--format cliniko`` the demo clinic is written as a Cliniko export
(``demo-data --format cliniko``: UTC timestamps, three attendance flags,
19-digit IDs, treatment-note columns) and its appointments and patients are
repeated, with new IDs, until the appointments file has ``--appointments``
rows. Timed: ``pandas.read_csv`` of the appointments file as text (the
floor), and ``load_clinic`` through the sample's ``mapping.yaml`` (the
``cliniko`` template: time zone, status rules, derived courses of care, a
knee-flexion column unpivoted to range-of-motion rows).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import warnings
from pathlib import Path

from needling_analytics import DataQualityWarning, load_clinic
from needling_analytics.demo import generate_clinic, make_messy, write_clinic

#: Demo ID prefix -> 19-digit bigint base, as a clinic database would number rows.
ID_BASE = {"patient_id": 9_100_000_000_000_000_000, "episode_id": 9_200_000_000_000_000_000}
ID_BASE["session_id"] = 9_223_000_000_000_000_000
DB_TYPES = {
    **dict.fromkeys(ID_BASE, "bigint"),
    **dict.fromkeys(["pain_pre", "pain_post", "score", "degrees", "pain", "symptom_duration_weeks"], "numeric"),
    **dict.fromkeys(["resolved_days", "stiffness", "mobility"], "numeric"),
}
SESSIONS_QUERY = (
    "SELECT session_id, episode_id, patient_id, practitioner_id, (starts_at AT TIME ZONE 'UTC')::date AS session_date,"
    " to_char(starts_at AT TIME ZONE 'UTC', 'HH24:MI') AS session_time, status, pain_pre, pain_post, needles,"
    " muscles, twitch_response FROM {schema}.sessions"
)


def _db_form(tables):
    """The demo tables with bigint IDs and sessions' date + time as one timestamptz."""
    import pandas as pd
    import pyarrow as pa

    out = {}
    for name, frame in tables.items():
        frame = frame.copy()
        for column, base in ID_BASE.items():
            if column in frame:
                digits = frame[column].str.lstrip("PES").astype("Int64")
                frame[column] = (digits + base).astype("Int64")
        if name == "sessions":
            time = pd.to_timedelta(frame.pop("session_time").fillna("00:00").astype(str) + ":00")
            frame["starts_at"] = (frame.pop("session_date") + time).dt.tz_localize("UTC")
        out[name] = pa.Table.from_pandas(frame, preserve_index=False)
    return out


def _connect(url: str, password: str | None):
    from urllib.parse import quote, urlsplit

    import adbc_driver_postgresql.dbapi as dbapi

    parts = urlsplit(url)
    if password:
        parts = parts._replace(netloc=parts.netloc.replace("@", f":{quote(password, safe='')}@", 1))
    return dbapi.connect(parts.geturl(), autocommit=True)


def bench_postgresql(tables, url: str, password_env: str) -> None:
    """Write ``tables`` into a fresh schema and time reading them back (see the module docstring)."""
    import uuid

    import pandas as pd

    from needling_analytics.load.mapping import Mapping, TableMapping
    from needling_analytics.load.sources import open_source

    password = os.environ.get(password_env)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with _connect(url, password) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
        start = time.perf_counter()
        for name, table in _db_form(tables).items():
            cursor.adbc_ingest(name, table, mode="create", db_schema_name=schema)
            for column, db_type in DB_TYPES.items():
                if column in table.column_names:
                    cursor.execute(f"ALTER TABLE {schema}.{name} ALTER COLUMN {column} TYPE {db_type}")
        print(f"write to PostgreSQL (COPY through ADBC): {time.perf_counter() - start:6.2f} s")
    try:
        query = SESSIONS_QUERY.format(schema=schema)
        with _connect(url, password) as connection:
            start = time.perf_counter()
            floor = pd.read_sql(query, connection)
            read_sql = time.perf_counter() - start
        only_sessions = Mapping(tables={"sessions": TableMapping(query=query)}, kind=url, password_env=password_env)
        start = time.perf_counter()
        raw = open_source("-", only_sessions).read("sessions", only_sessions.for_table("sessions"))
        source = time.perf_counter() - start
        rows = len(raw.frame)
        assert rows == len(floor)
        print(f"sessions: {rows:,} rows")
        print(f"pandas.read_sql over ADBC (floor): {read_sql:6.2f} s  ({rows / read_sql:,.0f} rows/s)")
        print(f"PostgreSQL source, sessions query: {source:6.2f} s  ({rows / source:,.0f} rows/s)")
        queries = {name: TableMapping(query=f"SELECT * FROM {schema}.{name}") for name in tables}
        queries["sessions"] = TableMapping(query=query)
        mapping = Mapping(tables=queries, kind=url, password_env=password_env)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            clinic = load_clinic("-", mapping, as_of="2026-11-28")
        loaded = time.perf_counter() - start
        total = sum(len(t) for t in tables.values())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(
            f"load + validate (postgresql, all tables): {loaded:6.2f} s  ({total / loaded:,.0f} rows/s);"
            f" peak resident memory of the process {peak / 2**20:,.0f} MiB"
        )
        print(f"quarantined rows: {clinic.quality.rows_quarantined:,}")
    finally:
        with _connect(url, password) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {schema} CASCADE")


def bench_cliniko(n_appointments: int, patients: int) -> None:
    """Time a Cliniko export of ``n_appointments`` appointments (see the module docstring)."""
    import pandas as pd

    from needling_analytics.demo.exports import write_export

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        start = time.perf_counter()
        write_export("cliniko", generate_clinic(n_patients=patients, seed=0), folder, seed=0)
        appointments = pd.read_csv(folder / "appointments.csv", dtype=str, keep_default_na=False)
        people = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
        copies = -(-n_appointments // len(appointments))
        ids = ["id", "patient_id", "patient_case_id"]
        appointments = pd.concat(
            [appointments.assign(**{c: appointments[c] + f"{k:03d}" for c in ids}) for k in range(copies)]
        ).head(n_appointments)
        people = pd.concat([people.assign(**{"Patient ID": people["Patient ID"] + f"{k:03d}"}) for k in range(copies)])
        appointments.to_csv(folder / "appointments.csv", index=False)
        people.to_csv(folder / "patients.csv", index=False)
        print(f"Cliniko export: {len(appointments):,} appointments, {len(people):,} patients"
              f" ({copies} copies of a {patients:,}-patient clinic), written in {time.perf_counter() - start:.1f} s")  # fmt: skip
        start = time.perf_counter()
        floor = pd.read_csv(folder / "appointments.csv", dtype=str)
        read_csv = time.perf_counter() - start
        assert len(floor) == len(appointments)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            clinic = load_clinic(folder, as_of="2026-11-28")
        loaded = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rows = len(appointments)
    print(f"pandas.read_csv of appointments.csv, as text (floor): {read_csv:6.2f} s  ({rows / read_csv:,.0f} rows/s)")
    print(
        f"load_clinic through the cliniko template (all tables): {loaded:6.2f} s  ({rows / loaded:,.0f} appointments/s);"
        f" peak resident memory of the process {peak / 2**20:,.0f} MiB"
    )
    print(f"kept: {len(clinic.sessions):,} sessions, {len(clinic.episodes):,} derived courses, {len(clinic.rom):,} rom rows;"
          f" quarantined rows: {clinic.quality.rows_quarantined:,}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--messy", action="store_true")
    parser.add_argument("--format", choices=["csv", "parquet", "postgresql", "cliniko"], default="csv")
    parser.add_argument("--appointments", type=int, default=1_000_000, help="with --format cliniko: rows to load")
    parser.add_argument(
        "--database",
        default=os.environ.get("NEEDLING_TEST_PG_URL"),
        help="postgresql://user@host:port/db (no password)",
    )
    parser.add_argument("--password-env", default="NEEDLING_TEST_PG_PASSWORD", help="variable holding the password")
    args = parser.parse_args()

    if args.format == "cliniko":
        bench_cliniko(args.appointments, min(args.patients, 5_000))
        return
    start = time.perf_counter()
    tables = generate_clinic(n_patients=args.patients, seed=0)
    if args.messy:
        tables, _ = make_messy(tables, seed=0)
    generated = time.perf_counter() - start
    rows = sum(len(t) for t in tables.values())
    if args.format == "postgresql":
        if not args.database:
            parser.error("--format postgresql needs --database (or NEEDLING_TEST_PG_URL; make pg starts a server)")
        print(f"patients {args.patients:,}; rows in all tables {rows:,} (postgresql)")
        print(f"generate: {generated:6.2f} s")
        bench_postgresql(tables, args.database, args.password_env)
        return
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

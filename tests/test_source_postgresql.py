"""The PostgreSQL source, against a real server (``tests/pg_server.sh`` starts one).

The demo clinic is written into a fresh schema with the types a clinic's
database has (19-digit ``bigint`` IDs, ``timestamptz``, ``numeric`` pain,
``text`` status), read back through a mapping with one query per table,
and compared with the demo tables and with the same rows loaded from CSV.

Needs ``NEEDLING_TEST_PG_URL`` (no password in it) and
``NEEDLING_TEST_PG_PASSWORD``. Without them the tests skip, except under
``CI=true``, where they fail: CI must start the server.
"""

from __future__ import annotations

import os
import uuid
import warnings
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from needling_analytics.demo import write_clinic
from needling_analytics.errors import DatabaseError, DataQualityWarning, MappingError
from needling_analytics.load import load_clinic
from needling_analytics.load.mapping import Mapping, TableMapping
from needling_analytics.load.sources import open_source
from needling_analytics.load.sources.postgresql import parse_url

from .conftest import demo_tables

URL = os.environ.get("NEEDLING_TEST_PG_URL")
PASSWORD = os.environ.get("NEEDLING_TEST_PG_PASSWORD")
PASSWORD_ENV = "NEEDLING_TEST_PG_PASSWORD"
ZONE = "Australia/Melbourne"

if not URL and not os.environ.get("CI"):
    pytest.skip('no test PostgreSQL server: eval "$(bash tests/pg_server.sh)" starts one', allow_module_level=True)


def test_ci_has_the_server():
    assert URL and PASSWORD, "CI must start PostgreSQL (tests/pg_server.sh) and export NEEDLING_TEST_PG_URL"


#: Offsets that turn the demo's IDs (P0001, E00001, S000001) into 19-digit bigints.
ID_BASE = {"patient_id": 9_100_000_000_000_000_000, "episode_id": 9_200_000_000_000_000_000}
ID_BASE["session_id"] = 9_223_000_000_000_000_000  # near the bigint maximum, far above 2**53


def bigint_ids(values: pd.Series, column: str) -> pd.Series:
    """``P0012`` -> 9100000000000000012, as Python ints (exact)."""
    return values.map(lambda v: None if pd.isna(v) else ID_BASE[column] + int(v.lstrip("PES")), na_action=None)


def clinic_in_db_form(seed: int = 1) -> dict[str, pd.DataFrame]:
    """The demo clinic with bigint IDs and a timestamptz start instead of date + time."""
    tables = {name: frame.copy() for name, frame in demo_tables(n_patients=60, seed=seed).items()}
    for frame in tables.values():
        for column in ID_BASE:
            if column in frame:
                frame[column] = bigint_ids(frame[column], column).astype(object)
    sessions = tables["sessions"]
    local = sessions["session_date"] + pd.to_timedelta(sessions["session_time"].fillna("00:00").astype(str) + ":00")
    sessions["starts_at"] = local.dt.tz_localize(ZONE).dt.tz_convert("UTC")
    return tables


#: Column -> PostgreSQL type, for the columns whose type is not the one Arrow gives.
DB_TYPES = {
    "patient_id": "bigint",
    "episode_id": "bigint",
    "session_id": "bigint",
    "pain_pre": "numeric(3,1)",
    "pain_post": "numeric(3,1)",
    "score": "numeric(5,1)",
    "degrees": "numeric(5,1)",
    "symptom_duration_weeks": "numeric",
    "resolved_days": "numeric",
    "pain": "numeric",
    "birth_year": "integer",
    "needles": "integer",
    "twitch_response": "boolean USING twitch_response = 'yes'",
}


def _arrow(frame: pd.DataFrame) -> pa.Table:
    columns = {}
    for column in frame:
        values = frame[column]
        if column in ID_BASE:
            columns[column] = pa.array(values.tolist(), type=pa.int64())
        elif pd.api.types.is_datetime64_any_dtype(values) and getattr(values.dt, "tz", None) is None:
            columns[column] = pa.array(values.dt.date.where(values.notna(), None).tolist(), type=pa.date32())
        elif pd.api.types.is_extension_array_dtype(values) and pd.api.types.is_integer_dtype(values):
            columns[column] = pa.array(values.astype(object).where(values.notna(), None).tolist(), type=pa.int64())
        else:
            columns[column] = pa.Array.from_pandas(values)
    return pa.table(columns)


def connect():
    import adbc_driver_postgresql.dbapi as dbapi

    parts = urlsplit(URL)
    netloc = parts.netloc.replace("@", f":{PASSWORD}@", 1)
    return dbapi.connect(parts._replace(netloc=netloc).geturl(), autocommit=True)


def write_tables(schema: str, tables: dict[str, pd.DataFrame]) -> None:
    """Create ``schema`` and write each table into it (COPY through ADBC), then give columns their DB types."""
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
        for name, frame in tables.items():
            cursor.adbc_ingest(name, _arrow(frame), mode="create", db_schema_name=schema)
            for column, db_type in DB_TYPES.items():
                if column in frame:
                    cursor.execute(f"ALTER TABLE {schema}.{name} ALTER COLUMN {column} TYPE {db_type}")
            cursor.execute(f"ALTER TABLE {schema}.{name} ADD COLUMN row_order serial")


def drop_schema(schema: str) -> None:
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(scope="module")
def db_tables():
    return clinic_in_db_form()


@pytest.fixture(scope="module")
def schema(db_tables):
    name = f"needling_{uuid.uuid4().hex[:10]}"
    write_tables(name, db_tables)
    yield name
    drop_schema(name)


def queries(schema: str, sessions_from: str = "sessions") -> dict[str, str]:
    """One query per table, as a clinic would write them: local date and time taken from ``starts_at``."""
    out = {
        name: f"SELECT * FROM {schema}.{name} ORDER BY row_order"
        for name in ("patients", "episodes", "rom", "proms", "adverse_events", "journal")
    }
    out["sessions"] = (
        "SELECT session_id, episode_id, patient_id, practitioner_id, starts_at,"
        f" (starts_at AT TIME ZONE '{ZONE}')::date AS visit_day,"
        f" to_char(starts_at AT TIME ZONE '{ZONE}', 'HH24:MI') AS visit_time,"
        " status, pain_pre, pain_post, needles, muscles, twitch_response"
        f" FROM {schema}.{sessions_from} ORDER BY row_order"
    )
    return out


def mapping_for(schema: str, *, url: str | None = None, password_env: str | None = PASSWORD_ENV, **overrides):
    tables = {name: TableMapping(query=query) for name, query in queries(schema, **overrides).items()}
    tables["sessions"] = TableMapping(
        query=tables["sessions"].query, columns={"visit_day": "session_date", "visit_time": "session_time"}
    )
    return Mapping(tables=tables, kind=url or URL, password_env=password_env)


def expected_tables(seed: int = 1) -> dict[str, pd.DataFrame]:
    """The demo clinic as loading should give it: IDs as the bigint's decimal text."""
    tables = demo_tables(n_patients=60, seed=seed)
    for frame in tables.values():
        for column in ID_BASE:
            if column in frame:
                frame[column] = bigint_ids(frame[column], column).map(str, na_action="ignore")
    return tables


def comparable(frame: pd.DataFrame, columns) -> pd.DataFrame:
    out = frame[list(columns)].copy()
    for column in out:
        if isinstance(out[column].dtype, pd.CategoricalDtype) or out[column].dtype == object:
            out[column] = out[column].astype("string")
        elif pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].astype("string")
        elif pd.api.types.is_integer_dtype(out[column]):
            out[column] = out[column].astype("Int64")
        elif pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].astype("datetime64[ns]")
    return out.reset_index(drop=True)


AS_OF = "2026-11-30"


def load_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return load_clinic(*args, **kwargs)


@pytest.fixture(scope="module")
def loaded(schema):
    return load_quietly("-", mapping_for(schema), as_of=AS_OF)


def test_every_table_loads_as_the_demo_clinic_wrote_it(loaded):
    expected = expected_tables()
    for name, frame in expected.items():
        got = loaded.tables[name]
        assert loaded.quality.tables.set_index("table").loc[name, "rows_quarantined"] == 0, name
        pd.testing.assert_frame_equal(comparable(got, frame.columns), comparable(frame, frame.columns), obj=name)


def test_19_digit_ids_arrive_exact(loaded):
    ids = loaded.sessions["session_id"]
    assert ids.iloc[0] == "9223000000000000001"
    assert ids.str.len().eq(19).all()
    # through a float, neighbours would collide
    assert float(ids.iloc[0]) == float(ids.iloc[1]) and ids.is_unique


def test_numeric_arrives_as_float_and_ids_as_text(schema):
    source = open_source("-", mapping_for(schema))
    raw = source.read("sessions", mapping_for(schema).for_table("sessions"))
    frame = raw.frame
    assert frame["pain_pre"].dtype == np.float64
    assert frame["pain_pre"].iloc[0] == 7.0
    assert frame["session_id"].iloc[0] == "9223000000000000001"
    assert frame["needles"].iloc[0] == "11"
    assert raw.line_label == "row" and raw.lines[:3].tolist() == [1, 2, 3]
    assert raw.where == "the query for sessions"
    assert PASSWORD not in str(raw.path) and raw.path.name == "sessions"


def test_timestamptz_keeps_its_instant(schema, db_tables):
    mapping = mapping_for(schema)
    raw = open_source("-", mapping).read("sessions", mapping.for_table("sessions"))
    starts = raw.frame["starts_at"]
    assert str(starts.dt.tz) == "UTC"
    # the first demo session is 2025-11-05 15:00 in Melbourne (UTC+11 in summer): 04:00 UTC
    assert starts.iloc[0] == pd.Timestamp("2025-11-05 04:00", tz="UTC")
    pd.testing.assert_series_equal(
        starts.astype("datetime64[ns, UTC]"),
        db_tables["sessions"]["starts_at"].astype("datetime64[ns, UTC]"),
        check_names=False,
    )


BAD_SESSIONS = [
    # (what, changes to a copy of the first session)
    ("pain out of range", {"session_id": 9_223_000_000_000_900_001, "pain_pre": 14}),
    ("unknown status", {"session_id": 9_223_000_000_000_900_002, "status": "teleported"}),
    ("unknown episode", {"session_id": 9_223_000_000_000_900_003, "episode_id": 9_200_000_000_000_999_999}),
    ("no patient", {"session_id": 9_223_000_000_000_900_004, "patient_id": None}),
]


@pytest.fixture(scope="module")
def bad_schema(db_tables):
    """The demo clinic plus a few bad sessions, in the database and as CSV in DB form."""
    name = f"needling_{uuid.uuid4().hex[:10]}"
    tables = {k: v.copy() for k, v in db_tables.items()}
    first = tables["sessions"].iloc[[0]]
    bad = [first.assign(**changes) for _, changes in BAD_SESSIONS]
    tables["sessions"] = pd.concat([tables["sessions"], *bad], ignore_index=True)
    write_tables(name, tables)
    yield name, tables
    drop_schema(name)


def test_bad_rows_are_quarantined_as_from_files(bad_schema, tmp_path):
    schema, tables = bad_schema
    clinic = load_quietly("-", mapping_for(schema), as_of=AS_OF)
    problems = clinic.quality.problems
    n = len(tables["sessions"])
    got = problems[problems["table"] == "sessions"][["line", "column", "rule"]].reset_index(drop=True)
    expected = pd.DataFrame(
        {
            "line": [n - 3, n - 2, n - 1, n],
            "column": ["pain_pre", "status", "episode_id", "patient_id"],
            "rule": ["out_of_range", "not_allowed", "unknown_episode", "missing_required"],
        }
    )
    pd.testing.assert_frame_equal(got.astype({"line": "int64"}), expected, check_dtype=False)
    # the impossible pain is cleared and its visit kept; the three others are quarantined
    actions = problems[problems["table"] == "sessions"]["action"].tolist()
    assert actions == ["cleared", "quarantined", "quarantined", "quarantined"]
    assert len(clinic.sessions) == n - 3

    # The same rows as CSV files: the same problems.
    folder = tmp_path / "csv"
    csv_tables = {k: v.copy() for k, v in tables.items()}
    sessions = csv_tables["sessions"]
    local = sessions.pop("starts_at").dt.tz_convert(ZONE)
    sessions["session_date"] = local.dt.strftime("%Y-%m-%d")
    sessions["session_time"] = local.dt.strftime("%H:%M")
    write_clinic(csv_tables, folder)
    from_files = load_quietly(folder, as_of=AS_OF).quality.problems
    columns = ["table", "column", "rule", "value"]
    assert (
        problems[columns]
        .astype(str)
        .reset_index(drop=True)
        .equals(from_files[columns].astype(str).reset_index(drop=True))
    )
    quarantine = clinic.quality.quarantine["sessions"]
    assert quarantine["session_id"].tolist()[-1] == "9223000000000900004"


def test_a_missing_server_is_a_clear_error():
    parts = urlsplit(URL)
    url = parts._replace(netloc=f"{parts.username}@127.0.0.1:9").geturl()  # port 9: nothing listens
    with pytest.raises(DatabaseError) as caught:
        load_clinic("-", mapping_for("public", url=url), as_of=AS_OF)
    message = str(caught.value)
    assert "cannot connect to PostgreSQL database" in message and "127.0.0.1:9" in message
    assert "Connection refused" in message and "server is running" in message
    assert PASSWORD not in message


def test_a_wrong_password_is_a_clear_error_without_the_password(monkeypatch):
    secret = "Wr0ng:p@ss/word"
    monkeypatch.setenv("WRONG_PG_PASSWORD", secret)
    with pytest.raises(DatabaseError) as caught:
        load_clinic("-", mapping_for("public", password_env="WRONG_PG_PASSWORD"), as_of=AS_OF)
    message = str(caught.value)
    assert "password authentication failed" in message and "WRONG_PG_PASSWORD" in message
    assert secret not in message and "Wr0ng" not in message and PASSWORD not in message
    assert caught.value.__suppress_context__  # the driver's own error is not shown under ours


def test_an_unset_password_variable_is_named(monkeypatch):
    monkeypatch.delenv("NO_SUCH_PG_PASSWORD", raising=False)
    with pytest.raises(DatabaseError, match="NO_SUCH_PG_PASSWORD"):
        load_clinic("-", mapping_for("public", password_env="NO_SUCH_PG_PASSWORD"), as_of=AS_OF)


def test_pgpass_gives_the_password_when_the_mapping_names_none(schema, tmp_path, monkeypatch):
    parts = urlsplit(URL)
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"{parts.hostname}:{parts.port}:*:{parts.username}:{PASSWORD}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    clinic = load_quietly("-", mapping_for(schema, password_env=None), as_of=AS_OF)
    assert len(clinic.patients) == 60


def test_an_unknown_database_is_a_clear_error():
    url = URL.rsplit("/", 1)[0] + "/no_such_clinic_db"
    with pytest.raises(DatabaseError) as caught:
        load_clinic("-", mapping_for("public", url=url), as_of=AS_OF)
    assert 'database "no_such_clinic_db" does not exist' in str(caught.value)
    assert "check the database name" in str(caught.value)


def test_an_unknown_table_in_a_query_names_the_table(schema):
    mapping = mapping_for(schema)
    tables = dict(mapping.tables)
    tables["episodes"] = TableMapping(query=f"SELECT * FROM {schema}.courses_of_care")
    with pytest.raises(DatabaseError) as caught:
        load_clinic("-", Mapping(tables=tables, kind=URL, password_env=PASSWORD_ENV), as_of=AS_OF)
    message = str(caught.value)
    assert "the query for table 'episodes' failed" in message
    assert f'relation "{schema}.courses_of_care" does not exist' in message
    assert "fix the `query` of episodes" in message


def test_a_password_in_the_url_is_refused():
    with pytest.raises(MappingError, match="never hold one"):
        parse_url("postgresql://clinic:secret@db.example.org/clinic")
    with pytest.raises(MappingError, match="never hold one"):
        parse_url("postgresql://clinic@db.example.org/clinic?password=secret")
    with pytest.raises(MappingError, match="port that is not a number"):
        parse_url("postgresql://clinic@db.example.org:port/clinic")


def test_url_forms():
    database = parse_url("postgres://reader@db.example.org:6543/clinic")
    assert (database.user, database.host, database.port, database.name) == (
        "reader",
        "db.example.org",
        "6543",
        "clinic",
    )
    assert database.label == "reader@db.example.org:6543/clinic"
    assert parse_url("postgresql+psycopg://reader@db/clinic").url.startswith("postgresql://reader@db/clinic?")


def test_a_required_table_without_a_query_is_missing(schema):
    mapping = mapping_for(schema)
    tables = {k: v for k, v in mapping.tables.items() if k != "episodes"}
    from needling_analytics.errors import MissingTableError

    with pytest.raises(MissingTableError, match="the postgresql source has no episodes"):
        load_clinic("-", Mapping(tables=tables, kind=URL, password_env=PASSWORD_ENV), as_of=AS_OF)


def _cli_with_mapping(monkeypatch, mapping: Mapping):
    """Hand the CLI ``mapping`` as if read from a file (read_mapping may not parse `source` yet)."""
    import needling_analytics.load.mapping as mapping_module

    monkeypatch.setattr(mapping_module, "read_mapping", lambda path: mapping)


def test_cli_validates_a_database_without_a_data_folder(schema, monkeypatch, tmp_path, capsys):
    from needling_analytics.cli import main

    _cli_with_mapping(monkeypatch, mapping_for(schema))
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--mapping", "clinic-db.yaml", "--as-of", AS_OF, "--strict"]) == 0
    out = capsys.readouterr().out
    assert "reports/needling_test/validation" in out.replace("\\", "/")
    assert (tmp_path / "reports" / "needling_test" / "validation").is_dir()
    assert PASSWORD not in out


def test_cli_exits_2_with_a_clear_message_for_a_wrong_password(monkeypatch, tmp_path, capsys):
    from needling_analytics.cli import main

    monkeypatch.setenv("WRONG_PG_PASSWORD", "not-the-password")
    _cli_with_mapping(monkeypatch, mapping_for("public", password_env="WRONG_PG_PASSWORD"))
    assert main(["validate", "-", "--mapping", "clinic-db.yaml", "--out", str(tmp_path / "r")]) == 2
    captured = capsys.readouterr()
    assert "password authentication failed" in captured.err and "What to do:" in captured.err
    assert "not-the-password" not in captured.err + captured.out


def test_cli_exits_2_for_a_missing_server(monkeypatch, tmp_path, capsys):
    from needling_analytics.cli import main

    parts = urlsplit(URL)
    url = parts._replace(netloc=f"{parts.username}@127.0.0.1:9").geturl()
    _cli_with_mapping(monkeypatch, mapping_for("public", url=url))
    assert main(["validate", "--mapping", "clinic-db.yaml", "--out", str(tmp_path / "r")]) == 2
    assert "cannot connect to PostgreSQL database" in capsys.readouterr().err


def test_cli_without_data_folder_or_database_exits_2(capsys):
    from needling_analytics.cli import main

    assert main(["validate"]) == 2
    assert "no data folder given" in capsys.readouterr().err


def test_a_mapping_file_naming_the_database(schema, tmp_path, capsys):
    """End to end from YAML, once read_mapping parses `source`, `password_env` and `query`."""
    import yaml

    from needling_analytics.load.mapping import read_mapping

    mapping = mapping_for(schema)
    document = {
        "source": URL,
        "password_env": PASSWORD_ENV,
        "tables": {
            name: {"query": table.query, **({"columns": table.columns} if table.columns else {})}
            for name, table in mapping.tables.items()
        },
    }
    path = tmp_path / "clinic-db.yaml"
    path.write_text(yaml.safe_dump(document))
    parsed = read_mapping(path)
    assert parsed.kind == URL and parsed.password_env == PASSWORD_ENV
    from needling_analytics.cli import main

    assert main(["validate", "-", "--mapping", str(path), "--as-of", AS_OF, "--out", str(tmp_path / "r")]) == 0

"""A PostgreSQL database: one SQL query per table, read as Arrow through ADBC.

The mapping names the database, never its password::

    source: postgresql://clinic_reader@db.example.org:5432/clinic
    password_env: CLINIC_DB_PASSWORD   # else libpq's PGPASSWORD or ~/.pgpass
    tables:
      sessions:
        query: SELECT id, episode_id, patient_id, starts_at, pain_before FROM appointments
        columns: {id: session_id, starts_at: session_date, pain_before: pain_pre}

Every query runs in one read-only, repeatable-read transaction, so the
tables are one snapshot of a live database. Rows arrive as Arrow through
the ADBC PostgreSQL driver (libpq underneath) and are handed to the loader
with these types:

- integers (``bigint``, ``integer``, ...) as exact text, so a 19-digit ID
  is never rounded through a float;
- ``numeric`` as float (ADBC hands it over as text);
- ``timestamptz`` as timezone-aware UTC timestamps (the same instant);
  ``timestamp`` as naive timestamps; ``date`` as dates; ``time`` as times;
- text as text; any other type as the text PostgreSQL gives for it.

The usual validation and quarantine then apply; a row's "line" is its
row number in the query result.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ...errors import DatabaseError, InputError, MappingError
from ...schema import TABLES
from ..mapping import Mapping, TableMapping
from ..read import RawTable
from ..read.table import unique_columns

#: Seconds libpq waits for a server before giving up.
CONNECT_TIMEOUT = 10
#: PostgreSQL types whose values ADBC hands over as text but are numbers.
_NUMERIC_TYPES = {"numeric", "money"}


def detect(path: Path) -> bool:
    """A database is never detected from a path: the mapping's ``source`` names it."""
    return False


@dataclass(frozen=True)
class Database:
    """Where the database is, parsed from the mapping's ``source`` URL (which holds no password).

    ``url`` is the URL as given, scheme normalised to ``postgresql://``;
    ``label`` names server and database for messages, e.g.
    ``clinic_reader@db.example.org:5432/clinic``.
    """

    url: str
    user: str
    host: str
    port: str
    name: str

    @property
    def label(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{user}{self.host}:{self.port}/{self.name}"


def parse_url(url: str, mapping_path: Path | None = None) -> Database:
    """Parse a ``postgresql://user@host:port/db`` URL, refusing one that carries a password.

    ``postgres://`` and SQLAlchemy's ``postgresql+driver://`` are accepted
    and read as ``postgresql://``.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise MappingError(
            f"`source` {url!r} is not a postgresql:// URL",
            path=mapping_path,
            hint="write postgresql://user@host:5432/db.",
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    if parts.password is not None or any(key == "password" for key, _ in query):
        raise MappingError(
            "`source` holds a password; a mapping file must never hold one",
            path=mapping_path,
            hint="remove it from the URL, and give it with `password_env: VARIABLE` or in ~/.pgpass.",
        )
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise MappingError(
            f"`source` {url!r} names no database", path=mapping_path, hint="write postgresql://user@host:5432/db."
        )
    try:
        port = parts.port
    except ValueError:
        raise MappingError(
            f"`source` {url!r} has a port that is not a number", path=mapping_path, hint="write host:5432."
        ) from None
    if not any(key == "connect_timeout" for key, _ in query):
        query.append(("connect_timeout", str(CONNECT_TIMEOUT)))
    normalised = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), ""))
    return Database(
        url=normalised,
        user=unquote(parts.username or os.environ.get("PGUSER", "")),
        host=parts.hostname or os.environ.get("PGHOST", "localhost"),
        port=str(port or os.environ.get("PGPORT", "5432")),
        name=database,
    )


def _password(mapping: Mapping, database: Database) -> str | None:
    """The password from the variable named by ``password_env``; None leaves it to libpq."""
    if not mapping.password_env:
        return None
    password = os.environ.get(mapping.password_env)
    if not password:
        raise DatabaseError(
            f"the environment variable {mapping.password_env} (`password_env` in the mapping) is not set",
            path=database.label,
            hint=f"set {mapping.password_env} to the password of {database.user or 'the database user'}, "
            "or drop `password_env` and put the password in ~/.pgpass.",
        )
    return password


def _with_password(url: str, password: str | None) -> str:
    if password is None:
        return url
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user}:{quote(password, safe='')}@{host}" if user else f":{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _clean(exc: Exception, password: str | None) -> str:
    """The driver's message on one line, without the driver's prefix or the password."""
    text = str(exc)
    if password:
        for secret in {password, quote(password, safe="")}:
            text = text.replace(secret, "***")
    text = re.sub(r"^\w+: (\[libpq\] )?(Failed to connect: |Failed to prepare query: )?", "", text.strip())
    text = re.sub(r"\s*Query was: .*", "", text, flags=re.DOTALL)
    return re.sub(r"\s+", " ", text).strip()


def _connection_hint(reason: str, password_env: str | None, database: Database) -> str:
    low = reason.casefold()
    if "password" in low:
        where = f"the variable {password_env}" if password_env else "~/.pgpass or PGPASSWORD"
        return (
            f"check the password in {where} for user {database.user or '(default)'}; "
            "a ~/.pgpass line reads host:port:database:user:password and the file must be chmod 600."
        )
    if "database" in low and "does not exist" in low:
        return f"check the database name {database.name!r} in the mapping's `source` URL."
    if "role" in low and "does not exist" in low:
        return f"check the user {database.user!r} in the mapping's `source` URL."
    return (
        f"check that the PostgreSQL server is running and reachable at {database.host}:{database.port} "
        "(pg_isready tells), and the host and port in the mapping's `source` URL."
    )


def _driver():
    try:
        import adbc_driver_postgresql.dbapi as dbapi
    except ImportError:
        raise InputError(
            "reading a PostgreSQL database needs the adbc-driver-postgresql package, which is not installed",
            hint="pip install adbc-driver-postgresql (it is a dependency of needling-analytics: reinstall it).",
        ) from None
    return dbapi


def _series(column: pa.ChunkedArray) -> pd.Series:
    """One result column as the loader wants it (see the module docstring)."""
    kind = column.type
    if isinstance(kind, pa.BaseExtensionType):  # ADBC's opaque types (numeric, uuid, json...) hold text
        pg_type = getattr(kind, "type_name", "")
        column = pa.chunked_array([chunk.storage for chunk in column.chunks], type=kind.storage_type)
        if pg_type in _NUMERIC_TYPES:
            try:
                column = pc.cast(column, pa.float64())
            except pa.ArrowInvalid:  # money's "$1.00": leave it to the loader to read or refuse
                pass
        kind = column.type
    if pa.types.is_integer(kind):
        column = pc.cast(column, pa.string())
    if pa.types.is_date(kind):
        return column.to_pandas(date_as_object=False)
    return column.to_pandas()


def to_frame(table: pa.Table, notes: list[str]) -> pd.DataFrame:
    """A query result as a DataFrame, columns made distinct (a note for each repeat)."""
    names = unique_columns([str(name) for name in table.column_names], notes)
    return pd.DataFrame({name: _series(column) for name, column in zip(names, table.columns, strict=True)})


@dataclass
class PostgresSource:
    """Tables read by the mapping's queries from one PostgreSQL database.

    ``results`` holds each table's query result, fetched when the source is
    opened (:func:`open_source`), as ``{table: (query, arrow table)}``; a
    table read a second time, or with another query, is fetched again.
    """

    database: Database
    results: dict[str, tuple[str, pa.Table]] = field(default_factory=dict)
    password: str | None = field(default=None, repr=False)
    password_env: str | None = None
    kind: str = "postgresql"

    @property
    def location(self) -> str:
        return f"postgresql://{self.database.label}"

    def read(self, name: str, mapping: TableMapping) -> RawTable | None:
        for key in ("file", "sheet", "form", "resource"):
            if getattr(mapping, key):
                raise InputError(
                    f"table {name!r} names a `{key}`, which a database does not have",
                    path=self.location,
                    hint=f"give the rows of {name} with `query: SELECT ...` in the mapping.",
                )
        if not mapping.query:
            return None
        query, table = self.results.pop(name, (None, None))  # handed over once: no second copy kept
        if query != mapping.query:
            table = fetch(self.database, self.password, {name: mapping.query}, self.password_env)[name]
        notes: list[str] = []
        frame = to_frame(table, notes)
        lines = np.arange(1, len(frame) + 1, dtype=np.int64)
        path = Path(self.database.label) / name
        return RawTable(name, path, frame, lines, "row", notes=notes, where=f"the query for {name}")


def fetch(
    database: Database, password: str | None, queries: dict[str, str], password_env: str | None = None
) -> dict[str, pa.Table]:
    """Run each table's query in one read-only snapshot and return the results as Arrow tables.

    Raises
    ------
    DatabaseError
        When the server cannot be reached, refuses the login, has no such
        database, or a query fails; the message never holds the password.
    """
    dbapi = _driver()
    try:
        connection = dbapi.connect(_with_password(database.url, password), autocommit=True)
    except dbapi.Error as exc:
        reason = _clean(exc, password)
        raise DatabaseError(
            f"cannot connect to PostgreSQL database {database.name!r} on {database.host}:{database.port}"
            f" as {database.user or '(default user)'}: {reason}",
            path=f"postgresql://{database.label}",
            hint=_connection_hint(reason, password_env, database),
        ) from None
    results = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            for name, query in queries.items():
                try:
                    cursor.execute(query)
                    results[name] = cursor.fetch_arrow_table()
                except dbapi.Error as exc:
                    raise DatabaseError(
                        f"the query for table {name!r} failed: {_clean(exc, password)}",
                        path=f"postgresql://{database.label}",
                        hint=f"fix the `query` of {name} in the mapping; try it in psql first.",
                    ) from None
            cursor.execute("ROLLBACK")
    finally:
        connection.close()
    return results


def open_source(path: Path, mapping: Mapping) -> PostgresSource:
    """Connect to the mapping's database and run its queries (``path`` is not used).

    Raises
    ------
    MappingError
        When ``source`` is not a usable URL or holds a password.
    DatabaseError
        When the database cannot be reached or a query fails.
    """
    database = parse_url(mapping.kind or "", mapping.source)
    password = _password(mapping, database)
    queries = {}
    for name in TABLES:
        query = mapping.for_table(name).query
        if query:
            queries[name] = query
    results = fetch(database, password, queries, mapping.password_env)
    fetched = {name: (queries[name], results[name]) for name in results}
    return PostgresSource(database, fetched, password, mapping.password_env)

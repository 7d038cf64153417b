#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL server for the tests, on loopback only.
#
#   eval "$(bash tests/pg_server.sh)"     # start it and export the variables below
#   bash tests/pg_server.sh stop          # stop it
#
# Prints the shell lines that export NEEDLING_TEST_PG_URL (no password in it)
# and NEEDLING_TEST_PG_PASSWORD. Installs PostgreSQL from Debian when run as
# root on a machine without it. Idempotent: a server already running on the
# port is reused, and the role and database are created only when missing.
# Everything else it says goes to stderr.
set -euo pipefail

PORT="${NEEDLING_PG_PORT:-54329}"
DATA="${NEEDLING_PG_DATA:-/tmp/needling-pg-$PORT}"
ROLE=needling
DB=needling_test
PASSWORD=needling-test-only

say() { echo "pg_server: $*" >&2; }

bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -z "$dir" ] && command -v pg_ctl >/dev/null; then dir="$(dirname "$(command -v pg_ctl)")"; fi
    echo "$dir"
}

BIN="$(bindir)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "PostgreSQL is not installed; install it (Debian: apt-get install postgresql) and run again."
        exit 1
    fi
    say "installing PostgreSQL from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BIN="$(bindir)"
fi

# The server refuses to run as root: as root, run it as the postgres user.
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    as_owner() { runuser -u postgres -- "$@"; }
    SUPERUSER=postgres
else
    as_owner() { "$@"; }
    SUPERUSER="$(id -un)"
fi

if [ "${1:-start}" = stop ]; then
    if [ -f "$DATA/postmaster.pid" ]; then as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2; fi
    exit 0
fi

if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
    if [ ! -f "$DATA/PG_VERSION" ]; then
        say "creating a cluster in $DATA"
        mkdir -p "$DATA"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$DATA"
        chmod 700 "$DATA"
        as_owner "$BIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    say "starting the server on 127.0.0.1:$PORT"
    as_owner "$BIN/pg_ctl" -D "$DATA" -w -t 60 -l "$DATA/server.log" \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off -c TimeZone=UTC" start >&2
fi

sql() { as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DATA" -p "$PORT" -U "$SUPERUSER" -d postgres "$@"; }
if [ "$(sql -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
    sql -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'"
fi
if [ "$(sql -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
    sql -c "CREATE DATABASE $DB OWNER $ROLE"
fi

echo "export NEEDLING_TEST_PG_URL=postgresql://$ROLE@127.0.0.1:$PORT/$DB"
echo "export NEEDLING_TEST_PG_PASSWORD=$PASSWORD"

#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the test suite.
#
#   scripts/postgres.sh start   # prints progress on stderr and, as the LAST line of stdout,
#                               #   postgres://postgres@127.0.0.1:PORT/gonghui
#   scripts/postgres.sh stop    # stops it and deletes its data; safe to run any number of times
#   scripts/postgres.sh url     # prints the URL of the running instance
#
# The cluster lives in a fresh temp dir (fsync off: its data is never worth keeping) and
# listens on 127.0.0.1 only, with trust auth, so the superuser `postgres` needs no password
# and can create Django's test_ databases. The instance's location is kept in var/pg/instance
# so that `stop` finds it. Installs postgresql-15 with apt-get when the binaries are missing.
#
# Env: GONGHUI_PG_PORT  first port to try (default 54329; the next free one is taken)
#      GONGHUI_PG_BIN   directory of initdb/pg_ctl (default /usr/lib/postgresql/15/bin)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="$ROOT/var/pg"
STATE_FILE="$STATE_DIR/instance"
PG_BIN="${GONGHUI_PG_BIN:-/usr/lib/postgresql/15/bin}"
DB_NAME="gonghui"

log() { echo "postgres.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root for: $*"
    fi
}

ensure_binaries() {
    if [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && [ -x "$PG_BIN/psql" ]; then
        return
    fi
    log "PostgreSQL 15 not found in $PG_BIN: installing postgresql-15 with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq >&2
    # The package's own cluster (port 5432) is not used; policy-rc.d keeps it from starting
    # where a service manager is present.
    as_root apt-get install -y -qq --no-install-recommends postgresql-15 >&2
    [ -x "$PG_BIN/initdb" ] || die "postgresql-15 installed but $PG_BIN/initdb is missing"
}

# PostgreSQL refuses to run as root: as root, run the server as the `postgres` system user
# (created by the Debian package), or as `gonghui-pg` if that user does not exist.
PG_USER=""
pick_user() {
    if [ "$(id -u)" -ne 0 ]; then
        PG_USER="$(id -un)"
    elif id postgres >/dev/null 2>&1; then
        PG_USER="postgres"
    else
        id gonghui-pg >/dev/null 2>&1 ||
            useradd --system --no-create-home --shell /usr/sbin/nologin gonghui-pg
        PG_USER="gonghui-pg"
    fi
}

# Run a PostgreSQL binary as PG_USER, from a directory that user can enter.
as_pg() {
    local dir="$1"; shift
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$dir" && runuser -u "$PG_USER" -- "$@")
    else
        (cd "$dir" && "$@")
    fi
}

port_is_free() {
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

pick_port() {
    local port="${GONGHUI_PG_PORT:-54329}" last
    last=$((port + 200))
    while [ "$port" -le "$last" ]; do
        if port_is_free "$port"; then echo "$port"; return; fi
        port=$((port + 1))
    done
    die "no free port in ${GONGHUI_PG_PORT:-54329}..$last"
}

# A parent dir for the data dir that PG_USER can write to: $TMPDIR if it can, else /tmp.
pick_parent() {
    local parent="${TMPDIR:-/tmp}"
    if [ "$(id -u)" -eq 0 ] && ! runuser -u "$PG_USER" -- test -w "$parent" -a -x "$parent"; then
        parent=/tmp
    fi
    echo "$parent"
}

read_state() {
    # Sets DATA_DIR and PORT from the state file; returns 1 when there is none.
    [ -f "$STATE_FILE" ] || return 1
    DATA_DIR="$(sed -n 's/^DATA_DIR=//p' "$STATE_FILE")"
    PORT="$(sed -n 's/^PORT=//p' "$STATE_FILE")"
    PG_USER="$(sed -n 's/^PG_USER=//p' "$STATE_FILE")"
    [ -n "$DATA_DIR" ] && [ -n "$PORT" ]
}

url() { echo "postgres://postgres@127.0.0.1:$1/$DB_NAME"; }

cmd_stop() {
    local DATA_DIR PORT
    if ! read_state; then
        log "no instance recorded in $STATE_FILE: nothing to stop"
        rm -f "$STATE_FILE"
        return 0
    fi
    [ -n "$PG_USER" ] || pick_user
    if [ -f "$DATA_DIR/postmaster.pid" ] && [ -x "$PG_BIN/pg_ctl" ]; then
        log "stopping the server in $DATA_DIR (port $PORT)"
        as_pg / "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m fast -w -t 60 stop >&2 ||
            as_pg / "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m immediate -w -t 30 stop >&2 || true
    fi
    case "$DATA_DIR" in
        */gonghui-pg.*) rm -rf "$DATA_DIR" ;;
        *) log "not deleting unexpected data dir $DATA_DIR" ;;
    esac
    rm -f "$STATE_FILE"
    log "stopped"
}

cmd_start() {
    local started parent DATA_DIR PORT
    started=$(date +%s)
    ensure_binaries
    if [ -f "$STATE_FILE" ]; then
        log "a previous instance is recorded: stopping it first"
        cmd_stop
    fi
    pick_user
    parent="$(pick_parent)"
    DATA_DIR="$(mktemp -d "$parent/gonghui-pg.XXXXXX")"
    chmod 700 "$DATA_DIR"
    if [ "$(id -u)" -eq 0 ]; then chown "$PG_USER": "$DATA_DIR"; fi
    PORT="$(pick_port)"
    mkdir -p "$STATE_DIR"
    printf 'DATA_DIR=%s\nPORT=%s\nPG_USER=%s\n' "$DATA_DIR" "$PORT" "$PG_USER" >"$STATE_FILE"

    log "initdb in $DATA_DIR as $PG_USER"
    as_pg "$DATA_DIR" "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >"$DATA_DIR.initdb.log" 2>&1 ||
        { cat "$DATA_DIR.initdb.log" >&2; rm -f "$DATA_DIR.initdb.log"; die "initdb failed"; }
    rm -f "$DATA_DIR.initdb.log"
    cat >>"$DATA_DIR/postgresql.conf" <<EOF

# --- gonghui test instance: throwaway data, speed over durability ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DATA_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 128MB
timezone = 'UTC'
EOF
    log "starting on 127.0.0.1:$PORT"
    if ! as_pg "$DATA_DIR" "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$DATA_DIR/server.log" \
        -w -t 60 start >&2; then
        cat "$DATA_DIR/server.log" >&2 || true
        die "the server did not start"
    fi
    as_pg "$DATA_DIR" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" \
        -U postgres -d postgres -c "CREATE DATABASE $DB_NAME" >&2
    log "ready in $(( $(date +%s) - started ))s"
    url "$PORT"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    url)
        read_state || die "no instance running (scripts/postgres.sh start)"
        url "$PORT"
        ;;
    *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac

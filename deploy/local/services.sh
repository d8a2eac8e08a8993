# shellcheck shell=bash
# Makes sure what the stack needs is installed and running on this (Debian) machine:
# a Rust toolchain and a C compiler, PostgreSQL on 127.0.0.1:5432 (user postgres, no password
# over loopback) and Redis on 127.0.0.1:6379. Sourced by run.sh and test.sh; safe to re-run.

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*"
  fi
}

APT_UPDATED=
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_toolchain() {
  command -v cc >/dev/null || apt_install build-essential pkg-config
  if ! command -v cargo >/dev/null; then
    # shellcheck disable=SC1091
    [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
  fi
  if ! command -v cargo >/dev/null; then
    command -v curl >/dev/null || apt_install curl ca-certificates
    log "installing the Rust toolchain (rustup)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  fi
}

pg_answers() {
  psql "postgres://postgres@$PG_HOST:$PG_PORT/postgres" -Atqc 'SELECT 1' >/dev/null 2>&1
}

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null && ! command -v pg_ctl >/dev/null; then
    apt_install postgresql postgresql-client
  fi
  if ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [ -n "$version" ] || die "PostgreSQL is installed but has no cluster under /etc/postgresql"
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
      as_root pg_ctlcluster "$version" main start
  fi
  local tries=0
  until pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; do
    tries=$((tries + 1)); [ "$tries" -lt 100 ] || die "PostgreSQL did not start"; sleep 0.1
  done
  if ! pg_answers; then
    # A fresh Debian install asks for a password over TCP; trust loopback for the postgres user.
    local hba
    hba=$(as_root su postgres -c "psql -Atqc 'SHOW hba_file'" 2>/dev/null)
    [ -n "$hba" ] || die "cannot connect to PostgreSQL as postgres@$PG_HOST"
    log "allowing postgres@127.0.0.1 without a password (development set-up) in $hba"
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    as_root su postgres -c "psql -Atqc 'SELECT pg_reload_conf()'" >/dev/null
    pg_answers || die "cannot connect to PostgreSQL as postgres@$PG_HOST"
  fi
}

ensure_database() {
  local name=$1
  if [ "$(psql "postgres://postgres@$PG_HOST:$PG_PORT/postgres" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$name'")" != 1 ]; then
    log "creating database $name"
    psql "postgres://postgres@$PG_HOST:$PG_PORT/postgres" -qc "CREATE DATABASE $name" >/dev/null
  fi
}

ensure_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  if [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" != PONG ]; then
    log "starting Redis"
    redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
  fi
  local tries=0
  until [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; do
    tries=$((tries + 1)); [ "$tries" -lt 100 ] || die "Redis did not start"; sleep 0.1
  done
}

# Build output lives outside the clone so that a fresh clone reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wellbeing/target}"

# The settings that give a service ROLE its certificate, key and authority under DIR (as
# wellbeing-dev-certs lays them out), one VAR=value per line; with INTERNAL_TLS=off in the
# environment, plaintext instead (benchmarks that compare the two).
tls_settings() { # role dir
  if [ "${INTERNAL_TLS:-on}" = off ]; then
    echo "INTERNAL_TLS=off"
    return
  fi
  echo "INTERNAL_TLS=on"
  echo "TLS_CERT_FILE=$2/$1/tls.crt"
  echo "TLS_KEY_FILE=$2/$1/tls.key"
  echo "TLS_CA_FILE=$2/$1/ca.crt"
}

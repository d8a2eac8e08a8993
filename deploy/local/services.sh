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

# A throwaway stack for tests: `start_stack BIN_DIR` starts cache, analytics, aggregator and
# gateway from BIN_DIR on loopback ports from a random base, with a fresh database and Redis
# namespace, and waits until the gateway reports them healthy. It exports the services' addresses
# (GATEWAY_ADDR, ANALYTICS_URL, ...) and JWT_SECRET, sets GATEWAY (the gateway's URL),
# STACK_DIR (scratch directory, the logs) and STACK_SPARE_PORT (the first of 5 ports the stack
# leaves free for the caller's own listeners; STACK_BASE_PORT, when set, is the first port, so
# that a caller can name a spare port in a setting before the start). Each gRPC service serves
# its metrics on the address in ANALYTICS_METRICS_ADDR, CACHE_METRICS_ADDR or
# AGGREGATOR_METRICS_ADDR (the gateway's are on GATEWAY_ADDR). Settings the caller exported beforehand
# (ACCESS_TOKEN_TTL_SECS, CORS_ALLOWED_ORIGINS, ...) reach the services. An EXIT trap stops it all
# and drops the database and the namespace; the logs' warnings are shown when the script failed.
STACK_PIDS=()
start_stack() {
  local bin=$1 suffix
  suffix="$(date +%s)_$$_$RANDOM"
  STACK_DATABASE="wb_stack_$suffix"
  STACK_NAMESPACE="wbstack-$suffix"
  STACK_DIR="$(mktemp -d)"
  # Below Linux's ephemeral range (32768-60999), where the tests' outgoing connections and
  # port-0 listeners take ports: a base in it once collided and a service could not bind.
  local base_port=${STACK_BASE_PORT:-$((20000 + RANDOM % 12000))}
  STACK_SPARE_PORT=$((base_port + 4))
  trap stop_stack INT TERM EXIT

  ensure_database "$STACK_DATABASE"
  export DATABASE_URL="postgres://postgres@$PG_HOST:$PG_PORT/$STACK_DATABASE"
  export REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT"
  export CACHE_NAMESPACE="$STACK_NAMESPACE"
  export ANALYTICS_ADDR="127.0.0.1:$base_port" CACHE_ADDR="127.0.0.1:$((base_port + 1))"
  export AGGREGATOR_ADDR="127.0.0.1:$((base_port + 2))" GATEWAY_ADDR="127.0.0.1:$((base_port + 3))"
  export ANALYTICS_URL="$ANALYTICS_ADDR" CACHE_URL="$CACHE_ADDR" AGGREGATOR_URL="$AGGREGATOR_ADDR"
  export ANALYTICS_METRICS_ADDR="127.0.0.1:$((base_port + 9))"
  export CACHE_METRICS_ADDR="127.0.0.1:$((base_port + 10))"
  export AGGREGATOR_METRICS_ADDR="127.0.0.1:$((base_port + 11))"
  export JWT_SECRET
  JWT_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
  export RUST_LOG="${RUST_LOG:-warn}"

  # The services talk mutual TLS, as run.sh starts them; STACK_DIR/certs holds the certificates
  # (tls_settings gateway "$STACK_DIR/certs" gives a gateway of the caller's its settings).
  "$bin/wellbeing-dev-certs" "$STACK_DIR/certs" >/dev/null
  local role settings
  for role in cache analytics aggregator gateway; do
    mapfile -t settings < <(tls_settings "$role" "$STACK_DIR/certs")
    # One METRICS_ADDR variable names a different port for each service.
    case $role in
      analytics) settings+=("METRICS_ADDR=$ANALYTICS_METRICS_ADDR") ;;
      cache) settings+=("METRICS_ADDR=$CACHE_METRICS_ADDR") ;;
      aggregator) settings+=("METRICS_ADDR=$AGGREGATOR_METRICS_ADDR") ;;
    esac
    env "${settings[@]}" "$bin/wellbeing-$role" >"$STACK_DIR/wellbeing-$role.log" 2>&1 &
    STACK_PIDS+=("$!")
  done
  GATEWAY="http://$GATEWAY_ADDR"

  log "waiting for $GATEWAY/health"
  local tries=0 pid
  until curl -fsS "$GATEWAY/health" 2>/dev/null | grep -q '"status":"healthy"'; do
    for pid in "${STACK_PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null || die "a service exited; see the log lines above"
    done
    # /health allows 100 requests a minute per address: poll gently.
    tries=$((tries + 1)); [ "$tries" -lt 90 ] || die "the stack did not become healthy"
    sleep 0.5
  done
}

stop_stack() {
  local status=$?
  trap - INT TERM EXIT
  if [ ${#STACK_PIDS[@]} -gt 0 ]; then
    kill -TERM "${STACK_PIDS[@]}" 2>/dev/null || true
    wait "${STACK_PIDS[@]}" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -n "${STACK_DIR:-}" ]; then
    local log_file
    for log_file in "$STACK_DIR"/*.log; do
      [ -s "$log_file" ] || continue
      printf '\n--- last lines of %s ---\n' "$(basename "$log_file")" >&2
      # Case-insensitive: a service that cannot start says `Error: ...` (anyhow), not ERROR.
      grep -iE 'error|warn|panicked' "$log_file" | tail -n 20 >&2 || true
    done
  fi
  if [ -n "${STACK_DATABASE:-}" ]; then
    psql "postgres://postgres@$PG_HOST:$PG_PORT/postgres" -qc \
      "DROP DATABASE IF EXISTS $STACK_DATABASE WITH (FORCE)" >/dev/null 2>&1 || true
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "$STACK_NAMESPACE:*" 2>/dev/null |
      xargs -r -n 500 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" del >/dev/null 2>&1 || true
  fi
  [ -z "${STACK_DIR:-}" ] || rm -rf "$STACK_DIR"
  exit "$status"
}

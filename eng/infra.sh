#!/usr/bin/env bash
# Installs, starts and stops the test/CI servers (PostgreSQL, Redis, RabbitMQ, and OpenLDAP's slapd as the directory
# the LDAP sign-in tests use) on 127.0.0.1 only, with throwaway data under $REPO/.lumoauth/infra/. No Docker needed.
#   eng/infra.sh install | start [postgres|redis|rabbitmq|ldap|all] | stop [...] | status | env
#   eng/infra.sh rabbitmqctl ARGS...   (rabbitmqctl against our node, with the env it needs)
#   eng/infra.sh rabbitmq-conf         (prints the rabbitmq.conf the broker is started with)
#   eng/infra.sh reset rabbitmq        (a stopped broker forgets every queue and exchange: each test fixture
#                                       declares its own, so a long-lived data folder collects thousands)
# Tests may call `stop rabbitmq` / `start rabbitmq` (or redis) to simulate an outage.
set -euo pipefail
umask 022 # the postgres user must be able to traverse the folders we create

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$REPO/eng/infra.sh"
# LUMOAUTH_INFRA_DIR lets the AppHost keep its (persistent) dev data apart from the throwaway test data.
INFRA="${LUMOAUTH_INFRA_DIR:-$REPO/.lumoauth/infra}"

# Below the kernel's ephemeral range (32768–60999 here): while a server is down for a fault test, clients keep
# reconnecting from ephemeral ports, and one landing on the server's own port connects to itself and holds it, so
# the restarted server cannot listen (seen once as RabbitMQ's eaddrinuse).
PG_PORT="${LUMOAUTH_PG_PORT:-21432}"
REDIS_PORT="${LUMOAUTH_REDIS_PORT:-21379}"
RABBIT_PORT="${LUMOAUTH_RABBIT_PORT:-21672}"
# Erlang needs two more ports; keep them next to AMQP and away from the system defaults
# (4369/25672) so a system RabbitMQ or another checkout's epmd cannot collide.
RABBIT_DIST_PORT="${LUMOAUTH_RABBIT_DIST_PORT:-$((RABBIT_PORT + 1))}"
RABBIT_EPMD_PORT="${LUMOAUTH_RABBIT_EPMD_PORT:-$((RABBIT_PORT + 2))}"
RABBIT_NODE=lumoauth@localhost
LDAP_PORT="${LUMOAUTH_LDAP_PORT:-21389}"
LDAPS_PORT="${LUMOAUTH_LDAPS_PORT:-21636}"
RABBIT_BIN=/usr/lib/rabbitmq/bin # not /usr/sbin: those wrappers insist on system paths/users

log() { echo "infra: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# A port answered by something that is not ours must fail loudly, not be mistaken for our server.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Alive and still the program we started: a stale pidfile whose pid was reused must not count
# (stop would otherwise signal an unrelated process). Zombies count as gone: daemons are reparented
# to pid 1, which here reaps them only ~1 s later, and waiting for that slows every restart.
proc_alive() { # pid [process name]
  local stat; stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ "${stat##*) }" != Z* ]] && { [[ -z "${2:-}" ]] || [[ "$stat" == "$1 ($2) "* ]]; }
}
pid_alive() { # pidfile process-name
  local pid; pid="$(cat "$1" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && proc_alive "$pid" "$2"
}

fail_with_log() { # name, log files...
  local name=$1; shift
  log "$name failed; last log lines:"
  for f in "$@"; do [[ -f "$f" ]] && { echo "--- $f" >&2; tail -n 40 "$f" >&2; }; done
  exit 1
}

# ---------------------------------------------------------------- install
cmd_install() {
  local pkgs=()
  command -v redis-server >/dev/null || pkgs+=(redis-server)
  [[ -x "$RABBIT_BIN/rabbitmq-server" ]] || pkgs+=(rabbitmq-server)
  [[ -n "$(pg_bin)" ]] || pkgs+=(postgresql)
  [[ -x /usr/sbin/slapd ]] || pkgs+=(slapd)
  [[ "${LUMOAUTH_WITH_CHROMIUM:-0}" == 1 ]] && ! command -v chromium >/dev/null && pkgs+=(chromium)
  if ((${#pkgs[@]} == 0)); then log "install: nothing to do"; return 0; fi
  log "install: ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # slapd's package would otherwise set up a directory of its own under /etc/ldap; ours is configured at each start.
  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  apt-get update -qq
  # Debian's policy-rc.d here keeps the packaged services from auto-starting; we start our own.
  apt-get install -y -qq "${pkgs[@]}" >/dev/null
}

# ---------------------------------------------------------------- postgres
pg_paths() {
  # PostgreSQL runs as user postgres, which must reach its folder: a checkout under /root (mode 700)
  # is out of its reach, and Unix socket paths are limited to ~107 bytes. Fall back to /tmp then.
  PG_DIR="$INFRA/postgres"
  if ! runuser -u postgres -- test -x "$REPO" || ((${#PG_DIR} > 70)); then
    PG_DIR="/tmp/lumoauth-$(echo "$REPO" | md5sum | cut -c1-8)/postgres"
  fi
  PG_DATA="$PG_DIR/data" PG_LOG="$PG_DIR/postgres.log" PG_SOCK="$PG_DIR/sock"
}
# Root may not run PostgreSQL. `cd /` because postgres may not be allowed into the caller's cwd.
pg() { (cd / && runuser -u postgres -- "$(pg_bin)/$1" "${@:2}"); }

pg_running() { pg_paths; [[ -f "$PG_DATA/PG_VERSION" ]] && pg pg_ctl -D "$PG_DATA" status >/dev/null 2>&1; }

start_postgres() {
  [[ -n "$(pg_bin)" ]] || die "PostgreSQL binaries not found; run: $SELF install"
  if pg_running; then log "postgres already running on $PG_PORT"; return 0; fi
  port_open "$PG_PORT" && die "port $PG_PORT is taken by another process (set LUMOAUTH_PG_PORT)"
  mkdir -p "$PG_SOCK"
  chown postgres: "$PG_DIR" "$PG_SOCK"
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    rm -rf "$PG_DATA"
    pg initdb -D "$PG_DATA" -A trust -U postgres --no-sync -E UTF8 >"$PG_DIR/initdb.log" 2>&1 ||
      fail_with_log postgres "$PG_DIR/initdb.log"
  fi
  # Durability is pointless for throwaway test data; turning it off makes tests much faster.
  pg pg_ctl -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start -o "-p $PG_PORT -c listen_addresses=127.0.0.1 \
    -k $PG_SOCK -c max_connections=500 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    >/dev/null || fail_with_log postgres "$PG_LOG"
  log "postgres up on 127.0.0.1:$PG_PORT"
}

stop_postgres() {
  if ! pg_running; then log "postgres not running"; return 0; fi
  pg pg_ctl -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
  log "postgres stopped"
}

# ---------------------------------------------------------------- redis
REDIS_DIR="$INFRA/redis"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
# The access-token deny-list lives here: an append-only file (synced every second, whole on a clean stop)
# keeps revocations across a restart.
REDIS_DURABILITY=(--save "" --appendonly yes --appendfsync everysec)

start_redis() {
  command -v redis-server >/dev/null || die "redis-server not found; run: $SELF install"
  if pid_alive "$REDIS_PID" redis-server; then log "redis already running on $REDIS_PORT"; return 0; fi
  port_open "$REDIS_PORT" && die "port $REDIS_PORT is taken by another process (set LUMOAUTH_REDIS_PORT)"
  mkdir -p "$REDIS_DIR"
  rm -f "$REDIS_PID"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --pidfile "$REDIS_PID" \
    --dir "$REDIS_DIR" --logfile "$REDIS_LOG" "${REDIS_DURABILITY[@]}" </dev/null >/dev/null 2>&1 ||
    fail_with_log redis "$REDIS_LOG"
  local i
  for ((i = 0; i < 100; i++)); do
    pid_alive "$REDIS_PID" redis-server && [[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]] &&
      { log "redis up on 127.0.0.1:$REDIS_PORT"; return 0; }
    sleep 0.1
  done
  fail_with_log redis "$REDIS_LOG"
}

stop_redis() {
  if ! pid_alive "$REDIS_PID" redis-server; then log "redis not running"; rm -f "$REDIS_PID"; return 0; fi
  local pid i; pid="$(cat "$REDIS_PID")"
  kill -TERM "$pid"
  # Wait for the process to go, so an immediate restart finds the port free.
  for ((i = 0; i < 100; i++)); do proc_alive "$pid" || break; sleep 0.05; done
  proc_alive "$pid" && die "redis (pid $pid) did not stop"
  rm -f "$REDIS_PID"
  log "redis stopped"
}

# ---------------------------------------------------------------- rabbitmq
RABBIT_DIR="$INFRA/rabbitmq"
RABBIT_PID="$RABBIT_DIR/rabbitmq.pid"

rabbit_env() {
  # Everything private to this folder and bound to loopback; HOME also holds the Erlang cookie
  # that rabbitmqctl needs, so start, wait and stop must all share this environment.
  export HOME="$RABBIT_DIR"
  export RABBITMQ_NODENAME="$RABBIT_NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$RABBIT_PORT" RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT"
  export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$RABBIT_EPMD_PORT"
  export RABBITMQ_MNESIA_BASE="$RABBIT_DIR/mnesia" RABBITMQ_LOG_BASE="$RABBIT_DIR/log"
  export RABBITMQ_PID_FILE="$RABBIT_PID"
  export RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$RABBIT_DIR/advanced.config"
  export ERL_CRASH_DUMP="$RABBIT_DIR/erl_crash.dump" # default is the caller's cwd
  # The broker shares two cores with the services and PostgreSQL: its schedulers sleep when idle instead of
  # spinning first (RabbitMQ's advice for shared hosts; spinning burned CPU the services needed).
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

rabbitmqctl() { "$RABBIT_BIN/rabbitmqctl" -n "$RABBIT_NODE" "$@"; }

# A consumer whose database, Redis or a service it needs is out keeps its delivery unacknowledged while it retries
# (for about 35 days at most: OutageRetryOptions.LongestSpan). RabbitMQ closes a channel holding a delivery longer than
# consumer_timeout (default 30 min), so it must be longer: 36 days, in ms. (3.10 cannot turn it off in rabbitmq.conf.)
# The AppHost's container sets the same value (Infrastructure.cs).
RABBIT_CONSUMER_TIMEOUT_MS=3110400000
rabbit_config() {
  # The log file is enough; console logging would copy it all into startup.log.
  echo 'log.console = false'
  echo "consumer_timeout = $RABBIT_CONSUMER_TIMEOUT_MS"
}

# The node spawns a private epmd on $ERL_EPMD_PORT; don't leave it behind. epmd refuses -kill
# while any node is still registered, so this never pulls it from under a live node.
kill_epmd() { epmd -kill >/dev/null 2>&1 || true; }

start_rabbitmq() ( # subshell: rabbit_env must not leak into the other servers
  [[ -x "$RABBIT_BIN/rabbitmq-server" ]] || die "rabbitmq-server not found; run: $SELF install"
  rabbit_env
  if pid_alive "$RABBIT_PID" beam.smp; then log "rabbitmq already running on $RABBIT_PORT"; return 0; fi
  port_open "$RABBIT_PORT" && die "port $RABBIT_PORT is taken by another process (set LUMOAUTH_RABBIT_PORT)"
  mkdir -p "$RABBIT_DIR/log"
  rm -f "$RABBIT_PID"
  echo '[].' >"$RABBITMQ_ENABLED_PLUGINS_FILE" # no plugins: faster boot, nothing else listening
  # guest/guest works as is: RabbitMQ allows it on loopback, and we listen on loopback only.
  rabbit_config >"$RABBITMQ_CONFIG_FILE"
  echo '[].' >"$RABBITMQ_ADVANCED_CONFIG_FILE" # else /etc/rabbitmq/advanced.config would be read
  # Run in the background ourselves rather than with -detached: -detached discards the node's
  # output, so a bad config would only show up as a 60 s timeout. All fds are redirected because a
  # daemon holding the caller's stdout pipe would hang a test runner; setsid keeps terminal signals
  # meant for the caller away from the broker.
  setsid "$RABBIT_BIN/rabbitmq-server" </dev/null >"$RABBIT_DIR/startup.log" 2>&1 &
  local launcher=$! i logs=("$RABBIT_DIR/startup.log" "$RABBIT_DIR/log/$RABBIT_NODE.log")
  for ((i = 0; i < 1200; i++)); do
    port_open "$RABBIT_PORT" && break
    proc_alive "$launcher" || { kill_epmd; fail_with_log rabbitmq "${logs[@]}"; }
    sleep 0.05
  done
  # The AMQP listener opens near the end of boot; `wait` confirms the whole app is running.
  rabbitmqctl wait "$RABBIT_PID" --timeout 30 </dev/null >>"$RABBIT_DIR/startup.log" 2>&1 ||
    fail_with_log rabbitmq "${logs[@]}"
  log "rabbitmq up on 127.0.0.1:$RABBIT_PORT"
)

stop_rabbitmq() (
  rabbit_env
  if ! pid_alive "$RABBIT_PID" beam.smp; then log "rabbitmq not running"; rm -f "$RABBIT_PID"; return 0; fi
  # RabbitMQ shuts down gracefully on SIGTERM; that takes ~1 s, while `rabbitmqctl stop` adds ~2 s
  # of CLI boot and exit polling, which matters to the outage tests that restart the broker.
  local pid i; pid="$(cat "$RABBIT_PID")"
  kill -TERM "$pid"
  for ((i = 0; i < 600; i++)); do proc_alive "$pid" || break; sleep 0.05; done
  proc_alive "$pid" && fail_with_log "rabbitmq stop (pid $pid)" "$RABBIT_DIR/log/$RABBIT_NODE.log"
  rm -f "$RABBIT_PID"
  kill_epmd
  log "rabbitmq stopped"
)

# ---------------------------------------------------------------- ldap (OpenLDAP's slapd)
# A directory for the LDAP sign-in tests: suffix dc=lumoauth,dc=test (people and groups are added by the tests through
# its root DN), the memberOf overlay as Active Directory has it, LDAP (with StartTLS) and LDAPS with a certificate for
# 127.0.0.1 from a throwaway CA, whose folder `env` names.
LDAP_DIR="$INFRA/ldap"
LDAP_PID="$LDAP_DIR/slapd.pid"
LDAP_SUFFIX="dc=lumoauth,dc=test"
LDAP_ROOT_DN="cn=admin,$LDAP_SUFFIX"
LDAP_ROOT_PASSWORD="ldap-admin-secret"

ldap_files() {
  mkdir -p "$LDAP_DIR/data" "$LDAP_DIR/tls"
  local tls="$LDAP_DIR/tls"
  if [[ ! -f "$tls/server.crt" ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/ca.key" -out "$tls/ca.crt" -days 3650 -subj "/CN=LumoAuth test LDAP CA" >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -keyout "$tls/server.key" -out "$tls/server.csr" -subj "/CN=localhost" >/dev/null 2>&1
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -out "$tls/server.crt" -days 3650 \
      -extfile "$tls/server.ext" >/dev/null 2>&1 || die "could not make the LDAP test certificate"
    # Clients given a folder of trusted CAs find them by subject hash.
    mkdir -p "$tls/trusted" && cp "$tls/ca.crt" "$tls/trusted/" && openssl rehash "$tls/trusted" >/dev/null 2>&1
  fi
  cat >"$LDAP_DIR/slapd.conf" <<SLAPDCONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile $LDAP_PID
argsfile $LDAP_DIR/slapd.args
TLSCACertificateFile $tls/ca.crt
TLSCertificateFile $tls/server.crt
TLSCertificateKeyFile $tls/server.key
database mdb
maxsize 268435456
suffix "$LDAP_SUFFIX"
rootdn "$LDAP_ROOT_DN"
rootpw $LDAP_ROOT_PASSWORD
directory $LDAP_DIR/data
index objectClass,uid,mail eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
overlay memberof
SLAPDCONF
  if [[ ! -f "$LDAP_DIR/data/data.mdb" ]]; then
    printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: LumoAuth tests\ndc: lumoauth\n\ndn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\ndn: ou=groups,%s\nobjectClass: organizationalUnit\nou: groups\n' \
      "$LDAP_SUFFIX" "$LDAP_SUFFIX" "$LDAP_SUFFIX" >"$LDAP_DIR/seed.ldif"
    slapadd -f "$LDAP_DIR/slapd.conf" -l "$LDAP_DIR/seed.ldif" >"$LDAP_DIR/slapadd.log" 2>&1 || fail_with_log ldap "$LDAP_DIR/slapadd.log"
  fi
}

start_ldap() {
  [[ -x /usr/sbin/slapd ]] || die "slapd not found; run: $SELF install"
  if pid_alive "$LDAP_PID" slapd; then log "ldap already running on $LDAP_PORT"; return 0; fi
  port_open "$LDAP_PORT" && die "port $LDAP_PORT is taken by another process (set LUMOAUTH_LDAP_PORT)"
  port_open "$LDAPS_PORT" && die "port $LDAPS_PORT is taken by another process (set LUMOAUTH_LDAPS_PORT)"
  ldap_files
  rm -f "$LDAP_PID"
  # slapd goes to the background by itself once it listens; its log is what it says before that.
  /usr/sbin/slapd -f "$LDAP_DIR/slapd.conf" -h "ldap://127.0.0.1:$LDAP_PORT/ ldaps://127.0.0.1:$LDAPS_PORT/" </dev/null >"$LDAP_DIR/slapd.log" 2>&1 ||
    fail_with_log ldap "$LDAP_DIR/slapd.log"
  local i
  for ((i = 0; i < 100; i++)); do
    pid_alive "$LDAP_PID" slapd && port_open "$LDAP_PORT" && port_open "$LDAPS_PORT" && { log "ldap up on 127.0.0.1:$LDAP_PORT (ldaps $LDAPS_PORT)"; return 0; }
    sleep 0.1
  done
  fail_with_log ldap "$LDAP_DIR/slapd.log"
}

stop_ldap() {
  if ! pid_alive "$LDAP_PID" slapd; then log "ldap not running"; rm -f "$LDAP_PID"; return 0; fi
  local pid i; pid="$(cat "$LDAP_PID")"
  kill -TERM "$pid"
  for ((i = 0; i < 100; i++)); do proc_alive "$pid" || break; sleep 0.05; done
  proc_alive "$pid" && die "slapd (pid $pid) did not stop"
  rm -f "$LDAP_PID"
  log "ldap stopped"
}

# ---------------------------------------------------------------- serve (foreground, for the AppHost)
# The AppHost runs each server as an executable resource it owns: the process stays in the
# foreground (exec) so Aspire sees its logs and stops it with the AppHost.
serve_postgres() {
  [[ -n "$(pg_bin)" ]] || die "PostgreSQL binaries not found; run: $SELF install"
  pg_paths
  mkdir -p "$PG_SOCK"
  chown postgres: "$PG_DIR" "$PG_SOCK"
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    rm -rf "$PG_DATA"
    pg initdb -D "$PG_DATA" -A trust -U postgres --no-sync -E UTF8 >"$PG_DIR/initdb.log" 2>&1 ||
      fail_with_log postgres "$PG_DIR/initdb.log"
  fi
  cd /
  exec runuser -u postgres -- "$(pg_bin)/postgres" -D "$PG_DATA" -p "$PG_PORT" -c listen_addresses=127.0.0.1 \
    -k "$PG_SOCK" -c max_connections=300
}

serve_redis() {
  command -v redis-server >/dev/null || die "redis-server not found; run: $SELF install"
  mkdir -p "$REDIS_DIR"
  exec redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" "${REDIS_DURABILITY[@]}"
}

serve_ldap() {
  [[ -x /usr/sbin/slapd ]] || die "slapd not found; run: $SELF install"
  ldap_files
  exec /usr/sbin/slapd -d 0 -f "$LDAP_DIR/slapd.conf" -h "ldap://127.0.0.1:$LDAP_PORT/ ldaps://127.0.0.1:$LDAPS_PORT/"
}

serve_rabbitmq() {
  [[ -x "$RABBIT_BIN/rabbitmq-server" ]] || die "rabbitmq-server not found; run: $SELF install"
  rabbit_env
  mkdir -p "$RABBIT_DIR/log"
  echo '[].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
  echo '[].' >"$RABBITMQ_ADVANCED_CONFIG_FILE"
  rabbit_config >"$RABBITMQ_CONFIG_FILE"
  # Not exec: the node leaves its private epmd behind, so stay to stop both when told to stop.
  "$RABBIT_BIN/rabbitmq-server" &
  local node=$!
  trap 'kill -TERM $node 2>/dev/null; wait $node; kill_epmd; exit 0' TERM INT
  wait $node || true
  kill_epmd
}

# ---------------------------------------------------------------- commands
targets() {
  case "${1:-all}" in
    all) echo postgres redis rabbitmq ldap ;;
    postgres | redis | rabbitmq | ldap) echo "$1" ;;
    *) die "unknown server '$1' (postgres|redis|rabbitmq|ldap|all)" ;;
  esac
}

cmd_status() {
  local up=0 # lines are "NAME: up (...)" or "NAME: down"; eng/test.sh parses them
  if pg_running; then echo "postgres: up (127.0.0.1:$PG_PORT)"; else echo "postgres: down"; up=1; fi
  if pid_alive "$REDIS_PID" redis-server; then echo "redis: up (127.0.0.1:$REDIS_PORT)"; else echo "redis: down"; up=1; fi
  if pid_alive "$RABBIT_PID" beam.smp; then echo "rabbitmq: up (127.0.0.1:$RABBIT_PORT)"; else echo "rabbitmq: down"; up=1; fi
  if pid_alive "$LDAP_PID" slapd; then echo "ldap: up (127.0.0.1:$LDAP_PORT)"; else echo "ldap: down"; up=1; fi
  return $up # non-zero when any is down
}

cmd_env() {
  # Trust auth: any password is accepted; one is given because some clients insist on it.
  echo "export ConnectionStrings__postgres=\"Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Password=postgres\""
  echo "export ConnectionStrings__redis=\"127.0.0.1:$REDIS_PORT\""
  echo "export ConnectionStrings__rabbitmq=\"amqp://guest:guest@127.0.0.1:$RABBIT_PORT/\""
  echo "export LUMOAUTH_INFRA_SCRIPT=\"$SELF\""
  # The test directory: host, LDAP and LDAPS ports, suffix, root DN and password, and the folder of the CA its
  # certificate comes from (Federation:Ldap:TrustedCertificatesDirectory).
  echo "export LUMOAUTH_LDAP=\"127.0.0.1;$LDAP_PORT;$LDAPS_PORT;$LDAP_SUFFIX;$LDAP_ROOT_DN;$LDAP_ROOT_PASSWORD;$INFRA/ldap/tls/trusted\""
}

reset_rabbitmq() ( # subshell: rabbit_env must not leak
  rabbit_env
  pid_alive "$RABBIT_PID" beam.smp && die "rabbitmq is running; stop it before resetting it"
  rm -rf "$RABBIT_DIR/mnesia"
  log "rabbitmq data reset"
)

cmd="${1:-}"
case "$cmd" in
  install) cmd_install ;;
  start | stop)
    servers="$(targets "${2:-all}")" # an assignment, so that a bad name stops the script
    for s in $servers; do "${cmd}_$s"; done ;;
  status) cmd_status ;;
  env) cmd_env ;;
  rabbitmqctl) shift; rabbit_env; rabbitmqctl "$@" ;; # e.g. `eng/infra.sh rabbitmqctl status`
  rabbitmq-conf) rabbit_config ;; # the rabbitmq.conf start and serve write (the tests check it)
  reset) [[ "${2:-}" == rabbitmq ]] || die "reset takes: rabbitmq"; reset_rabbitmq ;;
  serve) s="$(targets "${2:-}")"; [[ "$s" != *" "* ]] || die "serve takes one server"; "serve_$s" ;;
  *) echo "usage: $0 install | serve postgres|redis|rabbitmq|ldap | start [postgres|redis|rabbitmq|ldap|all] | stop [...] | status | env | rabbitmqctl ARGS | rabbitmq-conf | reset rabbitmq" >&2; exit 2 ;;
esac

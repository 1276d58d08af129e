# Sourced by the bench scripts: runs our services from Release builds on fixed loopback ports against the
# shared PostgreSQL/Redis/RabbitMQ, each run in databases and a messaging prefix of its own, with fresh
# secrets, and stops (by PID) and drops everything it started when the script exits, also on failure.
# The caller has `set -euo pipefail` and must call bench_init first.

BENCH_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH_PORT_BASE="${BENCH_PORT_BASE:-39400}"
GATEWAY_PORT=$((BENCH_PORT_BASE + 80))
declare -A SERVICE_PORT=(
  [admin]=$((BENCH_PORT_BASE + 81)) [token]=$((BENCH_PORT_BASE + 82)) [authorization]=$((BENCH_PORT_BASE + 83))
  [agents]=$((BENCH_PORT_BASE + 84))
)
# Each service also speaks HTTP/2 (h2c) to the gateway on its port + 10 (LumoAuth:Http2Port), as the AppHost deploys it.
H2C_PORT_OFFSET=10
declare -A SERVICE_PROJECT=(
  [admin]=services/admin/LumoAuth.Admin [token]=services/token/LumoAuth.Token
  [authorization]=services/authorization/LumoAuth.Authorization [agents]=services/agents/LumoAuth.Agents [gateway]=gateway/LumoAuth.Gateway
)
declare -A SERVICE_DB=([admin]=admindb [token]=tokendb [authorization]=authzdb [agents]=agentsdb)

BENCH_PIDS=()
BENCH_DATABASES=()

log() { echo "bench: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

bench_init() {
  cd "$BENCH_REPO"
  eval "$(bash eng/infra.sh env)"
  BENCH_RUN="bench$(date +%s)$$"
  BENCH_DIR="$(mktemp -d "/tmp/lumoauth-$BENCH_RUN.XXXX")"
  # Secrets are new for every run: nothing here is meant to outlive it.
  INTERNAL_KEY="$(openssl rand -hex 32)"
  PLATFORM_KEY="$(openssl rand -hex 32)"
  KEY_ENCRYPTION_KEY="$(openssl rand -hex 32)"
  GATEWAY_URL="http://127.0.0.1:$GATEWAY_PORT"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  log "run $BENCH_RUN, logs in $BENCH_DIR"
}

# psql against the shared server, with the credentials from ConnectionStrings__postgres.
bench_psql() {
  local cs="$ConnectionStrings__postgres" host port user password
  host="$(sed -n 's/.*Host=\([^;]*\).*/\1/p' <<<"$cs")"
  port="$(sed -n 's/.*Port=\([^;]*\).*/\1/p' <<<"$cs")"
  user="$(sed -n 's/.*Username=\([^;]*\).*/\1/p' <<<"$cs")"
  password="$(sed -n 's/.*Password=\([^;]*\).*/\1/p' <<<"$cs")"
  PGPASSWORD="$password" psql -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U "$user" "$@"
}

bench_cleanup() {
  local status=$?
  for pid in "${BENCH_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${BENCH_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for db in "${BENCH_DATABASES[@]}"; do
    bench_psql -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" 2>/dev/null || log "could not drop $db"
  done
  # The run's queues (named after Messaging:Prefix) would otherwise stay on the broker for good. Only a broker
  # this repository's infra script runs can be asked; on any other the queues are left alone.
  (bash "$BENCH_REPO/eng/infra.sh" rabbitmqctl list_queues -q --no-table-headers name 2>/dev/null | grep "^$BENCH_RUN-" |
    while read -r queue; do bash "$BENCH_REPO/eng/infra.sh" rabbitmqctl delete_queue "$queue" </dev/null >/dev/null 2>&1 || true; done) || true
  ((status == 0)) || log "failed (exit $status); logs kept in $BENCH_DIR"
  ((status != 0)) || rm -rf "$BENCH_DIR"
  exit "$status"
}

# Release builds of the given projects (incremental; other engineers may hold build locks, so retry).
# BENCH_SKIP_BUILD=1 reuses the existing Release outputs (e.g. while a service does not compile mid-edit).
bench_build() {
  local name
  [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]] || { log "reusing existing Release builds"; return 0; }
  for name in "$@"; do
    local project="${SERVICE_PROJECT[$name]:-$name}" try
    for try in 1 2 3; do
      if dotnet build -c Release "$project" -nologo -v q >"$BENCH_DIR/build-$(basename "$project").log" 2>&1; then break; fi
      ((try < 3)) || { tail -n 30 "$BENCH_DIR/build-$(basename "$project").log" >&2; die "build of $project failed"; }
      log "build of $project failed (lock held by another build?); retrying in 30 s"
      sleep 30
    done
  done
}

bench_dll() {
  local project="${SERVICE_PROJECT[$1]}"
  echo "$BENCH_REPO/$project/bin/Release/net10.0/$(basename "$project").dll"
}

# The environment the AppHost would give a service, as `env` arguments.
bench_service_env() {
  local name=$1 args=(
    ASPNETCORE_ENVIRONMENT=Production
    Logging__LogLevel__Default=Warning
    "LumoAuth__PublicBaseUrl=$GATEWAY_URL"
    "LumoAuth__InternalKey=$INTERNAL_KEY"
    "LumoAuth__PlatformKey=$PLATFORM_KEY"
    "LumoAuth__KeyEncryptionKey=$KEY_ENCRYPTION_KEY"
    LumoAuth__Region=us
    "Messaging__Prefix=$BENCH_RUN"
    "ConnectionStrings__redis=$ConnectionStrings__redis"
    "ConnectionStrings__rabbitmq=$ConnectionStrings__rabbitmq"
  )
  local other
  for other in "${!SERVICE_PORT[@]}"; do
    [[ "$other" == "$name" ]] || args+=(
      "services__${other}__http__0=http://127.0.0.1:${SERVICE_PORT[$other]}"
      "services__${other}__h2c__0=http://127.0.0.1:$((SERVICE_PORT[$other] + H2C_PORT_OFFSET))")
  done
  if [[ -n "${SERVICE_DB[$name]:-}" ]]; then
    args+=("ConnectionStrings__${SERVICE_DB[$name]}=$ConnectionStrings__postgres;Database=${BENCH_RUN}_${SERVICE_DB[$name]}")
  fi
  printf '%s\n' "${args[@]}"
}

bench_wait_healthy() { # name url
  local i
  for i in $(seq 1 120); do
    if curl -fsS -o /dev/null "$2/health" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  tail -n 40 "$BENCH_DIR/$1.log" >&2
  die "$1 did not become healthy at $2"
}

# Migrates (when the service has a database) and starts one service; extra `KEY=value` settings may follow.
bench_start() {
  local name=$1; shift
  local dll port env=() line
  dll="$(bench_dll "$name")"
  [[ -f "$dll" ]] || die "$dll is missing; build first"
  port="${SERVICE_PORT[$name]:-$GATEWAY_PORT}"
  while IFS= read -r line; do env+=("$line"); done < <(bench_service_env "$name")
  env+=("$@")
  if [[ -n "${SERVICE_DB[$name]:-}" ]]; then
    BENCH_DATABASES+=("${BENCH_RUN}_${SERVICE_DB[$name]}")
    env "${env[@]}" dotnet "$dll" --migrate >"$BENCH_DIR/$name-migrate.log" 2>&1 \
      || { tail -n 40 "$BENCH_DIR/$name-migrate.log" >&2; die "$name --migrate failed"; }
  fi
  # Started in its output folder: the content root (the working directory) is watched for configuration
  # changes, and the repository holds the local servers' data files, which change all the time.
  local urls="http://127.0.0.1:$port"
  if [[ -n "${SERVICE_PORT[$name]:-}" ]]; then
    urls+=";http://127.0.0.1:$((port + H2C_PORT_OFFSET))"
    env+=("LumoAuth__Http2Port=$((port + H2C_PORT_OFFSET))")
  fi
  (cd "$(dirname "$dll")" && exec env "${env[@]}" ASPNETCORE_URLS="$urls" dotnet "$dll") >"$BENCH_DIR/$name.log" 2>&1 &
  BENCH_PIDS+=($!)
  bench_wait_healthy "$name" "http://127.0.0.1:$port"
  log "$name up on 127.0.0.1:$port"
}

bench_start_gateway() {
  SERVICE_PROJECT[gateway]=gateway/LumoAuth.Gateway
  # Deployed like the AppHost deploys it (socket completions inline; see LumoAuth.AppHost/Program.cs).
  bench_start gateway Gateway__RateLimits__Enabled=false DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1
}

# JSON field extraction without extra tools: python3 is on every machine of this kind.
json_get() { python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[int(k)] if isinstance(v,list) else v[k]
print(v)' "$1"; }

# Creates a tenant through the platform API; sets TENANT_SLUG, TENANT_ID and TENANT_API_KEY.
bench_create_tenant() {
  TENANT_SLUG="bench$(openssl rand -hex 4)"
  local body
  body="$(curl -fsS -X POST "$GATEWAY_URL/api/v1/tenants" -H "X-Platform-Key: $PLATFORM_KEY" -H 'Content-Type: application/json' \
    -d "{\"slug\":\"$TENANT_SLUG\",\"name\":\"Bench $TENANT_SLUG\",\"adminEmail\":\"admin@$TENANT_SLUG.example.com\"}")" \
    || die "tenant creation failed"
  TENANT_ID="$(json_get data.tenant.id <<<"$body")"
  TENANT_API_KEY="$(json_get data.apiKey.key <<<"$body")"
  TENANT_API="/t/$TENANT_SLUG/api/v1"
  log "tenant $TENANT_SLUG ($TENANT_ID)"
}

# Creates a confidential client-credentials client; sets CLIENT_ID and CLIENT_SECRET.
bench_create_client() {
  local body
  body="$(curl -fsS -X POST "$GATEWAY_URL$TENANT_API/admin/clients" -H "X-API-Key: $TENANT_API_KEY" -H 'Content-Type: application/json' \
    -d "{\"name\":\"${1:-bench client}\"}")" || die "client creation failed"
  CLIENT_ID="$(json_get data.clientId <<<"$body")"
  CLIENT_SECRET="$(json_get data.secret <<<"$body")"
}

# Admin, token and gateway up, with one tenant and one confidential client of it (see the two above).
bench_start_token_stack() { # client name
  bench_start admin
  bench_start token
  bench_start_gateway
  bench_create_tenant
  bench_create_client "$1"
}

# Switches the tenant's signing key (RS256, ES256…), the old key retired at once.
bench_rotate_key() {
  curl -fsS -o /dev/null -X POST "$GATEWAY_URL$TENANT_API/admin/signing-keys/rotate" -H "X-API-Key: $TENANT_API_KEY" \
    -H 'Content-Type: application/json' -d "{\"algorithm\":\"$1\",\"gracePeriodHours\":0}" || die "key rotation to $1 failed"
}

bench_install_wrk() {
  command -v wrk >/dev/null && return 0
  log "installing wrk"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
}

# Runs wrk with bench/lib/post.lua; prints "<good answers/s> <p50 ms> <p99 ms> <errors>".
# BENCH_WRK_CONNECTIONS (default 64) and a 10 s request timeout, so slow answers are measured, not dropped.
bench_wrk() { # seconds url content-type body expected-text [header…]
  local seconds=$1 url=$2; shift 2
  wrk -t2 -c"${BENCH_WRK_CONNECTIONS:-64}" -d"${seconds}s" --timeout 10s -s "$BENCH_REPO/bench/lib/post.lua" "$url" -- "$@" \
    >"$BENCH_DIR/wrk.out" 2>&1 || { cat "$BENCH_DIR/wrk.out" >&2; die "wrk failed"; }
  cat "$BENCH_DIR/wrk.out" >>"$BENCH_DIR/wrk-all.log"
  grep '^BENCH ' "$BENCH_DIR/wrk.out" | cut -d' ' -f2- || die "wrk printed no summary: $(cat "$BENCH_DIR/wrk.out")"
}

# The Basic credentials of RFC 6749 §2.3.1 (each part form-encoded first).
basic_auth() {
  python3 -c 'import base64,sys,urllib.parse as u
print("Basic " + base64.b64encode((u.quote(sys.argv[1],safe="")+":"+u.quote(sys.argv[2],safe="")).encode()).decode())' "$1" "$2"
}

# One line on the conditions, printed above each table: figures from a busy machine are not capacity.
bench_machine_line() {
  local cpu load
  cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  read -r load _ </proc/loadavg
  echo "Machine: $cpu, $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB; 1-minute load average $load when the table was printed; $(date -u +%Y-%m-%dT%H:%MZ)."
}

#!/usr/bin/env bash
# Introspections per second (a confidential client introspects a valid JWT access token: the token service
# alone and through the gateway, wrk -t2 -c64) and password logins per second (admin's internal
# POST /internal/v1/users/authenticate with the right password, wrk -t2 -c4: PBKDF2 keeps both cores busy
# with a few requests, more would only queue). Prints one Markdown table. Loopback only; stops what it starts.
#   bench/login-and-introspection.sh [seconds per measurement = 10]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"

SECONDS_EACH="${1:-10}"
[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] && ((SECONDS_EACH >= 1 && SECONDS_EACH <= 300)) || die "seconds must be 1..300"
# Long enough for tiered JIT and dynamic PGO to settle, so the first server measured is not penalised.
WARMUP_SECONDS="${BENCH_WARMUP_SECONDS:-10}"
LOGIN_CONNECTIONS=4

bench_init
bench_install_wrk
bench_build admin token gateway
bench_start_token_stack "bench introspecting client"
BASIC="$(basic_auth "$CLIENT_ID" "$CLIENT_SECRET")"

# A valid access token of the tenant to introspect (the client introspects its own token).
ACCESS_TOKEN="$(curl -fsS -X POST "$GATEWAY_URL$TENANT_API/oauth/token" -H "Authorization: $BASIC" \
  -d grant_type=client_credentials | json_get access_token)" || die "no access token"

# A user with a password, created through the admin API like any tenant would.
EMAIL="login@$TENANT_SLUG.example.com"
PASSWORD="Bench-$(openssl rand -hex 12)-Pw1!"
curl -fsS -o /dev/null -X POST "$GATEWAY_URL$TENANT_API/admin/users" -H "X-API-Key: $TENANT_API_KEY" \
  -H 'Content-Type: application/json' -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"name\":\"Login Bench\"}" \
  || die "user creation failed"
LOGIN_BODY="{\"tenantId\":\"$TENANT_ID\",\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"totpCode\":null,\"ipAddress\":\"127.0.0.1\"}"

# Each measurement is checked once by hand, then warmed up, then measured.
measure() { # label url content-type body expected header
  local label=$1 url=$2 status
  status="$(curl -s -o "$BENCH_DIR/check.json" -w '%{http_code}' -X POST "$url" -H "Content-Type: $3" -H "$6" --data-raw "$4")"
  # The Lua pattern's only class used here, %s, as an extended regex for grep.
  [[ "$status" == 200 ]] && grep -qE "${5//%s/[[:space:]]}" "$BENCH_DIR/check.json" \
    || die "$label: POST $url answered $status: $(cat "$BENCH_DIR/check.json")"
  log "$label"
  bench_wrk "$WARMUP_SECONDS" "${@:2}" >/dev/null
  echo "$label|${BENCH_WRK_CONNECTIONS:-64}|$(bench_wrk "$SECONDS_EACH" "${@:2}")"
}

FORM=application/x-www-form-urlencoded
ROWS="$(
  measure "introspection, token service alone" "http://127.0.0.1:${SERVICE_PORT[token]}$TENANT_API/oauth/introspect" \
    "$FORM" "token=$ACCESS_TOKEN" '"active":%s*true' "Authorization: $BASIC"
  measure "introspection, through the gateway" "$GATEWAY_URL$TENANT_API/oauth/introspect" \
    "$FORM" "token=$ACCESS_TOKEN" '"active":%s*true' "Authorization: $BASIC"
  BENCH_WRK_CONNECTIONS=$LOGIN_CONNECTIONS measure "password login (admin /internal/v1/users/authenticate)" \
    "http://127.0.0.1:${SERVICE_PORT[admin]}/internal/v1/users/authenticate" \
    application/json "$LOGIN_BODY" '"outcome":%s*"success"' "X-Internal-Key: $INTERNAL_KEY"
)"

bench_machine_line
python3 - "$SECONDS_EACH" "$ROWS" <<'EOF'
import sys
seconds, rows = sys.argv[1], sys.argv[2].splitlines()
print(f"wrk -t2 -d{seconds}s; only HTTP 200 answers with the expected content count.\n")
print("| measurement | connections | per second | p50 | p99 | errors |")
print("|---|---:|---:|---:|---:|---:|")
for row in rows:
    label, connections, result = row.split("|")
    rate, p50, p99, errors = result.split()
    print(f"| {label} | {connections} | {float(rate):,.0f} | {p50} ms | {p99} ms | {errors} |")
EOF

#!/usr/bin/env bash
# The Ask API (POST …/agents/ask) at fixed rates through the gateway, driven open-loop by bench/LumoAuth.OpenLoop:
# an agent with a role (its permission answered by the authorization service) and a capability (answered in the
# agents service), half the questions each, every answer audited. Prints one Markdown table.
# Loopback only; stops what it starts and drops its databases.
#   bench/agents-ask-http.sh [seconds per rate = 10] [rates = "250 500 1000"]
#   BENCH_CONNECTIONS (64) sets the driver's connections.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"

SECONDS_EACH="${1:-10}"
RATES="${2:-250 500 1000}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] && ((SECONDS_EACH >= 1 && SECONDS_EACH <= 300)) || die "seconds must be 1..300"
[[ "$RATES" =~ ^[0-9\ ]+$ ]] || die "rates are whole numbers separated by spaces"

bench_init
bench_build admin authorization agents gateway bench/LumoAuth.OpenLoop
bench_start admin
bench_start authorization
bench_start agents
bench_start_gateway
bench_create_tenant

api() { # method path body
  curl -fsS -X "$1" "$GATEWAY_URL$TENANT_API$2" -H "X-API-Key: $TENANT_API_KEY" -H 'Content-Type: application/json' --data-raw "$3"
}
api POST /admin/permissions '{"name":"Read documents","slug":"document.read"}' >/dev/null || die "permission creation failed"
api POST /admin/roles '{"name":"Reader","slug":"reader","permissions":["document.read"]}' >/dev/null || die "role creation failed"
AGENT_KEY="$(api POST /admin/agents '{"name":"Bench agent","roles":["reader"],"capabilities":["tool:search"]}' | json_get data.apiKey)" \
  || die "agent creation failed"

python3 - "$BENCH_DIR/asks.jsonl" <<'PY'
import sys
with open(sys.argv[1], "w") as out:
    for i in range(1000):
        out.write('{"action":"%s","context":{"id":"doc_%d"}}\n' % ("document.read" if i % 2 == 0 else "tool:search", i))
PY

ASK_PATH="$TENANT_API/agents/ask"
curl -fsS -X POST "$GATEWAY_URL$ASK_PATH" -H "Authorization: Bearer $AGENT_KEY" -H 'Content-Type: application/json' \
  --data-raw '{"action":"document.read"}' | grep -qF '"allowed":true' || die "the agent's role does not answer"

DRIVER=bench/LumoAuth.OpenLoop/bin/Release/net10.0/LumoAuth.OpenLoop.dll
drive() { # rate seconds [driver options…]
  dotnet "$DRIVER" "$GATEWAY_URL$ASK_PATH" --rate "$1" --seconds "$2" --connections "$CONNECTIONS" --bodies "$BENCH_DIR/asks.jsonl" \
    --header "Authorization: Bearer $AGENT_KEY" --expect '"allowed":true' "${@:3}" >"$BENCH_DIR/driver.out" 2>&1 \
    || { cat "$BENCH_DIR/driver.out" >&2; die "driver failed"; }
}

lowest_rate="$(tr ' ' '\n' <<<"$RATES" | grep . | sort -n | head -n 1)"
log "settling: 5 s at $lowest_rate asks/s (not reported)"
drive "$lowest_rate" 5

ROWS=""
for rate in $RATES; do
  log "$rate asks/s for $SECONDS_EACH s"
  drive "$rate" "$SECONDS_EACH" --warmup 2
  grep -v '^OPENLOOP' "$BENCH_DIR/driver.out" >&2
  ROWS+="$rate $(grep '^OPENLOOP' "$BENCH_DIR/driver.out" | cut -d' ' -f2-)"$'\n'
done

bench_machine_line
python3 - "$SECONDS_EACH" "$CONNECTIONS" "$ROWS" <<'PY'
import sys
seconds, connections, rows = sys.argv[1], sys.argv[2], sys.argv[3].splitlines()
print(f"Open-loop POST …/agents/ask through the gateway, {connections} connections, {seconds} s per rate after a 2 s warm-up; "
      "half the actions granted by a role (the authorization service asked), half by a capability; every answer audited.\n")
print("| target /s | achieved /s | p50 | p90 | p99 | max | errors | unsent | service p99 | send lag p99 |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for row in rows:
    if not row.strip():
        continue
    rate, achieved, p50, p90, p99, mx, errors, unsent, service99, lag99 = row.split()
    print(f"| {int(rate):,} | {float(achieved):,.0f} | {p50} ms | {p90} ms | {p99} ms | {mx} ms | {errors} | {unsent} | {service99} ms | {lag99} ms |")
PY

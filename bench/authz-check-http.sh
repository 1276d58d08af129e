#!/usr/bin/env bash
# Zanzibar checks over HTTP at fixed rates, with 1,121,005 tuples in the tenant: the authorization service
# alone and through the gateway, driven open-loop by bench/LumoAuth.OpenLoop (latency from each request's
# scheduled send time, so a slow server cannot hide its queueing). Prints one Markdown table.
# Loopback only; stops what it starts and drops its databases.
#   bench/authz-check-http.sh [seconds per rate = 10] [rates = "2000 5000 10000"]
#   BENCH_CONNECTIONS (64) sets the driver's connections.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"

SECONDS_EACH="${1:-10}"
RATES="${2:-2000 5000 10000}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] && ((SECONDS_EACH >= 1 && SECONDS_EACH <= 300)) || die "seconds must be 1..300"
[[ "$RATES" =~ ^[0-9\ ]+$ ]] || die "rates are whole numbers separated by spaces"

# The schema of the engine benchmark's tenant (bench/LumoAuth.Authorization.Benchmarks/TenantGraph.cs).
SCHEMA='model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type folder
  relations
    define parent: [folder]
    define viewer: [user, group#member] or viewer from parent
type document
  relations
    define parent: [folder]
    define viewer: [user, group#member] or viewer from parent'

bench_init
bench_build admin authorization gateway bench/LumoAuth.OpenLoop
bench_start admin
bench_start authorization
bench_start_gateway
bench_create_tenant
python3 -c 'import json,sys; print(json.dumps({"schema": sys.argv[1]}))' "$SCHEMA" >"$BENCH_DIR/schema.json"
curl -fsS -o /dev/null -X PUT "$GATEWAY_URL$TENANT_API/zanzibar/schema" -H "X-API-Key: $TENANT_API_KEY" \
  -H 'Content-Type: application/json' --data-binary @"$BENCH_DIR/schema.json" || die "schema write failed"

log "loading 1,121,005 tuples with SQL"
load_started=$SECONDS
bench_psql -d "${BENCH_RUN}_authzdb" -v tenant="$TENANT_ID" -f bench/lib/authz-tuples.sql >"$BENCH_DIR/load.log" \
  || { cat "$BENCH_DIR/load.log" >&2; die "tuple load failed"; }
log "loaded $(grep -Eo '[0-9]{6,}' "$BENCH_DIR/load.log" | tail -n 1) tuples in $((SECONDS - load_started)) s"

# 60,000 different checks that must all be allowed: 40% a direct viewer, 40% a member of the viewing group,
# 20% the power user through three folders (tuple-to-userset), so most answers miss the check cache.
python3 - "$BENCH_DIR/checks.jsonl" <<'EOF'
import json, random, sys
rng = random.Random(42)
with open(sys.argv[1], "w") as out:
    for i in range(60_000):
        kind = i % 5
        if kind < 2:
            d = rng.randrange(300_000)
            check = (f"document:d{d}", f"user:u{d % 100_000}")
        elif kind < 4:
            d = rng.randrange(300_000)
            check = (f"document:d{d}", f"user:u{((d % 10_000) * 20 + rng.randrange(20)) % 100_000}")
        else:
            check = (f"document:p{rng.randrange(10_000)}", "user:power")
        out.write(json.dumps({"object": check[0], "relation": "viewer", "user": check[1]}, separators=(",", ":")) + "\n")
EOF

CHECK_PATH="$TENANT_API/zanzibar/check"
# The first check loads the tenant's index (all its tuples) into the service; wait for it, then prove that
# each kind of check answers allowed and that a stranger is denied.
warm() { # body expected
  local i status
  for i in $(seq 1 60); do
    status="$(curl -s -o "$BENCH_DIR/check.json" -w '%{http_code}' --max-time 60 -X POST "$GATEWAY_URL$CHECK_PATH" \
      -H "X-API-Key: $TENANT_API_KEY" -H 'Content-Type: application/json' --data-raw "$1")" || status=000
    [[ "$status" == 200 ]] && break
    sleep 1
  done
  grep -qF "$2" "$BENCH_DIR/check.json" || die "check $1 answered $status: $(cat "$BENCH_DIR/check.json")"
}
log "warming the tenant's index"
warm_started=$SECONDS
for n in 1 2 3 4 5; do warm "$(sed -n "${n}p" "$BENCH_DIR/checks.jsonl")" '"allowed":true'; done
warm '{"object":"document:d777","relation":"viewer","user":"user:nested"}' '"allowed":true'
warm '{"object":"document:d1","relation":"viewer","user":"user:stranger"}' '"allowed":false'
log "index warm after $((SECONDS - warm_started)) s"

DRIVER=bench/LumoAuth.OpenLoop/bin/Release/net10.0/LumoAuth.OpenLoop.dll
drive() { # url rate seconds [driver options…]
  dotnet "$DRIVER" "$1" --rate "$2" --seconds "$3" --connections "$CONNECTIONS" --bodies "$BENCH_DIR/checks.jsonl" \
    --header "X-API-Key: $TENANT_API_KEY" --expect '"allowed":true' "${@:4}" >"$BENCH_DIR/driver.out" 2>&1 \
    || { cat "$BENCH_DIR/driver.out" >&2; die "driver failed"; }
}

# A just-loaded index still has its first full garbage collections and JIT tiers ahead: pay for them
# once, unreported, so the first measured rate is not the one that absorbs them.
lowest_rate="$(tr ' ' '\n' <<<"$RATES" | grep . | sort -n | head -n 1)"
log "settling: 5 s at $lowest_rate checks/s (not reported)"
drive "$GATEWAY_URL$CHECK_PATH" "$lowest_rate" 5

ROWS=""
for target in alone gateway; do
  base="http://127.0.0.1:${SERVICE_PORT[authorization]}"
  [[ "$target" == alone ]] || base="$GATEWAY_URL"
  for rate in $RATES; do
    log "$target at $rate checks/s for $SECONDS_EACH s"
    drive "$base$CHECK_PATH" "$rate" "$SECONDS_EACH" --warmup 2
    grep -v '^OPENLOOP' "$BENCH_DIR/driver.out" >&2
    ROWS+="$target $rate $(grep '^OPENLOOP' "$BENCH_DIR/driver.out" | cut -d' ' -f2-)"$'\n'
  done
done

bench_machine_line
python3 - "$SECONDS_EACH" "$CONNECTIONS" "$ROWS" <<'EOF'
import sys
seconds, connections, rows = sys.argv[1], sys.argv[2], sys.argv[3].splitlines()
print(f"Open-loop POST …/zanzibar/check, {connections} connections, {seconds} s per rate after a 2 s warm-up, "
      "1,121,005 tuples in the tenant, 60,000 distinct allowed checks; latency counted from the scheduled send.\n")
print("| path | target /s | achieved /s | p50 | p90 | p99 | max | errors | unsent | service p99 | send lag p99 |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
names = {"alone": "authorization service", "gateway": "through the gateway"}
for row in rows:
    if not row.strip():
        continue
    target, rate, achieved, p50, p90, p99, mx, errors, unsent, service99, lag99 = row.split()
    print(f"| {names[target]} | {int(rate):,} | {float(achieved):,.0f} | {p50} ms | {p90} ms | {p99} ms | {mx} ms "
          f"| {errors} | {unsent} | {service99} ms | {lag99} ms |")
EOF

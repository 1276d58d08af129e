#!/usr/bin/env bash
# Issues client-credentials tokens as fast as the token service answers (ES256, the cheapest signature, so the
# highest rate) and then checks that every issued token reached admin's audit log: the batched
# AccessTokensIssued path must keep up and lose nothing. Prints one line. Loopback only; stops what it starts.
#   bench/token-audit-completeness.sh [seconds of load = 15]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"

SECONDS_LOAD="${1:-15}"
[[ "$SECONDS_LOAD" =~ ^[0-9]+$ ]] && ((SECONDS_LOAD >= 1 && SECONDS_LOAD <= 300)) || die "seconds must be 1..300"

bench_init
bench_install_wrk
bench_build admin token gateway
bench_start_token_stack "audit completeness"
bench_rotate_key ES256

cat >"$BENCH_DIR/plain.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "$(basic_auth "$CLIENT_ID" "$CLIENT_SECRET")"
LUA
log "issuing tokens for $SECONDS_LOAD s"
wrk -t2 -c64 -d"${SECONDS_LOAD}s" -s "$BENCH_DIR/plain.lua" "http://127.0.0.1:${SERVICE_PORT[token]}$TENANT_API/oauth/token" >"$BENCH_DIR/wrk.out"
! grep -q "Non-2xx" "$BENCH_DIR/wrk.out" || die "some answers were not 200: $(cat "$BENCH_DIR/wrk.out")"
issued="$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$BENCH_DIR/wrk.out")"

# wrk may close connections with requests in flight, which the service still answers: at least $issued entries.
audit_count() {
  bench_psql -d "${BENCH_RUN}_admindb" -tAc "SELECT count(*) FROM audit_logs WHERE \"Action\" = 'access_token_issued'"
}
waited=0
while (( $(audit_count) < issued && waited < 120 )); do sleep 1; waited=$((waited + 1)); done
entries="$(audit_count)"
bench_machine_line
echo "$issued tokens issued in $SECONDS_LOAD s ($((issued / SECONDS_LOAD))/s); $entries access_token_issued audit entries $waited s after the load stopped."
(( entries >= issued )) || die "audit entries missing: $entries of $issued"

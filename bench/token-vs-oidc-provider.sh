#!/usr/bin/env bash
# Client-credentials tokens per second, one load generator for everyone (wrk -t2 -c64 with the same Lua
# script): the npm oidc-provider (2-worker cluster, production mode, JWT access tokens), our token service
# alone, and our token service through the gateway, for RS256 and ES256 — next to the in-process rate at
# which .NET signs such tokens on all cores. Prints one Markdown table. Loopback only; stops what it starts.
#   bench/token-vs-oidc-provider.sh [seconds per measurement = 10]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"

SECONDS_EACH="${1:-10}"
[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] && ((SECONDS_EACH >= 1 && SECONDS_EACH <= 300)) || die "seconds must be 1..300"
# Long enough for tiered JIT and dynamic PGO to settle (the token service compiles ≈ 10,000 methods in its first
# 15 s under load), so no server is measured while still compiling its hot path.
WARMUP_SECONDS="${BENCH_WARMUP_SECONDS:-20}"
# Rounds per algorithm, each measuring the three servers one after another; the table shows each cell's median,
# which steadies figures on a machine whose run-to-run spread is ±10%. Later rounds warm up for 3 s only.
ROUNDS="${BENCH_ROUNDS:-1}"
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && ((ROUNDS >= 1 && ROUNDS <= 9)) || die "BENCH_ROUNDS must be 1..9"
OIDC_PORT=$((BENCH_PORT_BASE + 90))
ALGORITHMS=(RS256 ES256)

bench_init
bench_install_wrk
if [[ ! -d bench/oidc-provider/node_modules/oidc-provider ]]; then
  log "installing oidc-provider (npm ci)"
  (cd bench/oidc-provider && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

bench_build admin token gateway bench/LumoAuth.Token.Benchmarks

# 1. The ceiling: signatures per second in-process on all cores, before any server runs, and again next to each
# round (while every server idles): the machine's speed drifts by several percent within a run, and the table's
# ceiling is the median of these samples. SIGN_RATE[alg] collects them, ";"-separated.
declare -A SIGN_RATE
sign_rate() { # algorithms…
  local alg rate _
  while read -r alg rate _; do
    [[ "$rate" =~ ^[0-9]+$ ]] || die "no in-process signing rate for $alg"
    SIGN_RATE[$alg]+="$rate;"
  done < <(dotnet bench/LumoAuth.Token.Benchmarks/bin/Release/net10.0/LumoAuth.Token.Benchmarks.dll sign-rate 5 "$@")
}
last_sign_rate() { local samples="${SIGN_RATE[$1]%;}"; echo "${samples##*;}"; }
# PAIRED[alg]: the samples just before and just after each round of the token service alone, "<before> <after>;".
declare -A PAIRED
log "in-process signing rate, 5 s per algorithm"
sign_rate "${ALGORITHMS[@]}"
for alg in "${ALGORITHMS[@]}"; do [[ -n "${SIGN_RATE[$alg]:-}" ]] || die "no in-process signing rate for $alg"; done

# 2. Our services, one tenant, one confidential client.
bench_start_token_stack "bench m2m"
BASIC="$(basic_auth "$CLIENT_ID" "$CLIENT_SECRET")"
FORM="grant_type=client_credentials"

# One token by hand first: a wrong setup must fail loudly here, not show up as a table of errors, and
# each server must really sign with the algorithm of its row.
expect_token() { # url algorithm
  local status alg
  status="$(curl -s -o "$BENCH_DIR/token.json" -w '%{http_code}' -X POST "$1" -H "Authorization: $BASIC" -d "$FORM")"
  [[ "$status" == 200 ]] || die "POST $1 answered $status: $(cat "$BENCH_DIR/token.json")"
  alg="$(python3 -c 'import base64,json,sys
h=json.load(sys.stdin)["access_token"].split(".")[0]
print(json.loads(base64.urlsafe_b64decode(h+"="*(-len(h)%4)))["alg"])' <"$BENCH_DIR/token.json")"
  [[ "$alg" == "$2" ]] || die "expected $2 tokens from $1, got $alg"
}

# Warms the target up (JIT, pools, caches) without counting, then measures it. A token endpoint answers 200 only
# with a token, so wrk counts answers by status and does not hand each body to Lua (bench/lib/post.lua: that check
# took ≈ 4 µs per token from the cores every server shares); expect_token decodes one token of each server before
# the rounds and after them.
measure() { # url warm-up-seconds
  local args=(application/x-www-form-urlencoded "$FORM" "" "Authorization: $BASIC")
  BENCH_WRK_CHECK=status bench_wrk "$2" "$1" "${args[@]}" >/dev/null
  BENCH_WRK_CHECK=status bench_wrk "$SECONDS_EACH" "$1" "${args[@]}"
}

# RESULT[alg,target] collects one line per round.
declare -A RESULT URL
for alg in "${ALGORITHMS[@]}"; do
  [[ "$alg" == RS256 ]] || bench_rotate_key "$alg"

  # oidc-provider idles while ours are measured, as ours idle while it is.
  NODE_ENV=production node bench/oidc-provider/server.js "$OIDC_PORT" "$alg" "$CLIENT_ID" "$CLIENT_SECRET" >"$BENCH_DIR/oidc-$alg.log" 2>&1 &
  oidc_pid=$!
  BENCH_PIDS+=("$oidc_pid")
  for _ in $(seq 1 40); do curl -s -o /dev/null "http://127.0.0.1:$OIDC_PORT/.well-known/openid-configuration" && break; sleep 0.25; done
  URL=(
    [oidc]="http://127.0.0.1:$OIDC_PORT/token"
    [alone]="http://127.0.0.1:${SERVICE_PORT[token]}$TENANT_API/oauth/token"
    [gateway]="$GATEWAY_URL$TENANT_API/oauth/token"
  )
  for target in oidc alone gateway; do expect_token "${URL[$target]}" "$alg"; done

  for ((round = 1; round <= ROUNDS; round++)); do
    warmup=$WARMUP_SECONDS
    ((round == 1)) || warmup=3
    for target in oidc alone gateway; do
      if [[ "$target" == alone ]] && ((ROUNDS > 1)); then
        log "$alg: in-process signing rate, round $round of $ROUNDS"
        sign_rate "$alg"
      fi
      log "$alg: $target, round $round of $ROUNDS"
      RESULT[$alg,$target]+="$(measure "${URL[$target]}" "$warmup");"
      if [[ "$target" == alone ]] && ((ROUNDS > 1)); then
        # …and right after it, so each round of the token service alone has a ceiling of its own (the paired line).
        before="$(last_sign_rate "$alg")"
        sign_rate "$alg"
        PAIRED[$alg]+="$before $(last_sign_rate "$alg");"
      fi
    done
  done
  for target in oidc alone gateway; do expect_token "${URL[$target]}" "$alg"; done
  kill "$oidc_pid"; wait "$oidc_pid" 2>/dev/null || true
done

# 3. The table. Each round's result is "<ok requests/s> <p50 ms> <p99 ms> <errors>"; cells show medians over the rounds.
bench_machine_line
python3 - "$SECONDS_EACH" "$(nproc)" "$ROUNDS" "$(for a in "${ALGORITHMS[@]}"; do
  echo "$a|${SIGN_RATE[$a]}|${RESULT[$a,oidc]}|${RESULT[$a,alone]}|${RESULT[$a,gateway]}|${PAIRED[$a]:-}"; done)" <<'EOF'
import statistics, sys
seconds, cores, rounds, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].splitlines()
def runs(cell): return [r.split() for r in cell.split(";") if r.strip()]
def median(cell):
    rs = runs(cell)
    return [statistics.median(float(r[i]) for r in rs) for i in range(3)] + [sum(int(r[3]) for r in rs)]
def show(m): return f"{m[0]:,.0f} ({m[1]:.2f} / {m[2]:.2f} ms)"
def each(cell): return " · ".join(f"{float(r[0]):,.0f}" for r in runs(cell))
what = f"medians of {rounds} rounds" if rounds > 1 else "one round"
print(f"wrk -t2 -c64 -d{seconds}s, client_credentials with client_secret_basic; rates count answers below 400 (a token endpoint's 200 is a token; one per server decoded before and after); "
      f"(p50 / p99); {what}; signing rate in-process on {cores} cores"
      f"{' (median of the samples before the servers start and before and after each round of the token service alone)' if rounds > 1 else ''}.\n")
print("| key | signing rate /s | oidc-provider tokens/s | token alone tokens/s | through gateway tokens/s "
      "| token alone as % of signing rate | × oidc-provider | gateway hop cost % | errors (oidc / alone / gateway) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for row in rows:
    alg, sign, oidc, alone, gw, paired = row.split("|")
    o, a, g = median(oidc), median(alone), median(gw)
    samples = [float(x) for x in sign.split(";") if x.strip()]
    sign = statistics.median(samples)
    pct = f"{100 * a[0] / sign:.0f}%" if sign else "n/a"
    times = f"{a[0] / o[0]:.2f}×" if o[0] else "n/a"
    hop = f"{100 * (1 - g[0] / a[0]):.0f}%" if a[0] else "n/a"
    print(f"| {alg} | {sign:,.0f} | {show(o)} | {show(a)} | {show(g)} | {pct} | {times} | {hop} | {o[3]} / {a[3]} / {g[3]} |")
    if rounds > 1:
        print(f"| {alg} rounds | {' · '.join(f'{x:,.0f}' for x in samples)} | {each(oidc)} | {each(alone)} | {each(gw)} | | | | |")
        # Each ratio from one round's own figures: the token service alone against the signing rate sampled just before
        # and just after it, against that round's oidc-provider, and against that round's gateway. The machine's speed
        # drifts between rounds; within a round it drifts less.
        rate = lambda cell: [float(r[0]) for r in runs(cell)]
        ceilings = [sum(map(float, p.split())) / 2 for p in paired.split(";") if p.strip()]
        pcts = [100 * t / c for t, c in zip(rate(alone), ceilings)]
        timess = [t / x for t, x in zip(rate(alone), rate(oidc))]
        hops = [100 * (1 - y / t) for t, y in zip(rate(alone), rate(gw))]
        listed = lambda xs, fmt: f"{fmt(statistics.median(xs))} ({' · '.join(fmt(x) for x in xs)})"
        print(f"| {alg} paired by round | {' · '.join(f'{c:,.0f}' for c in ceilings)} | | | | {listed(pcts, lambda x: f'{x:.0f}%')} "
              f"| {listed(timess, lambda x: f'{x:.2f}×')} | {listed(hops, lambda x: f'{x:.0f}%')} | |")
EOF

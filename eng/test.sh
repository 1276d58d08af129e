#!/usr/bin/env bash
# The one test command (CI runs it via .ci/run). Brings up PostgreSQL/Redis/RabbitMQ on loopback,
# runs `dotnet test` (extra arguments are passed through), stops the servers it started, and prints
# as its very last line "N passed, N failed", summed over all TRX files.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
INFRA="$REPO/eng/infra.sh"
RESULTS="$REPO/.lumoauth/test-results"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 # no network beyond the registries

# Chromium drives the browser tests of the hosted pages (Playwright with the system browser).
LUMOAUTH_WITH_CHROMIUM=1 bash "$INFRA" install

# Stop afterwards only what this run started: a developer's already-running servers survive.
up_before="$(bash "$INFRA" status | sed -n 's/: up.*//p')" || true
started=()
for s in postgres redis rabbitmq ldap; do grep -qx "$s" <<<"$up_before" || started+=("$s"); done
cleanup() {
  local s
  for s in "${started[@]}"; do bash "$INFRA" stop "$s" || true; done
  started=() # run once: the EXIT trap must not print after the summary line
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A broker this run starts begins empty: fixtures declare queues and exchanges of their own and never remove them,
# and hundreds left by earlier runs slow down the broker restarts of the fault tests.
if printf '%s\n' "${started[@]}" | grep -qx rabbitmq; then bash "$INFRA" reset rabbitmq; fi
bash "$INFRA" start all
eval "$(bash "$INFRA" env)"
if [[ -x /usr/bin/chromium ]]; then export LUMOAUTH_CHROMIUM=/usr/bin/chromium; fi

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
# Services under test append the errors they log here (tests/LumoAuth.Testing/ServerErrorLog.cs); printed on failure.
export LUMOAUTH_SERVER_ERROR_LOG="$RESULTS/server-errors.log"
rc=0
# Test projects run one after another (-m:1): fault tests stop and restart the shared broker, which
# must not pull it from under another project's tests; on two cores little is lost.
dotnet build LumoAuth.sln -c Release -nologo -clp:ErrorsOnly
# A test that hangs (seen once: MassTransit's stop after a broker restart) is killed after 10 minutes with a dump,
# failing its project instead of holding up the whole run until CI's time is up.
dotnet test LumoAuth.sln -c Release --no-build -m:1 --settings eng/test.runsettings --blame-hang-timeout 10m --logger "trx;LogFilePrefix=r" --results-directory "$RESULTS" "$@" || rc=$?

cleanup

# <Counters total=".." executed=".." passed="N" failed="N" .../> once per TRX file. Newlines are
# flattened in case a writer wraps attributes; the leading space keeps passedButRunAborted out.
read -r passed failed < <(find "$RESULTS" -name '*.trx' -exec cat {} + 2>/dev/null | tr '\n' ' ' |
  grep -o '<Counters [^>]*>' | awk '
    { for (i = 1; i <= NF; i++) if (split($i, kv, "\"") >= 2) {
        if (kv[1] == "passed=") p += kv[2]
        if (kv[1] == "failed=") f += kv[2] } }
    END { print p + 0, f + 0 }')

status=0
if ((rc != 0 || failed > 0)) && [[ -s "$LUMOAUTH_SERVER_ERROR_LOG" ]]; then
  # Only errors logged while serving a request (they carry the trace id a 500's correlationId names), shortened.
  # Polly's retry notes are left out: tests without a peer service make them by design.
  echo "test: errors the services logged while serving requests (last 20; all in $LUMOAUTH_SERVER_ERROR_LOG):" >&2
  grep -v -e ' trace=-: ' -e '] Polly trace=' "$LUMOAUTH_SERVER_ERROR_LOG" | tail -n 20 | cut -c1-400 >&2 || true
fi
if ((rc != 0)); then echo "test: dotnet test exited with $rc" >&2; status=$rc; fi
if ((passed + failed == 0)); then echo "test: no tests ran" >&2; status=1; fi
if ((failed > 0)) && ((status == 0)); then status=1; fi
echo "$passed passed, $failed failed"
exit "$status"

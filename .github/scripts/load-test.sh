#!/usr/bin/env bash
# Runs the load test (loadtest/pavemaster.yml, Artillery) against a stack's PREVIEW Service: the idle slot that
# was just deployed and has no user traffic yet. Exits non-zero when a threshold of the profile is missed.
#
#   .github/scripts/load-test.sh <stack> <profile>      profile: peak | stress | endurance
#
# The preview Service is reached through `kubectl port-forward` on 127.0.0.1:$LOADTEST_PORT (default 18080), the
# loopback target the scenario file names; the stack outputs give its namespace and name. With LOADTEST_TARGET
# set (e.g. http://127.0.0.1:8080) no port-forward is made and that target is used as is.
# LOADTEST_OVERRIDES passes Artillery's --overrides (JSON), LOADTEST_REPORT the JSON report path.
# Artillery comes from scripts/setup/workflow-tools.sh (pinned), with its telemetry off.
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 <stack> <peak|stress|endurance>" >&2
  exit 64
fi
stack=$1
profile=$2
case "$profile" in
peak | stress | endurance) ;;
*)
  echo "load-test: unknown profile \"$profile\" (peak, stress, endurance)" >&2
  exit 64
  ;;
esac

root="$(cd "$(dirname "$0")/../.." && pwd)"
artillery="${PAVEMASTER_CACHE:-$HOME/.cache/pavemaster}/bin/artillery"
if [ ! -x "$artillery" ]; then
  echo "load-test: artillery is not installed: run WORKFLOW_TOOLS=artillery scripts/setup/workflow-tools.sh" >&2
  exit 1
fi
export ARTILLERY_DISABLE_TELEMETRY=true

port="${LOADTEST_PORT:-18080}"
target="${LOADTEST_TARGET:-}"
forward_pid=
cleanup() {
  if [ -n "$forward_pid" ]; then
    kill "$forward_pid" 2>/dev/null || true
    wait "$forward_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if [ -z "$target" ]; then
  outputs="$(pulumi stack output --stack "$stack" --json)"
  namespace="$(jq -er '.namespace' <<<"$outputs")"
  service="$(jq -er '.previewServiceName' <<<"$outputs")"
  echo "load-test: port-forwarding $namespace/svc/$service to 127.0.0.1:$port"
  kubectl --namespace "$namespace" port-forward --address 127.0.0.1 "svc/$service" "$port:80" >/dev/null &
  forward_pid=$!
  target="http://127.0.0.1:$port"
  for _ in $(seq 1 30); do
    if curl -fsS -o /dev/null --max-time 2 "$target/readyz"; then
      break
    fi
    sleep 1
  done
fi

args=(run --environment "$profile" --target "$target")
if [ -n "${LOADTEST_OVERRIDES:-}" ]; then
  args+=(--overrides "$LOADTEST_OVERRIDES")
fi
if [ -n "${LOADTEST_REPORT:-}" ]; then
  args+=(--output "$LOADTEST_REPORT")
fi
echo "load-test: $profile against $target ($stack preview)"
"$artillery" "${args[@]}" "$root/loadtest/pavemaster.yml"

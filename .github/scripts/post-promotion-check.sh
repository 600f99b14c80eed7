#!/usr/bin/env bash
# After a promote: fails unless traffic really is on the released image. The release command's own check
# (error ratio, latency, alerts in Prometheus) ran inside `promote`; this one checks what users get:
#   1. the active Service selects the slot the stack file names, and that slot's Deployment runs IMAGE with
#      every replica Ready;
#   2. the active Service's EndpointSlices list only that slot's pods, at least one, all ready;
#   3. where the kubelet reports it (a real node), every such pod runs IMAGE's digest;
#   4. a post-deployment smoke test through the active Service (a port-forward to 127.0.0.1): each path of
#      SMOKE_PATHS (default "/healthz /readyz /") answers 2xx within 5 s.
# It prints `release status` for the log, which never fails by itself.
#
#   .github/scripts/post-promotion-check.sh <stack> <image>
set -euo pipefail
if [ "$#" -ne 2 ]; then
  echo "usage: $0 <stack> <image>" >&2
  exit 64
fi
stack=$1
image=$2
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."

fail() {
  echo "post-promotion check FAILED: $*" >&2
  exit 1
}

"$here/release.sh" status "$stack" || true

outputs="$(pulumi stack output --stack "$stack" --json)"
ns="$(jq -er '.namespace' <<<"$outputs")"
active_svc="$(jq -er '.activeServiceName' <<<"$outputs")"
file_slot="$(node "$here/stack-file.js" active-slot "$stack")"
live_slot="$(kubectl -n "$ns" get service "$active_svc" -o jsonpath='{.spec.selector.slot}')"
[ "$live_slot" = "$file_slot" ] || fail "Service $active_svc selects slot '$live_slot', the stack file names '$file_slot'"

deployment="$(jq -er ".${live_slot}DeploymentName" <<<"$outputs")"
deploy_json="$(kubectl -n "$ns" get deployment "$deployment" -o json)"
live_image="$(jq -r '.spec.template.spec.containers[0].image' <<<"$deploy_json")"
[ "$live_image" = "$image" ] || fail "slot $live_slot runs $live_image, not the released $image"
want="$(jq -r '.spec.replicas // 0' <<<"$deploy_json")"
ready="$(jq -r '.status.readyReplicas // 0' <<<"$deploy_json")"
updated="$(jq -r '.status.updatedReplicas // 0' <<<"$deploy_json")"
if [ "$want" -eq 0 ] || [ "$ready" -ne "$want" ] || [ "$updated" -ne "$want" ]; then
  fail "Deployment $deployment: $ready of $want replicas Ready ($updated updated)"
fi

slices="$(kubectl -n "$ns" get endpointslices -l "kubernetes.io/service-name=$active_svc" -o json)"
endpoints="$(jq '[.items[].endpoints // [] | .[]]' <<<"$slices")"
count="$(jq 'length' <<<"$endpoints")"
[ "$count" -gt 0 ] || fail "Service $active_svc has no endpoint"
unready="$(jq '[.[] | select(.conditions.ready != true)] | length' <<<"$endpoints")"
[ "$unready" -eq 0 ] || fail "Service $active_svc lists $unready endpoint(s) that are not ready"
pods="$(jq -r '.[].targetRef.name' <<<"$endpoints")"
digest="${image##*@}"
for pod in $pods; do
  pod_json="$(kubectl -n "$ns" get pod "$pod" -o json)"
  slot="$(jq -r '.metadata.labels.slot // ""' <<<"$pod_json")"
  [ "$slot" = "$live_slot" ] || fail "Service $active_svc sends traffic to pod $pod of slot '$slot'"
  image_id="$(jq -r '.status.containerStatuses[0].imageID // ""' <<<"$pod_json")"
  if [[ "$image_id" == *@sha256:* ]] && [[ "$image" == *@sha256:* ]] && [ "${image_id##*@}" != "$digest" ]; then
    fail "pod $pod runs ${image_id##*@}, not the released digest $digest"
  fi
done
echo "post-promotion check: $active_svc -> slot $live_slot ($count ready pod(s)) running $image"

paths="${SMOKE_PATHS-/healthz /readyz /}"
if [ -z "$paths" ]; then
  echo "post-promotion check: SMOKE_PATHS is empty: no post-deployment smoke test"
  exit 0
fi
port="${SMOKE_PORT:-18081}"
kubectl -n "$ns" port-forward --address 127.0.0.1 "service/$active_svc" "$port:80" >/dev/null 2>&1 &
forward=$!
trap 'kill "$forward" 2>/dev/null || true; wait "$forward" 2>/dev/null || true' EXIT
for _ in $(seq 1 30); do
  if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then break; fi
  sleep 1
done
for p in $paths; do
  status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port$p" || true)"
  [[ "$status" =~ ^2 ]] || fail "smoke: GET $p through Service $active_svc answered ${status:-nothing}"
  echo "smoke: GET $p -> $status"
done
echo "post-promotion check: passed"

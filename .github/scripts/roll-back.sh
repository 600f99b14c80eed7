#!/usr/bin/env bash
# The release job's rollback after a failure past the switch: makes sure traffic is back on the slot that
# served before this release (SLOT, from the deploy step). When the release command already flipped back by
# itself (promote exit 4), traffic is there: it says so and checks that slot is still fully Ready. Otherwise it
# runs `release rollback` (an instant selector flip; the previous slot still runs the previous version).
#
#   .github/scripts/roll-back.sh <stack> <slot before the release>
set -euo pipefail
if [ "$#" -ne 2 ]; then
  echo "usage: $0 <stack> <blue|green>" >&2
  exit 64
fi
stack=$1
want=$2
case "$want" in blue | green) ;; *)
  echo "roll-back: not a slot: '$want'" >&2
  exit 64
  ;;
esac
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."

outputs="$(pulumi stack output --stack "$stack" --json)"
ns="$(jq -er '.namespace' <<<"$outputs")"
svc="$(jq -er '.activeServiceName' <<<"$outputs")"
live="$(kubectl -n "$ns" get service "$svc" -o jsonpath='{.spec.selector.slot}')"
if [ "$live" = "$want" ]; then
  deployment="$(jq -er ".${want}DeploymentName" <<<"$outputs")"
  ready="$(kubectl -n "$ns" get deployment "$deployment" -o jsonpath='{.status.readyReplicas}')"
  echo "roll-back: traffic is on $want already (the release command flipped back by itself); $deployment has ${ready:-0} Ready replica(s)"
  [ "${ready:-0}" -gt 0 ] || { echo "roll-back: but $want has no Ready replica" >&2; exit 1; }
  exit 0
fi
echo "roll-back: traffic is on $live; rolling back to $want"
"$here/release.sh" rollback "$stack" --commit

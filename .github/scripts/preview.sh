#!/usr/bin/env bash
# The pull request's preview of one stack, in two parts written to OUTDIR:
#   1. the policy-gated `pulumi preview` with the CrossGuard pack and THIS stack's policy config
#      (policy/config/<stack>.json: staging takes tag-pinned images, production requires digests), whose
#      output goes to <stack>.preview.txt; a mandatory violation fails the step;
#   2. the release report (`release preview <stack> --markdown`: the changes and the traffic line) in
#      <stack>.md, and the outcome in <stack>.json ({stack, policy: "passed"|"failed", exitCode}).
# The report is written even when the policy preview fails, so the pull-request comment shows the violation.
#
#   .github/scripts/preview.sh <stack> <outdir>
set -uo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 <stack> <outdir>" >&2
  exit 64
fi
stack=$1
out=$2
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root" || exit 1
config="policy/config/$stack.json"
if [ ! -f "$config" ]; then
  echo "preview: no policy config $config for stack $stack" >&2
  exit 64
fi
mkdir -p "$out"

echo "preview: pulumi preview --stack $stack --policy-pack policy --policy-pack-config $config"
pulumi preview --stack "$stack" --policy-pack policy --policy-pack-config "$config" \
  --non-interactive --diff 2>&1 | tee "$out/$stack.preview.txt"
policy_code=${PIPESTATUS[0]}

"$here/release.sh" preview "$stack" --markdown >"$out/$stack.md"
report_code=$?

if [ "$policy_code" -eq 0 ]; then policy=passed; else policy=failed; fi
# What a reviewer needs from a failed policy preview: each violation (the engine prints
# "<pack>@v<version> [<enforcement>] ... <policy> (<resource>)<description>" and the message on the next line)
# and the error lines.
if [ "$policy_code" -ne 0 ]; then
  grep -A1 -E '^ +[^ ]+@v[^ ]+ \[(mandatory|advisory|remediate)\]' "$out/$stack.preview.txt" | grep -v '^--$' |
    head -n 80 >"$out/$stack.violations.txt" || true
  grep -E '^error: ' "$out/$stack.preview.txt" >>"$out/$stack.violations.txt" || true
fi
printf '{"stack":"%s","policy":"%s","exitCode":%d,"reportExitCode":%d}\n' \
  "$stack" "$policy" "$policy_code" "$report_code" >"$out/$stack.json"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -s "$out/$stack.md" ]; then
  cat "$out/$stack.md" >>"$GITHUB_STEP_SUMMARY"
fi
if [ "$policy_code" -ne 0 ]; then
  echo "preview: the policy pack refused the $stack preview (exit $policy_code)" >&2
  exit "$policy_code"
fi
exit "$report_code"

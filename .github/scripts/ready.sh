#!/usr/bin/env bash
# The one required check of a pull request: fails when any job it needs failed or was cancelled. "skipped" is
# accepted (the secret-needing jobs of a fork's pull request).
#
#   .github/scripts/ready.sh '<JSON list of the needed jobs' results>'
set -euo pipefail
echo "results: $1"
if ! jq -e 'type == "array" and length > 0' >/dev/null <<<"$1"; then
  echo "ready: not a list of job results: $1" >&2
  exit 64
fi
bad="$(jq -r '[.[] | select(. == "failure" or . == "cancelled")] | length' <<<"$1")"
if [ "$bad" -ne 0 ]; then
  echo "ready: $bad job(s) failed or were cancelled" >&2
  exit 1
fi
echo "ready: every check passed"

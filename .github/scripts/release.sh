#!/usr/bin/env bash
# The one place the delivery workflows call the release command, so a change of its command line (issue 19's
# CLI) is one edit here. Runs `npm run release -- <subcommand> <args>` from the repository root, and then:
#   - writes `exit-code=<n>` to $GITHUB_OUTPUT (when set), so a later step can tell an automatic flip-back
#     (exit 4) from a failed gate (2) or a locked stack (3);
#   - for `deploy`, writes `active-slot=<slot>` first: the slot that served before this release, the one a
#     rollback returns to;
#   - posts to Slack after a promote (0: promoted, 4: flipped back automatically) and a rollback, through the
#     stack's own webhook secret `pavemaster:slackWebhookUrl` (the one Alertmanager posts with), by
#     .github/scripts/slack-notify.js. Remove that call once the release command posts itself (issue 19).
# Exits with the release command's exit code.
#
#   .github/scripts/release.sh <deploy|promote|rollback|abort|status|history|preview|recover> <stack> [args...]
set -uo pipefail

if [ "$#" -lt 2 ]; then
  echo "usage: $0 <subcommand> <stack> [args...]" >&2
  exit 64
fi
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
command=$1
stack=$2
cd "$root" || exit 1

output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "$1" >>"$GITHUB_OUTPUT"
  fi
}

if [ "$command" = deploy ]; then
  output "active-slot=$(node "$here/stack-file.js" active-slot "$stack")" || exit 1
fi

# Production promote/rollback ask for confirmation on a terminal and, without one, need --yes: in CI the
# environment's required reviewers are the confirmation, so the job states it here.
confirm=()
case "$command" in
  promote | rollback) confirm=(--yes) ;;
esac

# The command's own error line (stderr) is kept for the notification; both streams still reach the log.
errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
# stdout goes to stdout as it is; stderr through tee into the file and on to stderr. The pipeline ends only when
# tee has written everything, so the file is complete below.
{
  npm run --silent release -- "$@" ${confirm[@]+"${confirm[@]}"} 2>&1 1>&3 3>&- | tee "$errors" >&2 3>&-
  code=${PIPESTATUS[0]}
} 3>&1
output "exit-code=$code"

notify() {
  node "$here/slack-notify.js" "$@" || echo "release.sh: the Slack notification failed (the release result stands)" >&2
}
reason="$(grep -E '^release: ' "$errors" | tail -n 1 | sed -e 's/^release: //')"
preview=false
for a in "$@"; do
  if [ "$a" = --preview ]; then preview=true; fi
done
case "$preview:$command:$code" in
  false:promote:0 | false:promote:4 | false:rollback:0)
    notify --stack "$stack" --event "$command:$code" --reason "$reason"
    ;;
esac
exit "$code"

#!/usr/bin/env bash
# Pushes the release job's commits (the changed Pulumi.<stack>.yaml, the promotion record) back to the branch
# it released from, so the repository stays the source of truth. Rebases onto a branch that moved meanwhile and
# tries again (up to three times); nothing to push is fine.
#
#   .github/scripts/push-back.sh <branch>
set -euo pipefail
if [ "$#" -ne 1 ]; then
  echo "usage: $0 <branch>" >&2
  exit 64
fi
branch=$1
git fetch --quiet origin "+refs/heads/$branch:refs/remotes/origin/$branch"
if [ -z "$(git rev-list "origin/$branch..HEAD")" ]; then
  echo "push-back: no stack-file change to push"
  exit 0
fi
for attempt in 1 2 3; do
  git pull --quiet --rebase origin "$branch"
  count=$(git rev-list --count "origin/$branch..HEAD")
  if git push --quiet origin "HEAD:$branch"; then
    echo "push-back: pushed $count commit(s) to $branch:"
    git log --format='  %h %s' -n "$count"
    exit 0
  fi
  echo "push-back: $branch moved during the push (attempt $attempt), rebasing" >&2
  sleep $((attempt * 2))
done
echo "push-back: could not push to $branch" >&2
exit 1

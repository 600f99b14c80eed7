#!/usr/bin/env bash
# Posts a Markdown file as a pull-request comment that later runs edit in place ("sticky"): the comment carries a
# hidden marker, and a comment with the same marker is updated instead of adding a new one.
#
#   .github/scripts/pr-comment.sh <pr number> <marker> <file.md>
#
# Needs the GitHub CLI (`gh`, on every GitHub-hosted runner) with GH_TOKEN allowed to write pull-request
# comments, and GITHUB_REPOSITORY ("owner/name").
set -euo pipefail

if [ "$#" -ne 3 ]; then
  echo "usage: $0 <pr number> <marker> <file.md>" >&2
  exit 64
fi
pr=$1
marker=$2
file=$3
repo=${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}

case "$pr" in
'' | *[!0-9]*)
  echo "pr-comment: not a pull-request number: $pr" >&2
  exit 64
  ;;
esac
case "$marker" in
'' | *[!A-Za-z0-9._-]*)
  echo "pr-comment: the marker takes letters, digits, '.', '_' and '-': $marker" >&2
  exit 64
  ;;
esac
if [ ! -s "$file" ]; then
  echo "pr-comment: nothing to post: $file is missing or empty" >&2
  exit 1
fi

tag="<!-- pavemaster:$marker -->"
body="$(mktemp)"
trap 'rm -f "$body"' EXIT
{
  printf '%s\n' "$tag"
  cat "$file"
} >"$body"

# The newest of our comments carrying the marker, if any (first page of 100 is plenty for one pull request).
existing="$(gh api "repos/$repo/issues/$pr/comments?per_page=100" \
  --jq "[.[] | select(.body | startswith(\"$tag\"))] | last | .id // empty")"

if [ -n "$existing" ]; then
  gh api --method PATCH "repos/$repo/issues/comments/$existing" -F "body=@$body" --silent
  echo "pr-comment: updated comment $existing on #$pr ($marker)"
else
  gh api --method POST "repos/$repo/issues/$pr/comments" -F "body=@$body" --silent
  echo "pr-comment: added a comment on #$pr ($marker)"
fi

#!/usr/bin/env bash
# The name the staging build pushes the app image under: ghcr.io/<owner>/<repo>/web (registry paths are lower
# case) and the tag git-<12 hex of the commit>, so every image traces back to its source. Writes `repository`
# and `tag` to $GITHUB_OUTPUT.
set -euo pipefail
repo=${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}
sha=${GITHUB_SHA:?GITHUB_SHA is not set}
if ! [[ "$sha" =~ ^[0-9a-f]{40}$ ]]; then
  echo "image-name: GITHUB_SHA is not a commit: $sha" >&2
  exit 1
fi
{
  echo "repository=ghcr.io/${repo,,}/web"
  echo "tag=git-${sha::12}"
} >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
echo "image-name: ghcr.io/${repo,,}/web:git-${sha::12}"

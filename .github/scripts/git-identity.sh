#!/usr/bin/env bash
# The identity of the release job's stack-file commits: GitHub's Actions bot, so the history says who changed
# a stack file (a person by hand, or a release run).
set -euo pipefail
git config user.name "github-actions[bot]"
git config user.email "41898282+github-actions[bot]@users.noreply.github.com"

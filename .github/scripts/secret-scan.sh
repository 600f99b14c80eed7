#!/usr/bin/env bash
# The secret scan of the whole git history with gitleaks (pinned in scripts/setup/workflow-tools.sh) and the
# repository's .gitleaks.toml; writes SARIF to <report> for the code-scanning upload. Exits 1 on a finding.
#
#   .github/scripts/secret-scan.sh <report.sarif>
set -euo pipefail
if [ "$#" -ne 1 ]; then
  echo "usage: $0 <report.sarif>" >&2
  exit 64
fi
cd "$(dirname "$0")/../.."
gitleaks="${PAVEMASTER_CACHE:-$HOME/.cache/pavemaster}/bin/gitleaks"
if [ ! -x "$gitleaks" ]; then
  echo "secret-scan: gitleaks is not installed: run WORKFLOW_TOOLS=gitleaks scripts/setup/workflow-tools.sh" >&2
  exit 1
fi
if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
  echo "secret-scan: the checkout is shallow: fetch the whole history (fetch-depth: 0)" >&2
  exit 1
fi
"$gitleaks" git --no-banner --redact --config .gitleaks.toml --report-format sarif --report-path "$1" .

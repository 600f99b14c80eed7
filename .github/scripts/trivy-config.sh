#!/usr/bin/env bash
# Trivy's misconfiguration scan of the repository's IaC and of the manifests the stacks render, as SARIF for the
# code-scanning upload (every finding), then a gate that fails on HIGH or CRITICAL in the rendered manifests.
#
#   .github/scripts/trivy-config.sh <trivy binary> <rendered manifests dir> <out dir>
set -uo pipefail
if [ "$#" -ne 3 ]; then
  echo "usage: $0 <trivy> <rendered dir> <out dir>" >&2
  exit 64
fi
trivy=$1
rendered=$2
out=$3
cd "$(dirname "$0")/../.." || exit 1
mkdir -p "$out"
"$trivy" config --quiet --format sarif --output "$out/trivy-iac.sarif" \
  --skip-dirs node_modules --skip-dirs policy/node_modules --skip-dirs .local . || exit 1
"$trivy" config --quiet --format sarif --output "$out/trivy-manifests.sarif" "$rendered" || exit 1
# After the reports, so the findings are uploaded either way: HIGH and CRITICAL fail the job, except the findings
# .github/trivy/accepted.rego accepts (each for one check on one named resource, with the reason).
"$trivy" config --quiet --exit-code 1 --severity HIGH,CRITICAL --ignore-policy .github/trivy/accepted.rego "$rendered"

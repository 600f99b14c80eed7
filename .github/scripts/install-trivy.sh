#!/usr/bin/env bash
# Builds Trivy from the Go module proxy (the checksum database makes the version immutable, like a commit pin)
# into <bin dir>; reuses a binary of that version already there.
#
#   .github/scripts/install-trivy.sh <version, e.g. v0.65.0> <bin dir>
set -euo pipefail
if [ "$#" -ne 2 ]; then
  echo "usage: $0 <version> <bin dir>" >&2
  exit 64
fi
version=$1
bin=$2
if [ -x "$bin/trivy" ] && "$bin/trivy" --version 2>/dev/null | grep -qx "Version: ${version#v}"; then
  echo "install-trivy: trivy $version is in $bin"
  exit 0
fi
mkdir -p "$bin"
GOBIN="$bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install "github.com/aquasecurity/trivy/cmd/trivy@$version"
"$bin/trivy" --version | head -n 1

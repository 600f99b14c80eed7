#!/usr/bin/env bash
# Installs the independent manifest scanners the security tests run on the rendered stacks:
#   - checkov (PyPI), in its own virtualenv under the cache so the system Python is left alone;
#   - kube-score (Go module proxy), built with `go install` into the cache's bin.
# Both are pinned. Idempotent: exits at once when the pinned versions are already there.
# Prints the two binaries' paths; test/unit/security finds them the same way (PAVEMASTER_CACHE).
set -euo pipefail

CHECKOV_VERSION=3.3.30
KUBE_SCORE_VERSION=v1.20.0

CACHE="${PAVEMASTER_CACHE:-$HOME/.cache/pavemaster}"
VENV="$CACHE/venv-checkov"
BIN="$CACHE/bin"
mkdir -p "$CACHE" "$BIN"

# checkov ---------------------------------------------------------------------------------------------------
checkov_ok() {
  # The installed distribution's metadata folder names its version: no need to start Python to check it.
  [ -x "$VENV/bin/checkov" ] && compgen -G "$VENV/lib/python3*/site-packages/checkov-$CHECKOV_VERSION.dist-info" >/dev/null
}
if ! checkov_ok; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi

# kube-score ------------------------------------------------------------------------------------------------
kube_score_ok() {
  [ -x "$BIN/kube-score" ] && [ -f "$BIN/kube-score.version" ] && [ "$(cat "$BIN/kube-score.version")" = "$KUBE_SCORE_VERSION" ]
}
if ! kube_score_ok; then
  GOBIN="$BIN" go install "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
  echo "$KUBE_SCORE_VERSION" >"$BIN/kube-score.version"
fi

echo "checkov $CHECKOV_VERSION at $VENV/bin/checkov"
echo "kube-score $KUBE_SCORE_VERSION at $BIN/kube-score"

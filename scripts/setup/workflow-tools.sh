#!/usr/bin/env bash
# Installs the real tools the delivery-pipeline tests (test/unit/pipeline) run, all pinned:
#   - actionlint (Go module proxy), which checks .github/workflows, and shellcheck (Debian), which actionlint
#     runs on every `run:` step;
#   - gitleaks (Go module proxy; the module path is still github.com/zricethezav/gitleaks/v8), the secret scan;
#   - Artillery (npm), the load-test tool, in its own prefix under the cache: it is large (cloud SDKs,
#     Playwright) and only the load-test tests need it, so it stays out of the program's dependencies.
#     `--ignore-scripts` skips Playwright's browser download, which this project never uses;
#   - Mermaid with jsdom (npm), also in its own prefix, which .github/scripts/check-mermaid.mjs uses to parse the
#     diagrams of docs/.
# Idempotent: quick when the pinned versions are there. Binaries go to "$PAVEMASTER_CACHE/bin" (default
# ~/.cache/pavemaster/bin); the tests and the GitHub workflows find them there.
#
# WORKFLOW_TOOLS selects a subset, space-separated (default: all): "actionlint gitleaks artillery mermaid". The
# workflows install only what a job needs, so one place pins each version.
set -euo pipefail

ACTIONLINT_VERSION=v1.7.12
GITLEAKS_VERSION=v8.30.1
ARTILLERY_VERSION=2.0.34
MERMAID_VERSION=11.17.2
JSDOM_VERSION=25.0.1

CACHE="${PAVEMASTER_CACHE:-$HOME/.cache/pavemaster}"
BIN="$CACHE/bin"
mkdir -p "$BIN"
TOOLS=" ${WORKFLOW_TOOLS:-actionlint gitleaks artillery mermaid} "
want() { [[ "$TOOLS" == *" $1 "* ]]; }
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

# A pinned Go tool is recorded next to its binary ("<name>.version") so a version bump reinstalls it.
go_tool() {
  local name=$1 module=$2 version=$3
  if [ -x "$BIN/$name" ] && [ "$(cat "$BIN/$name.version" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "workflow-tools: Go is needed to build $name ($module@$version)" >&2
    exit 1
  fi
  echo "workflow-tools: building $name $version from the Go module proxy"
  GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "$module@$version"
  echo "$version" >"$BIN/$name.version"
}

installed=()
if want actionlint; then
  go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION"
  # jq: the workflow scripts use it, and so does the stand-in `gh` of the tests.
  if ! command -v shellcheck >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends shellcheck jq >/dev/null
  fi
  installed+=("actionlint $ACTIONLINT_VERSION" "$(shellcheck --version | sed -n 's/^version: /shellcheck /p')")
fi

if want gitleaks; then
  go_tool gitleaks github.com/zricethezav/gitleaks/v8 "$GITLEAKS_VERSION"
  installed+=("gitleaks $GITLEAKS_VERSION")
fi

if want artillery; then
  ARTILLERY_PREFIX="$CACHE/artillery-$ARTILLERY_VERSION"
  if [ ! -x "$ARTILLERY_PREFIX/node_modules/.bin/artillery" ]; then
    echo "workflow-tools: installing artillery@$ARTILLERY_VERSION"
    mkdir -p "$ARTILLERY_PREFIX"
    npm install --prefix "$ARTILLERY_PREFIX" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
      "artillery@$ARTILLERY_VERSION" >/dev/null
  fi
  ln -sfn "$ARTILLERY_PREFIX/node_modules/.bin/artillery" "$BIN/artillery"
  installed+=("artillery $ARTILLERY_VERSION")
fi

if want mermaid; then
  MERMAID_PREFIX="$CACHE/mermaid-$MERMAID_VERSION-jsdom-$JSDOM_VERSION"
  if [ ! -f "$MERMAID_PREFIX/node_modules/mermaid/package.json" ] || [ ! -f "$MERMAID_PREFIX/node_modules/jsdom/package.json" ]; then
    echo "workflow-tools: installing mermaid@$MERMAID_VERSION and jsdom@$JSDOM_VERSION"
    mkdir -p "$MERMAID_PREFIX"
    npm install --prefix "$MERMAID_PREFIX" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
      "mermaid@$MERMAID_VERSION" "jsdom@$JSDOM_VERSION" >/dev/null
  fi
  ln -sfn "$MERMAID_PREFIX" "$CACHE/mermaid"
  installed+=("mermaid $MERMAID_VERSION")
fi

echo "workflow-tools: $(IFS=,; echo "${installed[*]}")"

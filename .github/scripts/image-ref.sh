#!/usr/bin/env bash
# The digest-pinned reference of the image the build pushed: $REPOSITORY:$TAG@$DIGEST, written as `image` to
# $GITHUB_OUTPUT. Fails when the build returned no sha256 digest.
set -euo pipefail
: "${REPOSITORY:?REPOSITORY is not set}" "${TAG:?TAG is not set}"
digest=${DIGEST:-}
if ! [[ "$digest" =~ ^sha256:[a-f0-9]{64}$ ]]; then
  echo "the build returned no sha256 digest: '$digest'" >&2
  exit 1
fi
echo "image=$REPOSITORY:$TAG@$digest" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
echo "image-ref: $REPOSITORY:$TAG@$digest"

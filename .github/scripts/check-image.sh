#!/usr/bin/env bash
# Refuses an image reference that is not pinned by digest ("repository[:tag]@sha256:<64 hex>"): a release takes
# only what a build produced, byte for byte.
#
#   .github/scripts/check-image.sh <image>
set -euo pipefail
if [ "$#" -ne 1 ]; then
  echo "usage: $0 <image>" >&2
  exit 64
fi
if ! [[ "$1" =~ ^[a-z0-9][a-z0-9._/:-]*@sha256:[a-f0-9]{64}$ ]]; then
  echo "release takes only a digest-pinned image (repository:tag@sha256:...), not '$1'" >&2
  exit 1
fi
echo "image: $1"

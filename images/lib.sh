# shellcheck shell=bash
# Shared by scripts/images and scripts/registry (source it after scripts/env.sh). Builds and caches Go programs
# from the wrapper modules under images/, the way scripts/toolchain does: a binary is rebuilt only when its
# module (go.mod, go.sum, *.go), its build flags or the Go version change.
#
#   IMAGES_CACHE   $PAVEMASTER_CACHE/images: built binaries, root filesystems, Debian packages, the layer cache
#   images_tools   builds (or reuses) pm-image, registry, crane, pause and testbox; prints their folder

IMAGES_ROOT="$PAVEMASTER_ROOT/images"
IMAGES_CACHE="$PAVEMASTER_CACHE/images"
export GOWORK=off CGO_ENABLED=0
export GOFLAGS="-buildvcs=false -mod=readonly"

images_log() { printf '[images] %s\n' "$*" >&2; }

# `go env` once (each call costs a tenth of a second, and a warm run should take seconds).
IMAGES_GO_ID=""
images_go_id() {
  if [[ -z "$IMAGES_GO_ID" ]]; then
    IMAGES_GO_ID=$(go env GOVERSION GOOS GOARCH | tr '\n' ' ')
  fi
  echo "$IMAGES_GO_ID"
}

# images_fingerprint DIR EXTRA...: a short hash of a wrapper module's files, the Go version and EXTRA words.
images_fingerprint() {
  local dir="$1"; shift
  {
    echo "$* $(images_go_id)"
    (cd "$dir" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -not -path './.*' \
      | LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | cut -c1-16
}

# images_go_build NAME MODULE_DIR "LDFLAGS" "TAGS" PKG...: go build into $IMAGES_CACHE/bin/NAME-<fingerprint>/
# unless it is there already (content-addressed: checkouts at different versions share the cache without
# rebuilding each other's binaries); prints that folder. Fails with the build log's tail.
images_go_build() {
  local name="$1" dir="$2" ldflags="$3" tags="$4" fp out start log
  shift 4
  fp=$(images_fingerprint "$dir" "$name" "$ldflags" "$tags" "$@")
  out="$IMAGES_CACHE/bin/$name-$fp"
  if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$fp" ]]; then
    echo "$out"
    return 0
  fi
  command -v go >/dev/null || { images_log "Go is needed to build $name"; return 1; }
  start=$(date +%s)
  log="$IMAGES_CACHE/logs/$name.log"
  mkdir -p "$out.tmp" "$IMAGES_CACHE/logs"
  if ! (cd "$dir" && go build -trimpath ${tags:+-tags "$tags"} -ldflags "-s -w $ldflags" -o "$out.tmp/" "$@") \
    >"$log" 2>&1; then
    images_log "$name: BUILD FAILED, see $log"
    tail -n 20 "$log" >&2
    rm -rf "$out.tmp"
    return 1
  fi
  echo "$fp" >"$out.tmp/.stamp"
  rm -rf "$out"
  mv "$out.tmp" "$out"
  images_log "$name: built in $(($(date +%s) - start))s"
  echo "$out"
}

# The builder's own tools, from images/go (one module, one go build: they share compiled packages).
IMAGES_TOOLS_VERSION=1
images_tools() {
  images_go_build tools "$IMAGES_ROOT/go" "-X main.version=$IMAGES_TOOLS_VERSION" "" \
    ./cmd/pm-image ./cmd/pause ./cmd/testbox ./cmd/registry github.com/google/go-containerregistry/cmd/crane
}

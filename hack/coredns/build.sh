#!/usr/bin/env bash
# Builds the local cluster's CoreDNS (see main.go) into a cache directory
# keyed by this module's pins and the Go version, and copies it into
# bin/node, where `local up --real-nodes` finds its image binaries.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
key=$( { cat "$here/go.mod" "$here/go.sum" "$here/main.go" "$here/build.sh"; go env GOVERSION GOOS GOARCH; } | sha256sum | cut -c1-16)
cache=${RAGDEPLOY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ragdeploy}
dir="$cache/coredns/$key"
if [[ ! -x "$dir/coredns" ]]; then
  echo "building CoreDNS into $dir (once per pin change, ~40 s)" >&2
  mkdir -p "$dir"
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir/coredns.tmp" .)
  mv "$dir/coredns.tmp" "$dir/coredns"
fi
mkdir -p "$root/bin/node"
cp "$dir/coredns" "$root/bin/node/coredns"

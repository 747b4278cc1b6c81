#!/usr/bin/env bash
# Builds the local cluster's binaries (control plane, kwok, and kubelet and
# kube-proxy for real nodes) from the pins in this
# module's go.mod/go.sum into a cache directory keyed by those pins and the Go
# version, then points bin/cluster at it. A second run with the same pins is a
# no-op, so CI and developers pay the ~8 minute build once per pin change.
#
# Usage: hack/cluster/build.sh            build if needed, print the directory
#        hack/cluster/build.sh --print-dir print the directory only
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
key=$( { cat "$here/go.mod" "$here/go.sum" "$here/build.sh"; go env GOVERSION GOOS GOARCH; } | sha256sum | cut -c1-16)
cache=${RAGDEPLOY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ragdeploy}
dir="$cache/cluster-bin/$key"

if [[ "${1:-}" == "--print-dir" ]]; then
  echo "$dir"
  exit 0
fi

# kubelet and kube-proxy run the real nodes of `local up --real-nodes N`.
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubelet kube-proxy)
complete=1
for b in "${bins[@]}"; do [[ -x "$dir/$b" ]] || complete=0; done

if [[ $complete == 0 ]]; then
  echo "building control-plane binaries into $dir (once per pin change, ~8 min cold)" >&2
  tmp="$dir.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  k8s=$(cd "$here" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
  minor=$(echo "$k8s" | cut -d. -f2)
  ldflags="-s -w"
  for v in gitVersion=$k8s gitMajor=1 gitMinor=$minor gitTreeState=clean; do
    ldflags="$ldflags -X k8s.io/component-base/version.$v"
  done
  export CGO_ENABLED=0
  cd "$here"
  # Serial package builds keep peak memory well under the machine's limit.
  go build -p "${BUILD_PARALLELISM:-2}" -trimpath -ldflags "$ldflags" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy \
    sigs.k8s.io/kwok/cmd/kwok
  go build -p "${BUILD_PARALLELISM:-2}" -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
  rm -rf "$dir" && mv "$tmp" "$dir"
fi

mkdir -p "$root/bin"
ln -sfn "$dir" "$root/bin/cluster"
echo "$dir"

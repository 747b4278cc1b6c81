//go:build tools

// Package cluster pins the Kubernetes control-plane components that the local
// cluster runs. Nothing here is imported by ragdeploy itself: `make cluster-bin`
// builds the commands below from this module so their versions live in one
// go.mod/go.sum, and the cache key of the built binaries is derived from them.
package cluster

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "sigs.k8s.io/kwok/cmd/kwok"
)

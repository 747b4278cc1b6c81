package localcluster

import (
	"fmt"
	"path/filepath"
	"strconv"
)

func loopback(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// etcdArgs run a single-member etcd on loopback. fsync is off: the data
// lives only as long as the local cluster.
func etcdArgs(stateDir string, p ports) []string {
	client := "http://" + loopback(p.etcdClient)
	peer := "http://" + loopback(p.etcdPeer)
	return []string{
		"--name=local",
		"--data-dir=" + filepath.Join(stateDir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=local=" + peer,
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}
}

// apiserverArgs: client-certificate authentication only, Node and RBAC
// authorization, the default admission chain plus NodeRestriction
// (PodSecurity is part of the default chain). The endpoint reconciler is off
// because a loopback advertise address is refused by it.
func apiserverArgs(k pki, p ports) []string {
	return []string{
		"--etcd-servers=http://" + loopback(p.etcdClient),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(p.apiserver),
		"--tls-cert-file=" + k.path("apiserver.crt"),
		"--tls-private-key-file=" + k.path("apiserver.key"),
		"--client-ca-file=" + k.path("ca.crt"),
		"--requestheader-client-ca-file=" + k.path("front-proxy-ca.crt"),
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + k.path("front-proxy-client.crt"),
		"--proxy-client-key-file=" + k.path("front-proxy-client.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + k.path("sa.pub"),
		"--service-account-signing-key-file=" + k.path("sa.key"),
		"--service-cluster-ip-range=" + serviceCIDR,
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--anonymous-auth=false",
		"--profiling=false",
		"--event-ttl=1h",
	}
}

// componentAuthArgs are the flags shared by kube-controller-manager and
// kube-scheduler: their kubeconfig, delegated authn/authz of their own
// health endpoint, a loopback secure port and no leader election.
func componentAuthArgs(kubeconfig string, port int) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--leader-elect=false",
		// The defaults (20 QPS for the controller-manager) pace a burst of
		// many rollouts far below what the API server can take on loopback.
		"--kube-api-qps=200",
		"--kube-api-burst=400",
	}
}

// controllerManagerArgs run every controller that works without a cloud
// provider or kubelet, node-lifecycle (which lifts the not-ready taint of
// kwok nodes), the PV binder, and per-controller service-account credentials.
func controllerManagerArgs(k pki, p ports) []string {
	return append(componentAuthArgs(k.kubeconfig("kube-controller-manager"), p.controllerManager),
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+k.path("sa.key"),
		"--root-ca-file="+k.path("ca.crt"),
		"--cluster-name=ragdeploy-local",
		"--node-monitor-period=1s",
		// HPAs act within a second (upstream: 15 s), so tests and demos
		// see them without waiting.
		"--horizontal-pod-autoscaler-sync-period=1s",
		"--controllers=*",
	)
}

func schedulerArgs(k pki, p ports) []string {
	return componentAuthArgs(k.kubeconfig("kube-scheduler"), p.scheduler)
}

// kwokArgs manage the nodes created with the kwok annotation, with node
// leases so node-lifecycle keeps them Ready, and the stages in stagesPath.
func kwokArgs(k pki, p ports, stagesPath string) []string {
	return []string{
		"--kubeconfig=" + k.kubeconfig("kwok"),
		"--config=" + stagesPath,
		"--manage-nodes-with-annotation-selector=" + fmt.Sprintf("%s=%s", kwokNodeAnnotation, "fake"),
		"--node-lease-duration-seconds=40",
		"--cidr=" + podCIDR,
		"--server-address=" + loopback(p.kwok),
	}
}

// realNodeAPIServerArgs let the API server reach real kubelets (logs, exec,
// port-forward) by their InternalIP, never a name the host's DNS would be
// asked for, with a client certificate they trust, and only through the
// egress proxy into the nodes' network.
func realNodeAPIServerArgs(k pki, egressConfig string) []string {
	return []string{
		"--kubelet-client-certificate=" + k.path("apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + k.path("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority=" + k.path("ca.crt"),
		"--kubelet-preferred-address-types=InternalIP",
		"--egress-selector-config-file=" + egressConfig,
	}
}

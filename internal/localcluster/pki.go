package localcluster

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Identities the control plane authenticates with client certificates. The
// API server's RBAC bootstrap policy grants the system:kube-* users exactly
// what those components need; the admin and kwok belong to system:masters.
var clientIdentities = map[string]certRequest{
	"admin":                   {commonName: "ragdeploy-admin", organization: []string{"system:masters"}},
	"kube-controller-manager": {commonName: "system:kube-controller-manager"},
	"kube-scheduler":          {commonName: "system:kube-scheduler"},
	"kwok":                    {commonName: "kwok-controller", organization: []string{"system:masters"}},
}

// pki is where the generated key material lives in the state directory.
type pki struct {
	dir string
}

func (p pki) path(name string) string { return filepath.Join(p.dir, name) }

// kubeconfig is the path of the kubeconfig generated for a client identity.
func (p pki) kubeconfig(identity string) string { return p.path(identity + ".kubeconfig") }

// generatePKI creates a fresh CA, the API server's serving certificate, a
// client certificate and kubeconfig per identity, and the service-account
// signing keys. No static tokens or passwords are written. Each real node
// gets its identities too (see issueNodeIdentities); the CA key is never
// written, so nothing can be signed once this returns.
func generatePKI(dir, server string, nodes ...*realNode) (pki, error) {
	p := pki{dir: dir}
	ca, err := newAuthority("ragdeploy-local-ca")
	if err != nil {
		return p, err
	}
	serving, err := ca.issue(certRequest{
		commonName: "kube-apiserver",
		dnsNames: []string{
			"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local",
		},
		ips: []net.IP{net.IPv4(127, 0, 0, 1), net.ParseIP(serviceIP)},
	})
	if err != nil {
		return p, err
	}
	// The front-proxy CA lets the API server authenticate the aggregation
	// layer's requests and gives delegated authentication a request-header CA.
	frontProxyCA, err := newAuthority("ragdeploy-local-front-proxy-ca")
	if err != nil {
		return p, err
	}
	frontProxy, err := frontProxyCA.issue(certRequest{commonName: "front-proxy-client"})
	if err != nil {
		return p, err
	}
	saKey, saPub, err := serviceAccountKey()
	if err != nil {
		return p, err
	}
	files := map[string][]byte{
		"ca.crt":                 ca.certPEM,
		"apiserver.crt":          serving.certPEM,
		"apiserver.key":          serving.keyPEM,
		"front-proxy-ca.crt":     frontProxyCA.certPEM,
		"front-proxy-client.crt": frontProxy.certPEM,
		"front-proxy-client.key": frontProxy.keyPEM,
		"sa.key":                 saKey,
		"sa.pub":                 saPub,
	}
	if err := writeFiles(dir, files); err != nil {
		return p, err
	}
	for identity, req := range clientIdentities {
		kp, err := ca.issue(req)
		if err != nil {
			return p, err
		}
		if err := writeKubeconfig(p.kubeconfig(identity), server, "", ca.certPEM, kp); err != nil {
			return p, fmt.Errorf("kubeconfig for %s: %w", identity, err)
		}
	}
	if len(nodes) > 0 {
		if err := issueNodeIdentities(p, ca, nodes); err != nil {
			return p, err
		}
	}
	return p, nil
}

// issueNodeIdentities issues what real nodes and the API server need to
// talk to each other with proper identities: per node a kubelet client
// certificate (system:node:<name> in system:nodes, so the Node authorizer
// and NodeRestriction confine it to its own node), a kubelet serving
// certificate for the node's address, and a kube-proxy kubeconfig
// (system:kube-proxy, bound to system:node-proxier by the bootstrap policy);
// and the API server's client certificate for kubelets (logs, exec).
// Node kubeconfigs point at the API server forwarder inside the node's
// network; the serving certificate names "kubernetes", so they verify it
// under that name.
func issueNodeIdentities(p pki, ca *authority, nodes []*realNode) error {
	apiClient, err := ca.issue(certRequest{commonName: "kube-apiserver-kubelet-client", organization: []string{"system:masters"}})
	if err != nil {
		return err
	}
	files := map[string][]byte{"apiserver-kubelet-client.crt": apiClient.certPEM, "apiserver-kubelet-client.key": apiClient.keyPEM}
	for _, n := range nodes {
		server := "https://" + net.JoinHostPort(n.ip, strconv.Itoa(nodeAPIServerPort))
		for identity, req := range map[string]certRequest{
			n.name:                 {commonName: "system:node:" + n.name, organization: []string{"system:nodes"}},
			n.name + "-kube-proxy": {commonName: "system:kube-proxy"},
		} {
			kp, err := ca.issue(req)
			if err != nil {
				return err
			}
			if err := writeKubeconfig(p.kubeconfig(identity), server, "kubernetes", ca.certPEM, kp); err != nil {
				return fmt.Errorf("kubeconfig for %s: %w", identity, err)
			}
		}
		serving, err := ca.issue(certRequest{commonName: n.name, dnsNames: []string{n.name}, ips: []net.IP{net.ParseIP(n.ip)}})
		if err != nil {
			return err
		}
		files[n.name+"-kubelet.crt"], files[n.name+"-kubelet.key"] = serving.certPEM, serving.keyPEM
	}
	return writeFiles(p.dir, files)
}

// contextName names the cluster, user and context in every generated kubeconfig.
const contextName = "ragdeploy-local"

// writeKubeconfig writes a client-certificate kubeconfig; tlsServerName,
// when set, is the name the server's certificate is verified against.
func writeKubeconfig(path, server, tlsServerName string, caPEM []byte, kp keyPair) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[contextName] = &clientcmdapi.Cluster{Server: server, TLSServerName: tlsServerName, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[contextName] = &clientcmdapi.AuthInfo{ClientCertificateData: kp.certPEM, ClientKeyData: kp.keyPEM}
	cfg.Contexts[contextName] = &clientcmdapi.Context{Cluster: contextName, AuthInfo: contextName}
	cfg.CurrentContext = contextName
	return clientcmd.WriteToFile(*cfg, path)
}

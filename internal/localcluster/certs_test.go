package localcluster

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestGeneratePKI(t *testing.T) {
	dir := t.TempDir()
	const server = "https://127.0.0.1:6443"
	keys, err := generatePKI(dir, server)
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, name)) //nolint:gosec // G304: test fixture path
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	ca := parseCert(t, read("ca.crt"))
	if !ca.IsCA {
		t.Fatal("ca.crt is not a CA")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)

	t.Run("serving certificate", func(t *testing.T) {
		cert := parseCert(t, read("apiserver.crt"))
		for _, host := range []string{"127.0.0.1", "localhost", "kubernetes.default.svc", serviceIP} {
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				t.Errorf("serving certificate not valid for %s: %v", host, err)
			}
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.com"}); err == nil {
			t.Error("serving certificate valid for an unrelated host")
		}
	})

	t.Run("client identities", func(t *testing.T) {
		for identity, req := range clientIdentities {
			cfg, err := clientcmd.LoadFromFile(keys.kubeconfig(identity))
			if err != nil {
				t.Fatalf("%s: %v", identity, err)
			}
			ctx := cfg.Contexts[cfg.CurrentContext]
			if got := cfg.Clusters[ctx.Cluster].Server; got != server {
				t.Errorf("%s: server %q, want %q", identity, got, server)
			}
			auth := cfg.AuthInfos[ctx.AuthInfo]
			if auth.Token != "" || auth.Password != "" {
				t.Errorf("%s: kubeconfig carries a static token or password", identity)
			}
			cert := parseCert(t, auth.ClientCertificateData)
			if cert.Subject.CommonName != req.commonName || !slices.Equal(cert.Subject.Organization, req.organization) {
				t.Errorf("%s: subject %v, want CN=%s O=%v", identity, cert.Subject, req.commonName, req.organization)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("%s: client certificate does not verify against the CA: %v", identity, err)
			}
			if len(cert.DNSNames) > 0 || len(cert.IPAddresses) > 0 {
				t.Errorf("%s: client certificate has serving names", identity)
			}
		}
	})

	t.Run("service-account keys match", func(t *testing.T) {
		privBlock, _ := pem.Decode(read("sa.key"))
		priv, err := x509.ParsePKCS1PrivateKey(privBlock.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pubBlock, _ := pem.Decode(read("sa.pub"))
		pub, err := x509.ParsePKIXPublicKey(pubBlock.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if !priv.PublicKey.Equal(pub.(*rsa.PublicKey)) {
			t.Fatal("sa.pub is not the public half of sa.key")
		}
	})

	t.Run("key material is private", func(t *testing.T) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			info, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s has mode %v; want no group or other access", e.Name(), info.Mode().Perm())
			}
		}
	})
}

func TestFreePortsAreDistinctLoopbackPorts(t *testing.T) {
	ports, err := freePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] || p <= 0 {
			t.Fatalf("ports %v: want 6 distinct positive ports", ports)
		}
		seen[p] = true
		l, err := net.Listen("tcp", loopback(p))
		if err != nil {
			t.Fatalf("port %d not free after release: %v", p, err)
		}
		_ = l.Close()
	}
}

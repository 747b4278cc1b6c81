// Package secretstest is what tests need of the platform's secrets: the
// Secrets its charts read, those Secrets created in a namespace, fresh age
// identities, and SOPS-encrypted environment secrets files for them.
package secretstest

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
)

// PlatformSecrets are the Secrets the platform's charts read (Secret name ->
// the key holding its credential), as the README lists them.
var PlatformSecrets = map[string]string{
	"agentic-rag-postgresql": "password",
	"agentic-rag-redis":      "password",
	"agentic-rag-chromadb":   "token",
}

// Values are one distinct credential per platform Secret (Secret name ->
// value), naming the test (prefix) and the Secret, for tests that check no
// output ever contains one.
func Values(prefix string) map[string]string {
	out := map[string]string{}
	for name := range PlatformSecrets {
		out[name] = prefix + "-Secret-Value-" + strings.TrimPrefix(name, "agentic-rag-")
	}
	return out
}

// CreatePlatformSecrets creates PlatformSecrets in namespace ns, each
// holding value under its key.
func CreatePlatformSecrets(ctx context.Context, t testing.TB, c client.Client, ns, value string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(PlatformSecrets)) {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: map[string]string{PlatformSecrets[name]: value}}
		if err := c.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
}

// Identity writes a fresh age identity to dir/age.key (mode 0600) and
// returns its recipient and the key file's path.
func Identity(t testing.TB, dir string) (recipient, keyFile string) {
	t.Helper()
	keyFile = filepath.Join(dir, "age.key")
	recipient, err := envconfig.NewAgeIdentity(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return recipient, keyFile
}

// Encrypt writes secrets (Secret name -> key -> value) as an encrypted
// secrets file in a temporary directory, for a fresh age identity that
// SOPS_AGE_KEY_FILE then points at, and returns the file's path.
func Encrypt(t testing.TB, secrets map[string]map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	recipient, keyFile := Identity(t, dir)
	t.Setenv("SOPS_AGE_KEY_FILE", keyFile)
	plain := "secrets:\n"
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		plain += "  " + name + ":\n"
		for _, k := range slices.Sorted(maps.Keys(secrets[name])) {
			plain += "    " + k + ": " + secrets[name][k] + "\n"
		}
	}
	enc, err := envconfig.EncryptSecrets([]byte(plain), recipient)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "env.secrets.yaml")
	if err := os.WriteFile(file, enc, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

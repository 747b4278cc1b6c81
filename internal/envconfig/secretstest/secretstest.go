// Package secretstest writes SOPS-encrypted environment secrets files for
// tests, each for a fresh age identity that SOPS_AGE_KEY_FILE points at.
package secretstest

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"filippo.io/age"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
)

// Encrypt writes secrets (Secret name -> key -> value) as an encrypted
// secrets file in a temporary directory and returns its path.
func Encrypt(t testing.TB, secrets map[string]map[string]string) string {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "age.key")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOPS_AGE_KEY_FILE", keyFile)
	plain := "secrets:\n"
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		plain += "  " + name + ":\n"
		for _, k := range slices.Sorted(maps.Keys(secrets[name])) {
			plain += "    " + k + ": " + secrets[name][k] + "\n"
		}
	}
	enc, err := envconfig.EncryptSecrets([]byte(plain), id.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "env.secrets.yaml")
	if err := os.WriteFile(file, enc, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

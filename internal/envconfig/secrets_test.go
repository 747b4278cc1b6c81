package envconfig_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/envconfig/secretstest"
)

const plainSecrets = `secrets:
  agentic-rag-postgresql:
    password: pg-Very-Secret-1
  agentic-rag-redis:
    password: redis-Very-Secret-2
`

func TestSecretsRoundTrip(t *testing.T) {
	recipient, keyFile := secretstest.Identity(t, t.TempDir())
	enc, err := envconfig.EncryptSecrets([]byte(plainSecrets), recipient)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"pg-Very-Secret-1", "redis-Very-Secret-2"} {
		if strings.Contains(string(enc), v) {
			t.Fatalf("encrypted file contains %q", v)
		}
	}
	file := filepath.Join(t.TempDir(), "staging.secrets.yaml")
	if err := os.WriteFile(file, enc, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOPS_AGE_KEY_FILE", keyFile)
	data, err := envconfig.DecryptSecrets(file)
	if err != nil {
		t.Fatal(err)
	}
	if data["agentic-rag-postgresql"]["password"] != "pg-Very-Secret-1" || data["agentic-rag-redis"]["password"] != "redis-Very-Secret-2" {
		t.Fatalf("decrypted %d secrets with other values", len(data))
	}

	env := &envconfig.Environment{Name: "staging", Release: envconfig.Release{Name: "agentic-rag", Namespace: "ns"}}
	objs := env.SecretObjects(data)
	if len(objs) != 2 || objs[0].GetName() != "agentic-rag-postgresql" || objs[0].GetNamespace() != "ns" {
		t.Fatalf("secret objects: %v", objs)
	}
	got, _, _ := unstructured.NestedString(objs[0].Object, "data", "password")
	if raw, _ := base64.StdEncoding.DecodeString(got); string(raw) != "pg-Very-Secret-1" {
		t.Fatal("Secret data does not hold the decrypted value")
	}
	red := envconfig.Redact(objs[0])
	out, _ := yaml.Marshal(red.Object)
	if strings.Contains(string(out), got) || strings.Contains(string(out), "pg-Very-Secret-1") || !strings.Contains(string(out), "<redacted sha256:") {
		t.Fatalf("redacted Secret:\n%s", out)
	}
	if got2, _, _ := unstructured.NestedString(objs[0].Object, "data", "password"); got2 != got {
		t.Fatal("Redact modified its input")
	}
}

func TestSecretsWrongKeyIsAClearError(t *testing.T) {
	recipient, _ := secretstest.Identity(t, t.TempDir())
	_, otherKey := secretstest.Identity(t, t.TempDir())
	enc, err := envconfig.EncryptSecrets([]byte(plainSecrets), recipient)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "production.secrets.yaml")
	if err := os.WriteFile(file, enc, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOPS_AGE_KEY_FILE", otherKey)
	_, err = envconfig.DecryptSecrets(file)
	if err == nil {
		t.Fatal("decrypted with the wrong key")
	}
	msg := err.Error()
	for _, want := range []string{file, "SOPS_AGE_KEY_FILE", recipient} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %s:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "Very-Secret") {
		t.Errorf("error leaks a value:\n%s", msg)
	}
}

func TestExternalSecretsMode(t *testing.T) {
	env, err := envconfig.Parse("environments/production.yaml", []byte(`
release: {name: agentic-rag, namespace: prod}
secrets:
  external:
    storeRef: {kind: ClusterSecretStore, name: vault}
    refreshInterval: 1h
    secrets:
      agentic-rag-postgresql: {password: {key: rag/prod/postgresql, property: password}}
values: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	if env.SecretsFile() != "" {
		t.Fatal("external mode still reads a secrets file")
	}
	objs := env.SecretObjects(nil)
	if len(objs) != 1 || objs[0].GetKind() != "ExternalSecret" || objs[0].GetAPIVersion() != "external-secrets.io/v1" {
		t.Fatalf("objects: %v", objs)
	}
	out, _ := yaml.Marshal(objs[0].Object)
	for _, want := range []string{"name: vault", "kind: ClusterSecretStore", "secretKey: password", "key: rag/prod/postgresql", "property: password", "refreshInterval: 1h"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ExternalSecret lacks %q:\n%s", want, out)
		}
	}
}

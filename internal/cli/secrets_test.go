package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
)

// runIn is run with stdin.
func runIn(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Execute(context.Background(), Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}, args)
	return code, out.String(), errOut.String()
}

// TestSecretsKeygenAndSet: keygen writes an identity where SOPS looks (mode
// 0600, never overwriting) and prints its recipient; set creates the
// environment's secrets file for a recipient, then re-encrypts it in place
// for the same recipients; list shows fingerprints; no value is ever printed.
func TestSecretsKeygenAndSet(t *testing.T) {
	config := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", config)
	t.Setenv("SOPS_AGE_KEY_FILE", "")
	code, recipient, stderr := run(t, "secrets", "keygen")
	recipient = strings.TrimSpace(recipient)
	key := filepath.Join(config, "sops", "age", "keys.txt")
	if code != 0 || !strings.HasPrefix(recipient, "age1") || !strings.Contains(stderr, key) {
		t.Fatalf("keygen: exit %d, stdout %q, stderr %q", code, recipient, stderr)
	}
	info, err := os.Stat(key)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("identity file %s: %v, mode %v; want 0600", key, err, info.Mode())
	}
	before, _ := os.ReadFile(key) //nolint:gosec // G304: the test's own file
	if code, _, stderr := run(t, "secrets", "keygen"); code != 1 || !strings.Contains(stderr, "never overwritten") {
		t.Fatalf("second keygen: exit %d, %q; want a refusal", code, stderr)
	}
	if after, _ := os.ReadFile(key); !bytes.Equal(before, after) { //nolint:gosec // G304: the test's own file
		t.Fatal("the second keygen changed the identity file")
	}
	_ = os.Unsetenv("SOPS_AGE_KEY_FILE") // t.Setenv above restores it after the test

	dir := t.TempDir()
	env, err := os.ReadFile("../../environments/staging.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "staging.yaml"), env, 0o600); err != nil { //nolint:gosec // G703: the test's own temporary directory
		t.Fatal(err)
	}
	set := func(stdin string, args ...string) (int, string, string) {
		return runIn(t, stdin, append([]string{"secrets", "set", "--env", "staging", "--environments-dir", dir}, args...)...)
	}
	if code, _, stderr := set("pg-Value-1\n", "agentic-rag-postgresql", "password"); code != 1 || !strings.Contains(stderr, "--age-recipient") {
		t.Fatalf("set without a file or recipient: exit %d, %q", code, stderr)
	}
	code, stdout, stderr := set("pg-Value-1\n", "agentic-rag-postgresql", "password", "--age-recipient", recipient)
	if code != 0 || strings.Contains(stdout+stderr, "pg-Value-1") {
		t.Fatalf("set: exit %d, %q %q (a value must never show)", code, stdout, stderr)
	}
	file := filepath.Join(dir, "staging.secrets.yaml")
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v; want it created with mode 0600", err)
	}
	if code, _, stderr := set("chroma-Value-2", "agentic-rag-chromadb", "token"); code != 0 {
		t.Fatalf("set in the existing file: exit %d, %q", code, stderr)
	}
	data, err := envconfig.DecryptSecrets(file)
	if err != nil || data["agentic-rag-postgresql"]["password"] != "pg-Value-1" || data["agentic-rag-chromadb"]["token"] != "chroma-Value-2" {
		t.Fatalf("decrypted %d Secrets (err %v); want both values, the first kept", len(data), err)
	}
	if code, _, stderr := set("user-Value-3", "agentic-rag-redis", "username"); code != 0 {
		t.Fatalf("set of a key nothing reads: exit %d, %q", code, stderr)
	}
	code, stdout, _ = run(t, "secrets", "list", "--env", "staging", "--environments-dir", dir)
	// Each key the chart reads is listed with where it comes from: two from
	// the file (with the value's fingerprint), redis's password missing
	// from the file's redis Secret; the key nothing reads is listed too.
	for _, row := range []string{
		`agentic-rag-chromadb +token +secrets file +StatefulSet agentic-rag-chromadb +` + regexp.QuoteMeta(envconfig.Fingerprint([]byte("chroma-Value-2"))),
		`agentic-rag-postgresql +password +secrets file +StatefulSet agentic-rag-postgresql +<redacted sha256:[0-9a-f]{12}>`,
		`agentic-rag-redis +password +missing from staging.secrets.yaml +StatefulSet agentic-rag-redis +-`,
		`agentic-rag-redis +username +secrets file +- +<redacted sha256:[0-9a-f]{12}>`,
	} {
		if code != 0 || !regexp.MustCompile(`(?m)^`+row+`$`).MatchString(stdout) || strings.Contains(stdout, "Value") {
			t.Fatalf("list: exit %d; want a row %q:\n%s", code, row, stdout)
		}
	}
	for _, bad := range [][]string{{"Bad_Name", "password"}, {"agentic-rag-redis", "bad key!"}} {
		if code, _, stderr := set("x", bad...); code != 1 || !strings.Contains(stderr, "is not a Secret") {
			t.Errorf("set %v: exit %d, %q; want a clear refusal", bad, code, stderr)
		}
	}
	if code, _, stderr := set("", "agentic-rag-redis", "password"); code != 1 || !strings.Contains(stderr, "empty") {
		t.Errorf("set of an empty value: exit %d, %q", code, stderr)
	}

	// Another identity cannot decrypt it: the error says so in plain words.
	other := filepath.Join(t.TempDir(), "other.txt")
	if code, _, stderr := run(t, "secrets", "keygen", "--output-file", other); code != 0 {
		t.Fatal(stderr)
	}
	t.Setenv("SOPS_AGE_KEY_FILE", other)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // SOPS would find the first identity there too
	code, _, stderr = run(t, "secrets", "list", "--env", "staging", "--environments-dir", dir)
	want := "no age identity in " + other + " can decrypt " + file + ", which is encrypted for " + recipient
	if code != 1 || !strings.Contains(stderr, want) || strings.Contains(stderr, "data key") || strings.Contains(stderr, "sops") {
		t.Fatalf("list with a foreign identity: exit %d, %q; want %q and no SOPS internals", code, stderr, want)
	}
}

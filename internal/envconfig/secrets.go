package envconfig

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/cmd/sops/common"
	"github.com/getsops/sops/v3/cmd/sops/formats"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/decrypt"
	"github.com/getsops/sops/v3/version"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// SecretsConfig says where an environment's secrets come from: a
// SOPS-encrypted file (default <env>.secrets.yaml next to the environment
// file, when it exists) or, with external set, ExternalSecrets that the
// external-secrets operator resolves from a secret store. With generate
// (allowed by the development profile only), a Secret the chart reads that
// neither of those provides nor the namespace holds is created once with
// random values, and kept (see GeneratedSecret).
type SecretsConfig struct {
	File     string           `json:"file,omitempty"`
	External *ExternalSecrets `json:"external,omitempty"`
	Generate bool             `json:"generate,omitempty"`
}

// ExternalSecrets renders one external-secrets.io/v1 ExternalSecret per
// Secret instead of the Secret itself.
type ExternalSecrets struct {
	StoreRef        StoreRef `json:"storeRef"`
	RefreshInterval string   `json:"refreshInterval,omitempty"`
	// Secrets maps Secret name -> key -> where the store keeps the value.
	Secrets map[string]map[string]RemoteRef `json:"secrets"`
}

// StoreRef names a SecretStore or ClusterSecretStore.
type StoreRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// RemoteRef locates one value in the secret store.
type RemoteRef struct {
	Key      string `json:"key"`
	Property string `json:"property,omitempty"`
}

func (s SecretsConfig) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.External == nil {
		return nil
	}
	ext := p.Child("external")
	if s.File != "" {
		errs = append(errs, field.Forbidden(p.Child("file"), "secrets come from a file or an external store, not both"))
	}
	if k := s.External.StoreRef.Kind; k != "SecretStore" && k != "ClusterSecretStore" {
		errs = append(errs, field.NotSupported(ext.Child("storeRef", "kind"), k, []string{"SecretStore", "ClusterSecretStore"}))
	}
	if s.External.StoreRef.Name == "" {
		errs = append(errs, field.Required(ext.Child("storeRef", "name"), "the secret store to read from"))
	}
	if len(s.External.Secrets) == 0 {
		errs = append(errs, field.Required(ext.Child("secrets"), "the Secrets to create, e.g. agentic-rag-postgresql: {password: {key: db/password}}"))
	}
	for name, keys := range s.External.Secrets {
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			errs = append(errs, field.Invalid(ext.Child("secrets").Key(name), name, strings.Join(msgs, "; ")))
		}
		for k, ref := range keys {
			if ref.Key == "" {
				errs = append(errs, field.Required(ext.Child("secrets").Key(name).Key(k).Child("key"), "the key in the secret store"))
			}
		}
	}
	return errs
}

// SecretsFile is the SOPS file of the environment, or "" when it has none.
func (e *Environment) SecretsFile() string {
	if e.Secrets.External != nil {
		return ""
	}
	if f := e.Secrets.File; f != "" {
		if filepath.IsAbs(f) {
			return f
		}
		return filepath.Join(filepath.Dir(e.File), f)
	}
	p := filepath.Join(filepath.Dir(e.File), e.Name+".secrets.yaml")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// SecretData is decrypted secrets: Secret name -> key -> value. It is held
// in memory only.
type SecretData map[string]map[string]string

// secretsDocument is a decrypted secrets file.
type secretsDocument struct {
	Secrets SecretData `json:"secrets"`
}

// DecryptSecrets decrypts a SOPS file in memory with the age identities in
// SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY). Errors never include a value.
func DecryptSecrets(path string) (SecretData, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
	if err != nil {
		return nil, err
	}
	plain, err := decrypt.DataWithFormat(data, formats.Yaml)
	if err != nil {
		return nil, decryptError(path, data)
	}
	var doc secretsDocument
	if err := yaml.UnmarshalStrict(plain, &doc); err != nil {
		// The decoder's message may quote content; report the shape only.
		return nil, fmt.Errorf("%s: decrypted content is not `secrets: {<secret name>: {<key>: <string>}}`", path)
	}
	for name, keys := range doc.Secrets {
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			return nil, fmt.Errorf("%s: secrets.%s: not a valid Secret name: %s", path, name, strings.Join(msgs, "; "))
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("%s: secrets.%s: no keys", path, name)
		}
	}
	return doc.Secrets, nil
}

// decryptError says in plain words why path (content data) could not be
// decrypted, and what to do: SOPS's own errors name its internals.
func decryptError(path string, data []byte) error {
	rcpts := Recipients(data)
	if len(rcpts) == 0 {
		return fmt.Errorf("%s is not a SOPS file encrypted for age recipients (hint: create it with ragdeploy secrets encrypt or ragdeploy secrets set)", path)
	}
	where := "no age identity is set"
	if f := os.Getenv("SOPS_AGE_KEY_FILE"); f != "" {
		where = "no age identity in " + f
	} else if os.Getenv("SOPS_AGE_KEY") != "" {
		where = "no age identity in SOPS_AGE_KEY"
	} else if f := DefaultAgeKeyFile(); f != "" {
		if _, err := os.Stat(f); err == nil {
			where = "no age identity in " + f
		}
	}
	return fmt.Errorf("%s can decrypt %s, which is encrypted for %s (hint: set SOPS_AGE_KEY_FILE to the key file of one of them, or ask its owner to add yours with ragdeploy secrets set)",
		where, path, strings.Join(rcpts, ", "))
}

// NewAgeIdentity writes a new age identity to path (mode 0600, its
// directory made 0700 when missing), as age-keygen does, and returns its
// recipient. An existing file is never overwritten: the error then wraps
// os.ErrExist.
func NewAgeIdentity(path string) (string, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // G304: writes where its caller asked
	if err != nil {
		return "", err
	}
	content := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if _, err := f.WriteString(content); err != nil {
		_ = f.Close()
		return "", err
	}
	return id.Recipient().String(), f.Close()
}

// DefaultAgeKeyFile is where SOPS looks for age identities when neither
// SOPS_AGE_KEY_FILE nor SOPS_AGE_KEY is set ("" when there is no user
// config directory).
func DefaultAgeKeyFile() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			return ""
		}
	}
	return filepath.Join(dir, "sops", "age", "keys.txt")
}

// Recipients lists the age recipients a SOPS file is encrypted for.
func Recipients(data []byte) []string {
	var doc struct {
		Sops struct {
			Age []struct {
				Recipient string `json:"recipient"`
			} `json:"age"`
		} `json:"sops"`
	}
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	var out []string
	for _, a := range doc.Sops.Age {
		out = append(out, a.Recipient)
	}
	return out
}

// SetSecret sets key of Secret name to value in the SOPS file at path and
// re-encrypts the file in place (written to a temporary file, then renamed,
// mode 0600): for the recipients it is encrypted for, or, when the file
// does not exist yet, for newRecipients (comma-separated). Decrypting an
// existing file needs one of its identities (SOPS_AGE_KEY_FILE).
func SetSecret(path, name, key, value, newRecipients string) error {
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("%q is not a Secret name: %s", name, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsConfigMapKey(key); len(msgs) > 0 {
		return fmt.Errorf("%q is not a Secret key: %s", key, strings.Join(msgs, "; "))
	}
	if value == "" {
		return errors.New("the value (read from standard input) is empty")
	}
	data := SecretData{}
	rcpts := newRecipients
	raw, err := os.ReadFile(path) //nolint:gosec // G304: the environment's own secrets file
	switch {
	case err == nil:
		if data, err = DecryptSecrets(path); err != nil {
			return err
		}
		rcpts = strings.Join(Recipients(raw), ",")
	case errors.Is(err, os.ErrNotExist):
		if rcpts == "" {
			return fmt.Errorf("%s does not exist yet: name who may read it with --age-recipient (hint: ragdeploy secrets keygen prints yours)", path)
		}
	default:
		return err
	}
	if data[name] == nil {
		data[name] = map[string]string{}
	}
	data[name][key] = value
	plain, err := yaml.Marshal(secretsDocument{Secrets: data})
	if err != nil {
		return err
	}
	enc, err := EncryptSecrets(plain, rcpts)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secrets-*.yaml")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(enc); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// EncryptSecrets encrypts a plain secrets document (the SecretData shape
// under a top-level secrets key) for the comma-separated age recipients, as
// `sops --encrypt --age` does.
func EncryptSecrets(plain []byte, ageRecipients string) ([]byte, error) {
	var doc secretsDocument
	if err := yaml.UnmarshalStrict(plain, &doc); err != nil || len(doc.Secrets) == 0 {
		return nil, errors.New("a secrets file is `secrets: {<secret name>: {<key>: <string>}}`")
	}
	keys, err := sopsage.MasterKeysFromRecipients(ageRecipients)
	if err != nil {
		return nil, fmt.Errorf("age recipients: %w", err)
	}
	var group sops.KeyGroup
	for _, k := range keys {
		group = append(group, k)
	}
	store := common.StoreForFormat(formats.Yaml, config.NewStoresConfig())
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		return nil, err
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{KeyGroups: []sops.KeyGroup{group}, Version: version.Version}}
	dataKey, errs := tree.GenerateDataKey()
	if len(errs) > 0 {
		return nil, fmt.Errorf("generate data key: %v", errs)
	}
	if err := common.EncryptTree(common.EncryptTreeOpts{DataKey: dataKey, Tree: &tree, Cipher: aes.NewCipher()}); err != nil {
		return nil, err
	}
	return store.EmitEncryptedFile(tree)
}

// Labels on every Secret and ExternalSecret ragdeploy creates.
const (
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	ManagedBy        = "ragdeploy"
	LabelEnvironment = "ragdeploy.io/environment"
	// LabelGenerated marks a Secret whose values ragdeploy generated.
	LabelGenerated = "ragdeploy.io/generated"
)

// GeneratedSecret is Secret name in the environment's namespace holding a
// fresh random value (26 characters of base32, 130 bits, from crypto/rand)
// for each key. It carries the labels of the environment's other Secrets,
// so uninstall keeps it (and --purge-data deletes it), and is not part of any
// Helm release.
func (e *Environment) GeneratedSecret(name string, keys []string) *unstructured.Unstructured {
	data := map[string]any{}
	for _, k := range keys {
		data[k] = base64.StdEncoding.EncodeToString([]byte(rand.Text()))
	}
	labels := map[string]any{LabelManagedBy: ManagedBy, LabelEnvironment: e.Name, LabelGenerated: "true"}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": data,
		"metadata": map[string]any{"name": name, "namespace": e.Release.Namespace, "labels": labels},
	}}
}

// SecretObjects are the objects that carry the environment's secrets into
// the namespace: Secrets built from data, or ExternalSecrets in external
// mode. Sorted by name.
func (e *Environment) SecretObjects(data SecretData) []*unstructured.Unstructured {
	labels := map[string]any{LabelManagedBy: ManagedBy, LabelEnvironment: e.Name}
	meta := func(name string) map[string]any {
		return map[string]any{"name": name, "namespace": e.Release.Namespace, "labels": labels}
	}
	var out []*unstructured.Unstructured
	if ext := e.Secrets.External; ext != nil {
		for _, name := range slices.Sorted(maps.Keys(ext.Secrets)) {
			var entries []any
			for _, k := range slices.Sorted(maps.Keys(ext.Secrets[name])) {
				ref := map[string]any{"key": ext.Secrets[name][k].Key}
				if p := ext.Secrets[name][k].Property; p != "" {
					ref["property"] = p
				}
				entries = append(entries, map[string]any{"secretKey": k, "remoteRef": ref})
			}
			spec := map[string]any{
				"secretStoreRef": map[string]any{"kind": ext.StoreRef.Kind, "name": ext.StoreRef.Name},
				"target":         map[string]any{"name": name, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
				"data":           entries,
			}
			if ext.RefreshInterval != "" {
				spec["refreshInterval"] = ext.RefreshInterval
			}
			out = append(out, &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": meta(name), "spec": spec,
			}})
		}
		return out
	}
	for _, name := range slices.Sorted(maps.Keys(data)) {
		d := map[string]any{}
		for k, v := range data[name] {
			d[k] = base64.StdEncoding.EncodeToString([]byte(v))
		}
		out = append(out, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret", "metadata": meta(name), "type": "Opaque", "data": d,
		}})
	}
	return out
}

// Fingerprint stands in for a secret value wherever one would be shown:
// equal values have equal fingerprints, and the value cannot be read back.
func Fingerprint(value []byte) string {
	sum := sha256.Sum256(value)
	return "<redacted sha256:" + hex.EncodeToString(sum[:6]) + ">"
}

// Redact returns a copy of a Secret with every data and stringData value
// replaced by its fingerprint; other objects are returned as they are.
func Redact(u *unstructured.Unstructured) *unstructured.Unstructured {
	if u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return u
	}
	c := u.DeepCopy()
	for _, key := range []string{"data", "stringData"} {
		m, _, _ := unstructured.NestedMap(c.Object, key)
		for k, v := range m {
			s, _ := v.(string)
			raw := []byte(s)
			if key == "data" {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					raw = b
				}
			}
			m[k] = Fingerprint(raw)
		}
		if m != nil {
			_ = unstructured.SetNestedMap(c.Object, m, key)
		}
	}
	return c
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

func newSecretsCommand(streams Streams) *cobra.Command {
	cmd := &cobra.Command{Use: "secrets", Short: "Encrypt and inspect environment secrets files (SOPS, age)"}
	cmd.AddCommand(newSecretsEncryptCommand(streams), newSecretsListCommand(streams), newSecretsKeygenCommand(streams), newSecretsSetCommand(streams))
	return cmd
}

// secretsEncryptOptions encrypt a plain secrets file.
type secretsEncryptOptions struct {
	streams             Streams
	recipients, in, out string
}

func newSecretsEncryptCommand(streams Streams) *cobra.Command {
	o := &secretsEncryptOptions{streams: streams}
	cmd := &cobra.Command{
		Use:     "encrypt --age-recipient AGE1... [-f plain.yaml] [--output-file ENV.secrets.yaml]",
		Example: "  ragdeploy secrets encrypt --age-recipient age1... -f plain.yaml --output-file environments/staging.secrets.yaml",
		Short:   "Encrypt a secrets file for age recipients, as sops --encrypt --age does",
		Long: "Reads `secrets: {<Secret name>: {<key>: <value>}}` from -f (default stdin) and\n" +
			"writes the SOPS-encrypted file to --output-file (default stdout). Any sops binary can edit\n" +
			"the result; ragdeploy decrypts it in memory with SOPS_AGE_KEY_FILE.",
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&o.recipients, "age-recipient", "", "comma-separated age public keys")
	cmd.Flags().StringVarP(&o.in, "file", "f", "", "plain secrets file (default: stdin)")
	cmd.Flags().StringVar(&o.out, "output-file", "", "encrypted file to write (default: stdout)")
	return runs(cmd, o)
}

func (o *secretsEncryptOptions) Complete(*cobra.Command, []string) error { return nil }

func (o *secretsEncryptOptions) Validate() error {
	if o.recipients == "" {
		return errors.New("--age-recipient is required (hint: ragdeploy secrets keygen makes an identity and prints its recipient)")
	}
	return nil
}

func (o *secretsEncryptOptions) Run(context.Context) error {
	var plain []byte
	var err error
	if o.in == "" || o.in == "-" {
		plain, err = io.ReadAll(o.streams.In)
	} else {
		plain, err = os.ReadFile(o.in)
	}
	if err != nil {
		return err
	}
	enc, err := envconfig.EncryptSecrets(plain, o.recipients)
	if err != nil {
		return err
	}
	if o.out == "" || o.out == "-" {
		_, err = o.streams.Out.Write(enc)
		return err
	}
	return os.WriteFile(o.out, enc, 0o600) //nolint:gosec // G703: writes where the user asked (--output-file); the path is theirs to choose
}

// secretsListOptions list the Secrets and keys an environment needs.
type secretsListOptions struct {
	streams          Streams
	dir, env, output string
	// e is the environment (Complete).
	e *envconfig.Environment
}

func newSecretsListCommand(streams Streams) *cobra.Command {
	o := &secretsListOptions{streams: streams}
	cmd := &cobra.Command{
		Use:     "list --env ENV",
		Example: "  ragdeploy secrets list --env staging\n  ragdeploy secrets list --env production -o json",
		Short:   "List the Secrets and keys an environment needs, where each comes from, and value fingerprints (never values)",
		Args:    cobra.NoArgs,
	}
	bindEnv(cmd, &o.env, &o.dir, envRequired)
	bindOutput(cmd, &o.output)
	return runs(cmd, o)
}

func (o *secretsListOptions) Complete(*cobra.Command, []string) error {
	var err error
	o.e, err = loadEnvironment(o.dir, o.env)
	return err
}

func (o *secretsListOptions) Validate() error { return validateOutput(o.output) }

func (o *secretsListOptions) Run(ctx context.Context) error {
	e := o.e
	plan, err := release.Prepare(ctx, e, nil)
	if err != nil {
		return err
	}
	result := struct {
		File      string              `json:"file"`
		Source    string              `json:"source"`
		Namespace string              `json:"namespace"`
		Secrets   []release.SecretKey `json:"secrets"`
	}{File: e.SecretsFile(), Source: secretsSource(e), Namespace: e.Release.Namespace, Secrets: plan.SecretKeys()}
	if o.output != "text" {
		return printObject(o.streams.Out, o.output, result)
	}
	fmt.Fprintf(o.streams.Out, "%s: %s, in namespace %s\n", e.File, result.Source, result.Namespace)
	w := tabwriter.NewWriter(o.streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SECRET\tKEY\tFROM\tUSED BY\tFINGERPRINT")
	for _, k := range result.Secrets {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.Secret, k.Key, k.From, orNone(k.UsedBy), orNone(k.Fingerprint))
	}
	return w.Flush()
}

// secretsKeygenOptions create an age identity.
type secretsKeygenOptions struct {
	streams Streams
	out     string
}

func newSecretsKeygenCommand(streams Streams) *cobra.Command {
	o := &secretsKeygenOptions{streams: streams}
	cmd := &cobra.Command{
		Use:   "keygen [--output-file FILE]",
		Short: "Create an age identity (mode 0600) and print its recipient, as age-keygen does",
		Long: "Writes a new age identity to --output-file (default: where SOPS looks for one,\n" +
			"$XDG_CONFIG_HOME/sops/age/keys.txt) and prints its public key, the recipient\n" +
			"to give `secrets encrypt` and `secrets set`. An existing file is never overwritten.",
		Example: "  ragdeploy secrets keygen\n  ragdeploy secrets keygen --output-file ~/keys/staging.txt && export SOPS_AGE_KEY_FILE=~/keys/staging.txt",
		Args:    cobra.NoArgs,
	}
	cmd.Flags().StringVar(&o.out, "output-file", "", "file to write the identity to (default: SOPS's own location)")
	return runs(cmd, o)
}

// Complete defaults --output-file to SOPS's own location.
func (o *secretsKeygenOptions) Complete(*cobra.Command, []string) error {
	if o.out == "" {
		o.out = envconfig.DefaultAgeKeyFile()
	}
	return nil
}

func (o *secretsKeygenOptions) Validate() error {
	if o.out == "" {
		return errors.New("no user config directory to put the identity in (hint: pass --output-file FILE)")
	}
	return nil
}

func (o *secretsKeygenOptions) Run(context.Context) error {
	recipient, err := envconfig.NewAgeIdentity(o.out)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; it is never overwritten (hint: pass --output-file for a new file, or use the identity it holds)", o.out)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(o.streams.ErrOut, "age identity written to %s (keep it secret; SOPS finds it there", o.out)
	if o.out != envconfig.DefaultAgeKeyFile() {
		fmt.Fprintf(o.streams.ErrOut, " with SOPS_AGE_KEY_FILE=%s", o.out)
	}
	fmt.Fprintln(o.streams.ErrOut, "); its recipient:")
	fmt.Fprintln(o.streams.Out, recipient)
	return nil
}

// secretsSetOptions set one key in an environment's secrets file.
type secretsSetOptions struct {
	streams              Streams
	dir, env, recipients string
	secret, key          string
	// e and path are the environment and its secrets file (Complete).
	e    *envconfig.Environment
	path string
}

func newSecretsSetCommand(streams Streams) *cobra.Command {
	o := &secretsSetOptions{streams: streams}
	cmd := &cobra.Command{
		Use:   "set --env ENV SECRET KEY",
		Short: "Set one key of a Secret in an environment's secrets file (value from stdin), re-encrypting it in place",
		Long: "Reads the value from standard input (one trailing newline dropped), decrypts the\n" +
			"environment's secrets file, sets SECRET's KEY and encrypts it again for the same\n" +
			"recipients. A file that does not exist yet is created for --age-recipient.",
		Example: "  printf %s \"$PG_PASSWORD\" | ragdeploy secrets set --env staging agentic-rag-postgresql password\n" +
			"  ragdeploy secrets set --env staging agentic-rag-chromadb token --age-recipient age1... < token.txt",
		Args: cobra.ExactArgs(2),
	}
	bindEnv(cmd, &o.env, &o.dir, envRequired)
	cmd.Flags().StringVar(&o.recipients, "age-recipient", "", "comma-separated age public keys, for a file that does not exist yet")
	return runs(cmd, o)
}

func (o *secretsSetOptions) Complete(_ *cobra.Command, args []string) error {
	o.secret, o.key = args[0], args[1]
	var err error
	if o.e, err = loadEnvironment(o.dir, o.env); err != nil {
		return err
	}
	if o.path = o.e.SecretsFile(); o.path == "" {
		o.path = filepath.Join(filepath.Dir(o.e.File), o.e.Name+".secrets.yaml")
	}
	return nil
}

func (o *secretsSetOptions) Validate() error {
	if ext := o.e.Secrets.External; ext != nil {
		return fmt.Errorf("%s takes its secrets from the external store %s/%s; set them there", o.e.File, ext.StoreRef.Kind, ext.StoreRef.Name)
	}
	return nil
}

func (o *secretsSetOptions) Run(context.Context) error {
	value, err := io.ReadAll(io.LimitReader(o.streams.In, 1<<20))
	if err != nil {
		return err
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(value), "\n"), "\r")
	if err := envconfig.SetSecret(o.path, o.secret, o.key, v, o.recipients); err != nil {
		return err
	}
	fmt.Fprintf(o.streams.Out, "%s: set %s/%s %s\n", o.path, o.secret, o.key, envconfig.Fingerprint([]byte(v)))
	return nil
}

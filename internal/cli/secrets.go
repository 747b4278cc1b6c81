package cli

import (
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
	var recipients, in, out string
	encrypt := &cobra.Command{
		Use:     "encrypt --age-recipient AGE1... [-f plain.yaml] [--output-file ENV.secrets.yaml]",
		Example: "  ragdeploy secrets encrypt --age-recipient age1... -f plain.yaml --output-file environments/staging.secrets.yaml",
		Short:   "Encrypt a secrets file for age recipients, as sops --encrypt --age does",
		Long: "Reads `secrets: {<Secret name>: {<key>: <value>}}` from -f (default stdin) and\n" +
			"writes the SOPS-encrypted file to --output-file (default stdout). Any sops binary can edit\n" +
			"the result; ragdeploy decrypts it in memory with SOPS_AGE_KEY_FILE.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if recipients == "" {
				return errors.New("--age-recipient is required (hint: ragdeploy secrets keygen makes an identity and prints its recipient)")
			}
			var plain []byte
			var err error
			if in == "" || in == "-" {
				plain, err = io.ReadAll(streams.In)
			} else {
				plain, err = os.ReadFile(in) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
			}
			if err != nil {
				return err
			}
			enc, err := envconfig.EncryptSecrets(plain, recipients)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = streams.Out.Write(enc)
				return err
			}
			return os.WriteFile(out, enc, 0o600) //nolint:gosec // G703: writes where the user asked (--output-file); the path is theirs to choose
		},
	}
	encrypt.Flags().StringVar(&recipients, "age-recipient", "", "comma-separated age public keys")
	encrypt.Flags().StringVarP(&in, "file", "f", "", "plain secrets file (default: stdin)")
	encrypt.Flags().StringVar(&out, "output-file", "", "encrypted file to write (default: stdout)")

	var dir, env, output string
	list := &cobra.Command{
		Use:     "list --env ENV",
		Example: "  ragdeploy secrets list --env staging\n  ragdeploy secrets list --env production -o json",
		Short:   "List the Secrets and keys an environment needs, where each comes from, and value fingerprints (never values)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateOutput(output); err != nil {
				return err
			}
			e, err := loadEnvironment(dir, env)
			if err != nil {
				return err
			}
			plan, err := release.Prepare(cmd.Context(), e, nil)
			if err != nil {
				return err
			}
			result := struct {
				File      string              `json:"file"`
				Source    string              `json:"source"`
				Namespace string              `json:"namespace"`
				Secrets   []release.SecretKey `json:"secrets"`
			}{File: e.SecretsFile(), Source: secretsSource(e), Namespace: e.Release.Namespace, Secrets: plan.SecretKeys()}
			if output != "text" {
				return printObject(streams.Out, output, result)
			}
			fmt.Fprintf(streams.Out, "%s: %s, in namespace %s\n", e.File, result.Source, result.Namespace)
			w := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SECRET\tKEY\tFROM\tUSED BY\tFINGERPRINT")
			for _, k := range result.Secrets {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.Secret, k.Key, k.From, orNone(k.UsedBy), orNone(k.Fingerprint))
			}
			return w.Flush()
		},
	}
	bindEnv(list, &env, &dir, envRequired)
	bindOutput(list, &output)
	cmd.AddCommand(encrypt, list, newSecretsKeygenCommand(streams), newSecretsSetCommand(streams))
	return cmd
}

func newSecretsKeygenCommand(streams Streams) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen [--output-file FILE]",
		Short: "Create an age identity (mode 0600) and print its recipient, as age-keygen does",
		Long: "Writes a new age identity to --output-file (default: where SOPS looks for one,\n" +
			"$XDG_CONFIG_HOME/sops/age/keys.txt) and prints its public key, the recipient\n" +
			"to give `secrets encrypt` and `secrets set`. An existing file is never overwritten.",
		Example: "  ragdeploy secrets keygen\n  ragdeploy secrets keygen --output-file ~/keys/staging.txt && export SOPS_AGE_KEY_FILE=~/keys/staging.txt",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				if out = envconfig.DefaultAgeKeyFile(); out == "" {
					return errors.New("no user config directory to put the identity in (hint: pass --output-file FILE)")
				}
			}
			recipient, err := envconfig.NewAgeIdentity(out)
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s exists; it is never overwritten (hint: pass --output-file for a new file, or use the identity it holds)", out)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.ErrOut, "age identity written to %s (keep it secret; SOPS finds it there", out)
			if out != envconfig.DefaultAgeKeyFile() {
				fmt.Fprintf(streams.ErrOut, " with SOPS_AGE_KEY_FILE=%s", out)
			}
			fmt.Fprintln(streams.ErrOut, "); its recipient:")
			fmt.Fprintln(streams.Out, recipient)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "output-file", "", "file to write the identity to (default: SOPS's own location)")
	return cmd
}

func newSecretsSetCommand(streams Streams) *cobra.Command {
	var dir, env, recipients string
	cmd := &cobra.Command{
		Use:   "set --env ENV SECRET KEY",
		Short: "Set one key of a Secret in an environment's secrets file (value from stdin), re-encrypting it in place",
		Long: "Reads the value from standard input (one trailing newline dropped), decrypts the\n" +
			"environment's secrets file, sets SECRET's KEY and encrypts it again for the same\n" +
			"recipients. A file that does not exist yet is created for --age-recipient.",
		Example: "  printf %s \"$PG_PASSWORD\" | ragdeploy secrets set --env staging agentic-rag-postgresql password\n" +
			"  ragdeploy secrets set --env staging agentic-rag-chromadb token --age-recipient age1... < token.txt",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := loadEnvironment(dir, env)
			if err != nil {
				return err
			}
			if e.Secrets.External != nil {
				return fmt.Errorf("%s takes its secrets from the external store %s/%s; set them there", e.File, e.Secrets.External.StoreRef.Kind, e.Secrets.External.StoreRef.Name)
			}
			path := e.SecretsFile()
			if path == "" {
				path = filepath.Join(filepath.Dir(e.File), e.Name+".secrets.yaml")
			}
			value, err := io.ReadAll(io.LimitReader(streams.In, 1<<20))
			if err != nil {
				return err
			}
			v := strings.TrimSuffix(strings.TrimSuffix(string(value), "\n"), "\r")
			if err := envconfig.SetSecret(path, args[0], args[1], v, recipients); err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "%s: set %s/%s %s\n", path, args[0], args[1], envconfig.Fingerprint([]byte(v)))
			return nil
		},
	}
	bindEnv(cmd, &env, &dir, envRequired)
	cmd.Flags().StringVar(&recipients, "age-recipient", "", "comma-separated age public keys, for a file that does not exist yet")
	return cmd
}

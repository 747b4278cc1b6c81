package cli

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
)

func newSecretsCommand(streams Streams) *cobra.Command {
	cmd := &cobra.Command{Use: "secrets", Short: "Encrypt and inspect environment secrets files (SOPS, age)"}
	var recipients, in, out string
	encrypt := &cobra.Command{
		Use:   "encrypt --age-recipient AGE1... [-f plain.yaml] [-o ENV.secrets.yaml]",
		Short: "Encrypt a secrets file for age recipients, as sops --encrypt --age does",
		Long: "Reads `secrets: {<Secret name>: {<key>: <value>}}` from -f (default stdin) and\n" +
			"writes the SOPS-encrypted file to -o (default stdout). Any sops binary can edit\n" +
			"the result; ragdeploy decrypts it in memory with SOPS_AGE_KEY_FILE.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if recipients == "" {
				return errors.New("--age-recipient is required (hint: age-keygen -y key.txt prints it)")
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
			return os.WriteFile(out, enc, 0o600) //nolint:gosec // G703: writes where the user asked (-o); the path is theirs to choose
		},
	}
	encrypt.Flags().StringVar(&recipients, "age-recipient", "", "comma-separated age public keys")
	encrypt.Flags().StringVarP(&in, "file", "f", "", "plain secrets file (default: stdin)")
	encrypt.Flags().StringVarP(&out, "output", "o", "", "encrypted file to write (default: stdout)")

	var dir, env string
	list := &cobra.Command{
		Use:   "list --env ENV",
		Short: "List an environment's Secrets and keys with value fingerprints (never values)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := loadEnvironment(dir, env)
			if err != nil {
				return err
			}
			f := e.SecretsFile()
			if f == "" {
				fmt.Fprintf(streams.Out, "%s: no secrets file (%s)\n", e.File, secretsSource(e))
				return nil
			}
			data, err := envconfig.DecryptSecrets(f)
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "%s:\n", f)
			for _, name := range slices.Sorted(maps.Keys(data)) {
				for _, k := range slices.Sorted(maps.Keys(data[name])) {
					fmt.Fprintf(streams.Out, "  %s/%s %s\n", name, k, envconfig.Fingerprint([]byte(data[name][k])))
				}
			}
			return nil
		},
	}
	list.Flags().StringVarP(&env, "env", "e", "", "environment name or file")
	bindEnvironmentsDir(list, &dir)
	_ = list.MarkFlagRequired("env")
	cmd.AddCommand(encrypt, list)
	return cmd
}

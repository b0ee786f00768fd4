package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline"
)

func newKeygenCmd() *cobra.Command {
	var party, dir, origin, rotate, from string
	cmd := &cobra.Command{
		Use:   "keygen --party ID --dir DIR [--origin ORIGIN] | keygen --rotate ROLE --from DIR --dir NEWDIR",
		Short: "Generate a party's keys, or a new key in one role",
		Long: `keygen generates the five keys of a party (docs/DESIGN.md §4) into DIR: the root key,
which signs the party's directory entry and should then be kept offline (with
next-root.key, the pre-rotation key the agreement commits to, which replaces
a lost root: keep the two apart); the
message key; the HPKE encryption key (ML-KEM-768 + X25519); the checkpoint key,
named for the log origin (default hotline/<ID>); and the witness key. Private
keys are written one per file, mode 0600; the public keys go to public.keys,
and to standard output.

With --rotate ROLE, keygen reads the key set in --from, replaces the key of
that role (message, encryption, checkpoint or witness) with a new one,
and writes the whole set to a new directory --dir, leaving --from as it was:
the node keeps old encryption keys until every message sealed to them is open.
Then sign a new directory entry with the new directory
("hotline agreement sign-entry --keys NEWDIR").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{fmt.Errorf("--dir is required")}
			}
			var ks *hotline.KeySet
			switch {
			case rotate != "":
				if from == "" || party != "" {
					return usageError{fmt.Errorf("--rotate takes --from (the current keys) and --dir, not --party")}
				}
				var err error
				if ks, err = rotateKey(from, hotline.KeyRole(rotate), origin); err != nil {
					return err
				}
			default:
				if party == "" {
					return usageError{fmt.Errorf("--party is required")}
				}
				if from != "" {
					return usageError{fmt.Errorf("--from goes with --rotate")}
				}
				var err error
				if ks, err = hotline.GenerateKeySet(party, origin); err != nil {
					return err
				}
				if err := ks.GenerateNextRoot(); err != nil {
					return err
				}
			}
			if err := ks.Save(dir); err != nil {
				return err
			}
			pub, err := os.ReadFile(filepath.Join(dir, hotline.PublicKeysFile))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote the keys of %s to %s (private keys mode 0600; keep root.key offline once the entry is signed)\n", ks.Party, dir)
			_, err = cmd.OutOrStdout().Write(pub)
			return err
		},
	}
	cmd.Flags().StringVar(&party, "party", "", "the party id (e.g. BER)")
	cmd.Flags().StringVar(&dir, "dir", "", "the directory to write the keys to; must not hold keys already")
	cmd.Flags().StringVar(&origin, "origin", "", "the log origin, which names the checkpoint key (default hotline/<party>)")
	cmd.Flags().StringVar(&rotate, "rotate", "", "replace the key of this role: message, encryption, checkpoint or witness (a root: hotline agreement rotate-root)")
	cmd.Flags().StringVar(&from, "from", "", "with --rotate: the directory of the current keys")
	return cmd
}

// rotateKey loads the key set in dir and replaces the key in role.
func rotateKey(dir string, role hotline.KeyRole, origin string) (*hotline.KeySet, error) {
	if !slices.Contains(hotline.KeyRoles(), role) {
		return nil, usageError{fmt.Errorf("--rotate %q: want one of message, encryption, checkpoint, witness, root", role)}
	}
	if origin != "" && role != hotline.RoleCheckpoint {
		return nil, usageError{fmt.Errorf("--origin goes with --rotate checkpoint")}
	}
	ks, err := hotline.LoadKeySet(dir)
	if err != nil {
		return nil, err
	}
	p := ks.Party
	switch role {
	case hotline.RoleRoot:
		return nil, usageError{fmt.Errorf("a root key changes only by a root statement: hotline agreement rotate-root --keys %s --dir NEWDIR", dir)}
	case hotline.RoleMessage:
		ks.Message, err = hotline.GenerateSigningKey(hotline.KeyName(p, hotline.RoleMessage), false)
	case hotline.RoleEncryption:
		ks.Encryption, err = hotline.GenerateEncryptionKey(hotline.KeyName(p, hotline.RoleEncryption))
	case hotline.RoleCheckpoint:
		if origin == "" {
			origin = ks.Origin()
		}
		ks.Checkpoint, err = hotline.GenerateSigningKey(origin, false)
	case hotline.RoleWitness:
		ks.Witness, err = hotline.GenerateSigningKey(hotline.KeyName(p, hotline.RoleWitness), true)
	}
	if err != nil {
		return nil, err
	}
	return ks, nil
}

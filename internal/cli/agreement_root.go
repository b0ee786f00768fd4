package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

func newAgreementRotateRootCmd() *cobra.Command {
	var keys, dir, out string
	var lost bool
	cmd := &cobra.Command{
		Use:   "rotate-root --keys DIR --dir NEWDIR [--lost] [--out FILE]",
		Short: "Replace the party's root key, by a root statement only the party can sign",
		Long: `rotate-root makes the party's pre-rotation key (next-root.key in --keys, which
the agreement commits to) its new root key, and a fresh pre-rotation key its
next, in a hotline-root/v1 statement. Nobody else can: not the depositary,
not a version of the terms, not a draft.

The statement is signed by the current root key (root.key) and the new one.
With --lost, the current root key is gone: the statement is signed by the
pre-rotation key alone, which proves the party by matching the commitment.

The new key set (root.key and next-root.key replaced, the other keys as
they were) is written to the new directory --dir; keep root.key and
next-root.key offline, apart from each other. The statement is added to
the agreement file, or with --out written to FILE for others to merge.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keys == "" || dir == "" {
				return usageError{fmt.Errorf("--keys and --dir are required")}
			}
			path := agreementPath(cmd)
			a, err := readAgreement(path)
			if err != nil {
				return err
			}
			ks, err := hotline.LoadKeySet(keys)
			if err != nil {
				return err
			}
			if ks.NextRoot == nil {
				return fmt.Errorf("%s holds no pre-rotation key (next-root.key)", keys)
			}
			cur, next, err := a.Root(ks.Party)
			if err != nil {
				return coded(err)
			}
			if agreement.RootCommitment(ks.NextRoot.VerifierKey()) != next {
				return fmt.Errorf("bad_rotation: the pre-rotation key in %s is not the one the agreement commits %s to", keys, ks.Party)
			}
			method := agreement.RootRotation
			signers := []*hotline.SigningKey{ks.NextRoot}
			switch {
			case lost:
				method = agreement.RootPreRotation
			case ks.Root == nil:
				return fmt.Errorf("%s holds no root key (root.key); if it is lost, use --lost", keys)
			case ks.Root.VerifierKey() != cur:
				return fmt.Errorf("key_mismatch: the agreement has %s as %s's root key, not the one in %s", shortKey(cur), ks.Party, keys)
			default:
				signers = []*hotline.SigningKey{ks.Root, ks.NextRoot}
			}
			nks := *ks
			nks.Root = ks.NextRoot
			if err := nks.GenerateNextRoot(); err != nil {
				return err
			}
			s, err := a.NextRootStatement(ks.Party, method, nks.Root.VerifierKey(), agreement.RootCommitment(nks.NextRoot.VerifierKey()), now())
			if err != nil {
				return coded(err)
			}
			var note []byte
			if len(signers) == 2 {
				note, err = agreement.SignRoot(s, signers[0], signers[1])
			} else {
				note, err = agreement.SignRoot(s, signers[0])
			}
			if err != nil {
				return coded(err)
			}
			b, err := a.With(note)
			if err != nil {
				return coded(err)
			}
			// The keys first: a statement without its keys would lock the
			// party out of its own root.
			if err := nks.Save(dir); err != nil {
				return err
			}
			if out != "" {
				if err := writeNew(out, note); err != nil {
					return err
				}
			} else if err := writeAgreement(path, b); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "root statement %s/%d (%s): %s's root key is now %s\n", s.Party, s.Sequence, s.Method, s.Party, shortKey(s.Root))
			fmt.Fprintf(w, "new keys in %s; keep root.key and next-root.key offline, apart from each other\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&keys, "keys", "", "the party's key directory (with root.key and next-root.key)")
	cmd.Flags().StringVar(&dir, "dir", "", "the new key directory to write")
	cmd.Flags().BoolVar(&lost, "lost", false, "the root key is lost: sign with the pre-rotation key alone")
	cmd.Flags().StringVar(&out, "out", "", "write the statement to this file instead of adding it to the agreement")
	return cmd
}

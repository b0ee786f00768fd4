package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

func newAgreementSignEntryCmd() *cobra.Command {
	var keys, out, at, revokedAt string
	var endpoints, revoke []string
	var reconfirm bool
	var protocols []uint
	var cf contactFlags
	cmd := &cobra.Command{
		Use:   "sign-entry --keys DIR [--endpoint URL]... [--contact SPEC]... [--out FILE]",
		Short: "Sign the party's next directory entry with its root key",
		Long: `sign-entry builds the party's next directory entry from the keys in --keys and
signs it with the party's root key. The entry carries over the history of the
party's keys, its endpoints, its protocol versions and its contacts from its
latest entry in the agreement file (if there is one); --endpoint, --protocols
and --contact replace them. A first entry lists the protocol versions this
hotline speaks; after upgrading the party's node, --protocols 1,2 announces
version 2, so that peers sign their requests to it in version 2 and it stops
taking version 1 requests in the name of parties that list 2.

A key in --keys that differs from the one its role has replaces it: the old
key ends at --at (default now) and the new one starts then. With --revoke
ROLE, the old key is revoked instead, from --revoked-at (default --at), which
may lie in the past: a compromised key. --reconfirm records that every contact
was just checked.

With --out, the signed entry is written to FILE, to be sent to the depositary
(to join: hotline agreement add-party) or merged by anyone (hotline agreement
merge); without it, the entry is added to the agreement file. No other
party's consent is needed, nor the depositary's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ks, err := loadSigningKeys(keys)
			if err != nil {
				return err
			}
			path := agreementPath(cmd)
			var a *agreement.Agreement
			if _, err := os.Stat(path); err == nil {
				if a, err = readAgreement(path); err != nil {
					return err
				}
			} else if !errors.Is(err, fs.ErrNotExist) || out == "" {
				return fmt.Errorf("%w; to join an agreement, write the entry to a file with --out and send it to the depositary", err)
			}
			var prev *agreement.SignedEntry
			if a != nil {
				if es, err := a.Entries(ks.Party); err == nil {
					prev = es[len(es)-1]
				}
			}
			issued := now()
			atT, err := parseTime("at", at, issued)
			if err != nil {
				return err
			}
			revokedT, err := parseTime("revoked-at", revokedAt, time.Time{})
			if err != nil {
				return err
			}
			var roles []hotline.KeyRole
			for _, r := range revoke {
				role := hotline.KeyRole(r)
				if !slices.Contains(hotline.KeyRoles(), role) || role == hotline.RoleRoot {
					return usageError{fmt.Errorf("--revoke %q: want message, encryption, checkpoint or witness", r)}
				}
				roles = append(roles, role)
			}
			contacts, err := cf.contacts()
			if err != nil {
				return err
			}
			if prev == nil && (len(endpoints) == 0 || len(contacts) == 0) {
				return usageError{fmt.Errorf("a party's first entry needs --endpoint and --contact (or --contacts)")}
			}
			var ps []uint64
			for _, v := range protocols {
				ps = append(ps, uint64(v))
			}
			if ps == nil && prev == nil {
				ps = hotline.Protocols
			}
			e, err := agreement.NextEntry(prev, agreement.EntryUpdate{
				Protocols: ps,
				Keys:      ks.Public(), Issued: issued, At: atT, Revoke: roles, RevokedAt: revokedT,
				Endpoints: endpoints, Contacts: contacts, Reconfirm: reconfirm,
			})
			if err != nil {
				return coded(err)
			}
			note, err := agreement.SignEntry(e, ks.Root)
			if err != nil {
				return coded(err)
			}
			w := cmd.OutOrStdout()
			if out != "" {
				if err := writeNew(out, note); err != nil {
					return err
				}
				fmt.Fprintf(w, "signed entry %s/%d, written to %s\n", e.Party, e.Sequence, out)
			} else {
				b, err := a.With(note)
				if err != nil {
					return coded(err)
				}
				if err := writeAgreement(path, b); err != nil {
					return err
				}
				fmt.Fprintf(w, "signed entry %s/%d, added to %s\n", e.Party, e.Sequence, path)
			}
			printKeys(w, e.Keys, time.Time{})
			return nil
		},
	}
	cmd.Flags().StringVar(&keys, "keys", "", "the party's key directory (with its root key)")
	cmd.Flags().StringVar(&out, "out", "", "write the signed entry to this file instead of adding it to the agreement")
	cmd.Flags().StringArrayVar(&endpoints, "endpoint", nil, "a base URL of the party's node (repeatable, in order of preference)")
	cmd.Flags().StringVar(&at, "at", "", "when replaced keys change over (default now; not in the past)")
	cmd.Flags().StringArrayVar(&revoke, "revoke", nil, "revoke the replaced key of this role as compromised (repeatable)")
	cmd.Flags().StringVar(&revokedAt, "revoked-at", "", "from when the revoked keys are invalid (default --at; may be in the past)")
	cmd.Flags().BoolVar(&reconfirm, "reconfirm", false, "mark every contact as reconfirmed now")
	cmd.Flags().UintSliceVar(&protocols, "protocols", nil, "the protocol versions the party's node speaks, ascending (default: the latest entry's; a first entry's: this hotline's, 1,2)")
	cf.register(cmd)
	return cmd
}

// printKeys lists keys with their validity; with a non-zero at, it marks
// the ones valid then.
func printKeys(w io.Writer, keys []agreement.Key, at time.Time) {
	for _, k := range keys {
		validity := "from " + hotline.FormatTime(k.ValidFrom)
		if !k.ValidUntil.IsZero() {
			validity += " until " + hotline.FormatTime(k.ValidUntil)
		}
		if !k.Revoked.IsZero() {
			validity += " revoked " + hotline.FormatTime(k.Revoked)
		}
		mark := ""
		if !at.IsZero() && k.ValidAt(at) {
			mark = "  (valid)"
		}
		fmt.Fprintf(w, "  %-10s %s  %s%s\n", k.Role, shortKey(k.Key), validity, mark)
	}
}

// shortKey returns a key's name and hash, "BER+1a2b3c4d", without the key
// material (an encryption key is 1.6 kB of base64).
func shortKey(k string) string {
	parts := strings.SplitN(k, "+", 3)
	if len(parts) < 2 {
		return k
	}
	return parts[0] + "+" + parts[1]
}

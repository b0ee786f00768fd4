package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

func newAgreementCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agreement",
		Short: "Build, sign, ratify, verify and show the agreement",
		Long: `The agreement (agreement/FORMAT.md) holds the treaty terms in their versions,
issued by the depositary; each party's ratifications; and each party's
directory entry, signed by that party's own root key, and root statements
(a party's replacement of its root key). Nobody ever hands
private keys to anyone: each step runs where the keys are.

  depositary:  hotline keygen --party DEP --dir dep
               hotline agreement new --keys dep --name ... --endpoint URL --contact ...
  each party:  hotline keygen --party BER --dir ber
               hotline agreement sign-entry --keys ber --endpoint URL --contact ... --out ber.entry
  depositary:  hotline agreement add-party --entry ber.entry --public-keys ber/public.keys --name ...
               hotline agreement sign --keys dep
  each party:  hotline agreement ratify --keys ber   (or --out, and the depositary merges)
  anyone:      hotline agreement verify; hotline agreement show

A party rotates or revokes its keys alone: hotline keygen --rotate, then
hotline agreement sign-entry with the new keys; anyone merges the entry.
Its root key, fixed by the version that admitted it, changes only by the
party's own root statement: hotline agreement rotate-root.

At runtime, a party puts a new entry, root statement, version or
ratification in force at its own running node with hotline agreement
publish --dir NODE_DIR FILE; the nodes' heartbeats bring it to every peer.
hotline agreement status --dir NODE_DIR shows the chain a node holds.`,
	}
	cmd.PersistentFlags().StringP("agreement", "a", "agreement.json", "the agreement file")
	cmd.AddCommand(
		newAgreementNewCmd(),
		newAgreementSignEntryCmd(),
		newAgreementAddPartyCmd(),
		newAgreementSignCmd(),
		newAgreementRatifyCmd(),
		newAgreementMergeCmd(),
		newAgreementRotateRootCmd(),
		newAgreementVerifyCmd(),
		newAgreementShowCmd(),
		newAgreementPublishCmd(),
		newAgreementStatusCmd(),
	)
	return cmd
}

// agreementPath returns the --agreement flag.
func agreementPath(cmd *cobra.Command) string {
	p, _ := cmd.Flags().GetString("agreement")
	return p
}

// coded adds an error's stable code to its message, so that scripts and
// people see both: "bad_signature: entry BER/2: ...".
func coded(err error) error {
	if err == nil {
		return nil
	}
	if c := agreement.ErrorCode(err); c != "" && !strings.Contains(err.Error(), c) {
		return fmt.Errorf("%s: %w", c, err)
	}
	return err
}

// readAgreement parses the agreement file at path and verifies every
// signature it holds.
func readAgreement(path string) (*agreement.Agreement, error) {
	b, err := readFileLimit(path, agreement.MaxSize)
	if err != nil {
		return nil, err
	}
	a, err := agreement.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, coded(err))
	}
	if len(a.Versions()) > 0 {
		if err := a.Verify(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, coded(err))
		}
	}
	return a, nil
}

func readFileLimit(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// writeAgreement writes a to path atomically: a reader sees the old file or
// the new one, never half of one.
func writeAgreement(path string, a *agreement.Agreement) error {
	return writeFileAtomic(path, a.Marshal(), 0o644)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeNew writes data to path, refusing to overwrite a file.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// loadSigningKeys loads a key set that must hold its root key.
func loadSigningKeys(dir string) (*hotline.KeySet, error) {
	ks, err := hotline.LoadKeySet(dir)
	if err != nil {
		return nil, err
	}
	if ks.Root == nil {
		return nil, fmt.Errorf("%s holds no root key (root.key); this step needs the party's root key", dir)
	}
	return ks, nil
}

// readPublicKeys parses a public.keys file: "party <id>" then
// "<role> <key>" lines.
func readPublicKeys(path string) (hotline.PublicKeys, error) {
	var pk hotline.PublicKeys
	b, err := readFileLimit(path, 64<<10)
	if err != nil {
		return pk, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			return pk, fmt.Errorf("%s:%d: want \"<role> <key>\"", path, n)
		}
		v = strings.TrimSpace(v)
		switch k {
		case "party":
			pk.Party = v
		case string(hotline.RoleRoot):
			pk.Root = v
		case "next_root":
			pk.NextRoot = v
		case string(hotline.RoleMessage):
			pk.Message = v
		case string(hotline.RoleEncryption):
			pk.Encryption = v
		case string(hotline.RoleCheckpoint):
			pk.Checkpoint = v
		case string(hotline.RoleWitness):
			pk.Witness = v
		default:
			return pk, fmt.Errorf("%s:%d: unknown line %q", path, n, k)
		}
	}
	if err := hotline.CheckPartyID(pk.Party); err != nil {
		return pk, fmt.Errorf("%s: %w", path, err)
	}
	return pk, nil
}

// parseTime parses a time flag: "now" or RFC 3339 in UTC with whole
// seconds. An empty value means def.
func parseTime(name, s string, def time.Time) (time.Time, error) {
	switch s {
	case "":
		return def, nil
	case "now":
		return now(), nil
	}
	t, err := time.Parse(hotline.TimeLayout, s)
	if err != nil {
		return time.Time{}, usageError{fmt.Errorf("--%s %q: want a UTC time like 2026-01-02T15:04:05Z", name, s)}
	}
	return t, nil
}

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// contactFlags are the ways a command takes contacts: --contacts FILE, a
// JSON array of contacts as the entry holds them, and --contact SPEC,
// "key=value;..." with the keys id, role, name, email, phone, languages
// (comma-separated), hours, tz and alternate_of.
type contactFlags struct {
	file  string
	specs []string
}

func (c *contactFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.file, "contacts", "", "a JSON file with an array of contacts (agreement/FORMAT.md)")
	cmd.Flags().StringArrayVar(&c.specs, "contact", nil, `a contact as "id=dip;role=diplomatic;name=...;email=...;phone=+...;languages=en,fr;hours=24/7;tz=UTC" (repeatable)`)
}

// contacts returns the contacts given, or nil if none were.
func (c *contactFlags) contacts() ([]agreement.Contact, error) {
	var out []agreement.Contact
	if c.file != "" {
		b, err := readFileLimit(c.file, 1<<20)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out); err != nil {
			return nil, fmt.Errorf("%s: %w", c.file, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%s: data after the array of contacts", c.file)
		}
	}
	for _, spec := range c.specs {
		ct, err := parseContactSpec(spec)
		if err != nil {
			return nil, usageError{err}
		}
		out = append(out, ct)
	}
	return out, nil
}

func parseContactSpec(spec string) (agreement.Contact, error) {
	var ct agreement.Contact
	for _, kv := range strings.Split(spec, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return ct, fmt.Errorf("--contact: %q is not key=value", kv)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "id":
			ct.ID = v
		case "role":
			ct.Role = agreement.ContactRole(v)
		case "name":
			ct.Name = v
		case "email":
			ct.Email = v
		case "phone":
			ct.Phone = v
		case "languages":
			ct.Languages = strings.Split(v, ",")
		case "hours":
			ct.Hours = v
		case "tz", "time_zone":
			ct.TimeZone = v
		case "alternate_of":
			ct.AlternateOf = v
		default:
			return ct, fmt.Errorf("--contact: unknown key %q (want id, role, name, email, phone, languages, hours, tz, alternate_of)", k)
		}
	}
	return ct, nil
}

// outputJSON writes v as indented JSON.
func outputJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// isAgreementFile tells an agreement file (a JSON object) from a signed
// note.
func isAgreementFile(b []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{"))
}

var errNoDraft = errors.New("the agreement has no draft to sign; add a party first (hotline agreement add-party)")

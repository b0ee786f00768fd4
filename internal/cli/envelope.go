package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/stix"
)

// The envelope commands work on envelopes as files, with keys from key
// files, in the style of age: input from a file or standard input, output to
// a file or standard output. They need no node and no agreement; a node does
// the same through its APIs.
func newEnvelopeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "envelope",
		Short: "Seal, open and inspect envelopes as files, without a node",
	}
	cmd.AddCommand(newEnvelopeSealCmd(), newEnvelopeOpenCmd(), newEnvelopeInspectCmd())
	return cmd
}

func newEnvelopeSealCmd() *cobra.Command {
	var (
		keysDir    string
		recipients []string
		output     string
		kind       string
		severity   string
		marking    string
		agreement  string
		group      string
		exercise   bool
		thread     string
		refs       []string
		isSTIX     bool
	)
	cmd := &cobra.Command{
		Use:   "seal --keys DIR -r RECIPIENT... [-o OUT] [FILE]",
		Short: "Encrypt a body to recipients and sign it with your message key",
		Long: `Seal reads a body from FILE (or standard input), encrypts it to each
recipient and signs the envelope with the message key in --keys.

A recipient (-r, repeatable) is an encryption public key in text form
("CRI/encryption+1a2b3c4d+ZHo..."), or a key folder or public.keys file made
by "hotline keygen". The party of each recipient is read from its key name.
Each recipient gets sequence number 1: envelopes sealed here stand alone.

With --stix the body must be a STIX 2.1 bundle valid against the OASIS
schemas, marked no stricter than --marking.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keysDir == "" || len(recipients) == 0 {
				return usageError{errors.New("--keys and at least one -r are required")}
			}
			ks, err := hotline.LoadKeySet(keysDir)
			if err != nil {
				return err
			}
			d := &hotline.Draft{
				From:     ks.Party,
				Group:    group,
				Created:  time.Now(),
				Exercise: exercise,
				Inner:    hotline.Inner{Kind: kind},
			}
			if d.Inner.Severity, err = hotline.ParseSeverity(severity); err != nil {
				return usageError{err}
			}
			if d.Inner.Marking, err = hotline.ParseMarking(marking); err != nil {
				return usageError{err}
			}
			if agreement != "" {
				if d.Agreement, err = hotline.ParseID(agreement); err != nil {
					return usageError{fmt.Errorf("--agreement: %w", err)}
				}
			}
			if thread != "" {
				if d.Inner.Thread, err = hotline.ParseID(thread); err != nil {
					return usageError{fmt.Errorf("--thread: %w", err)}
				}
			}
			for _, r := range refs {
				id, err := hotline.ParseID(r)
				if err != nil {
					return usageError{fmt.Errorf("--ref: %w", err)}
				}
				d.Inner.Refs = append(d.Inner.Refs, id)
			}
			for _, r := range recipients {
				pub, party, err := loadRecipient(r)
				if err != nil {
					return err
				}
				d.To = append(d.To, hotline.Addressee{Party: party, Key: pub, Seq: 1})
			}
			if d.Body, err = readInput(cmd, args); err != nil {
				return err
			}
			if isSTIX {
				if err := checkSTIXBody(d.Body, d.Inner.Marking, inputName(args)); err != nil {
					return err
				}
			}
			e, err := hotline.Seal(d, ks.Message)
			if err != nil {
				return err
			}
			if err := writeOutput(cmd, output, e.Marshal()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "sealed %s to %d recipient(s)\n", e.ID(), len(e.Header.Recipients))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keysDir, "keys", "", "your key folder (from hotline keygen)")
	f.StringArrayVarP(&recipients, "recipient", "r", nil, "recipient encryption key, key folder or public.keys file (repeatable)")
	f.StringVarP(&output, "output", "o", "", "write the envelope to this file instead of standard output")
	f.StringVar(&kind, "kind", "advisory", "message kind")
	f.StringVar(&severity, "severity", "medium", "severity: low, medium, high or critical")
	f.StringVar(&marking, "marking", "AMBER", "TLP 2.0 marking: CLEAR, GREEN, AMBER, AMBER+STRICT or RED")
	f.StringVar(&agreement, "agreement", "", "hash of the agreement version (64 hex digits; default: none)")
	f.StringVar(&group, "group", "", "label of the group the recipients belong to")
	f.BoolVar(&exercise, "exercise", false, "mark the envelope as an exercise")
	f.StringVar(&thread, "thread", "", "id of the thread this message belongs to")
	f.StringArrayVar(&refs, "ref", nil, "id of a message this one refers to (repeatable)")
	f.BoolVar(&isSTIX, "stix", false, "the body is a STIX 2.1 bundle: validate it and check its marking")
	return cmd
}

func newEnvelopeOpenCmd() *cobra.Command {
	var (
		keysDir string
		sender  string
		output  string
		header  bool
	)
	cmd := &cobra.Command{
		Use:   "open --keys DIR --sender KEY [-o OUT] [FILE]",
		Short: "Verify an envelope and decrypt it with your encryption key",
		Long: `Open reads an envelope or your view of one from FILE (or standard input),
checks the sender's signature with --sender (a message verifier key, or the
sender's key folder or public.keys file), checks every commitment, decrypts it
with the encryption key in --keys, and writes the body to standard output (or
-o). The inner header goes to standard error, or with --header to the output
before the body.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keysDir == "" || sender == "" {
				return usageError{errors.New("--keys and --sender are required")}
			}
			ks, err := hotline.LoadKeySet(keysDir)
			if err != nil {
				return err
			}
			v, err := loadSender(sender)
			if err != nil {
				return err
			}
			in, err := readInput(cmd, args)
			if err != nil {
				return err
			}
			e, err := hotline.Parse(in)
			if err != nil {
				return refusal(inputName(args), err)
			}
			if err := e.Header.CheckCreated(time.Now()); err != nil {
				return refusal(inputName(args), err)
			}
			if err := e.Verify(v); err != nil {
				return refusal(inputName(args), err)
			}
			m, err := e.Open(ks.Party, ks.Encryption)
			if err != nil {
				return refusal(inputName(args), err)
			}
			summary := fmt.Sprintf("message %s from %s: %s, %s, %s\n", e.ID(), e.Header.From, m.Inner.Kind, m.Inner.Severity, m.Inner.Marking)
			out := m.Body
			if header {
				out = append(append([]byte(nil), m.InnerHeader...), append([]byte("\n"), m.Body...)...)
			}
			if err := writeOutput(cmd, output, out); err != nil {
				return err
			}
			if !header {
				fmt.Fprint(cmd.ErrOrStderr(), summary)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keysDir, "keys", "", "your key folder (from hotline keygen)")
	f.StringVar(&sender, "sender", "", "the sender's message verifier key, key folder or public.keys file")
	f.StringVarP(&output, "output", "o", "", "write the body to this file instead of standard output")
	f.BoolVar(&header, "header", false, "write the inner header before the body")
	return cmd
}

// envelopeSummary is what inspect prints: the outer header, which anyone
// holding the envelope can read, and nothing a key would reveal.
type envelopeSummary struct {
	ID         string             `json:"id"`
	Agreement  string             `json:"agreement"`
	From       string             `json:"from"`
	Group      string             `json:"group,omitempty"`
	Created    string             `json:"created"`
	Exercise   bool               `json:"exercise"`
	View       string             `json:"view,omitempty"`
	Size       int64              `json:"size"`
	Payload    int64              `json:"payload_size"`
	Recipients []recipientSummary `json:"recipients"`
	Signature  string             `json:"signature"`
}

type recipientSummary struct {
	Party    string `json:"party"`
	Seq      uint64 `json:"seq,omitempty"` // absent in a version 2 envelope: committed, not shown
	Prev     string `json:"prev,omitempty"`
	Sealed   bool   `json:"seq_sealed,omitempty"` // version 2: only the recipient's stanza opens them
	Included bool   `json:"stanza_included"`
}

func newEnvelopeInspectCmd() *cobra.Command {
	var (
		asJSON bool
		sender string
	)
	cmd := &cobra.Command{
		Use:   "inspect [--json] [--sender KEY] [FILE]",
		Short: "Print an envelope's outer header; no key needed",
		Long: `Inspect prints what anyone holding an envelope can read: its id, sender,
recipients with their sequence numbers, times and sizes. Kind, severity and
marking are encrypted and stay hidden. With --sender it also checks the
signature and the commitments a relay can check.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := readInput(cmd, args)
			if err != nil {
				return err
			}
			e, err := hotline.Parse(in)
			if err != nil {
				return refusal(inputName(args), err)
			}
			sig := "not checked (use --sender)"
			if sender != "" {
				v, err := loadSender(sender)
				if err != nil {
					return err
				}
				if err := e.Verify(v); err != nil {
					return refusal(inputName(args), err)
				}
				sig = "verified: " + e.Header.From + "'s message key"
			}
			h := e.Header
			s := envelopeSummary{
				ID: e.ID().String(), Agreement: h.Agreement.String(), From: h.From, Group: h.Group,
				Created: hotline.FormatTime(h.Created), Exercise: h.Exercise, View: e.ViewFor(),
				Size: e.Size(), Payload: h.PayloadSize, Signature: sig,
			}
			for _, r := range h.Recipients {
				rs := recipientSummary{Party: r.Party, Seq: r.Seq, Included: e.Stanza(r.Party) != nil, Sealed: h.Version == 2}
				if !r.Prev.IsZero() {
					rs.Prev = r.Prev.String()
				}
				s.Recipients = append(s.Recipients, rs)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			fmt.Fprintf(w, "id         %s\n", s.ID)
			fmt.Fprintf(w, "from       %s\n", s.From)
			fmt.Fprintf(w, "agreement  %s\n", s.Agreement)
			if s.Group != "" {
				fmt.Fprintf(w, "group      %s\n", s.Group)
			}
			fmt.Fprintf(w, "created    %s\n", s.Created)
			if s.Exercise {
				fmt.Fprintf(w, "exercise   yes\n")
			}
			if s.View != "" {
				fmt.Fprintf(w, "view       %s's (one key stanza)\n", s.View)
			} else {
				fmt.Fprintf(w, "view       full envelope (%d key stanzas)\n", len(s.Recipients))
			}
			fmt.Fprintf(w, "size       %d bytes (ciphertext %d)\n", s.Size, s.Payload)
			fmt.Fprintf(w, "signature  %s\n", s.Signature)
			for _, r := range s.Recipients {
				if r.Sealed {
					fmt.Fprintf(w, "to         %-16s seq sealed (in its key stanza)\n", r.Party)
					continue
				}
				prev := "first"
				if r.Prev != "" {
					prev = "after " + r.Prev
				}
				fmt.Fprintf(w, "to         %-16s seq %d (%s)\n", r.Party, r.Seq, prev)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&sender, "sender", "", "check the signature with this message verifier key, key folder or public.keys file")
	return cmd
}

// refusal reports a protocol refusal with its stable code.
func refusal(name string, err error) error {
	if code := hotline.ErrorCode(err); code != "" {
		return fmt.Errorf("%s: refused (%s): %w", name, code, err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

func inputName(args []string) string {
	if len(args) == 0 || args[0] == "-" {
		return "standard input"
	}
	return args[0]
}

// maxInput bounds what the envelope commands read: the default envelope
// limit and a little more, so that an oversized input is refused by the
// parser with its own code rather than read whole.
const maxInput = hotline.DefaultMaxEnvelope + 1<<20

func readInput(cmd *cobra.Command, args []string) ([]byte, error) {
	var r io.Reader = cmd.InOrStdin()
	if len(args) == 1 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", inputName(args), err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s: larger than %d bytes", inputName(args), maxInput)
	}
	return b, nil
}

func writeOutput(cmd *cobra.Command, name string, b []byte) error {
	if name == "" || name == "-" {
		_, err := cmd.OutOrStdout().Write(b)
		return err
	}
	return os.WriteFile(name, b, 0o644)
}

// publicKeysFile returns the "role key" lines of a public.keys file, given
// the file or its folder.
func publicKeysFile(path string) (map[string]string, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, hotline.PublicKeysFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		role, key, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if ok {
			m[role] = key
		}
	}
	return m, sc.Err()
}

// loadRecipient reads a recipient's encryption key from its text form, a
// key folder or a public.keys file, and returns it with the recipient's
// party, taken from the key name "<party>/encryption".
func loadRecipient(s string) (*hotline.EncryptionPublicKey, string, error) {
	text := s
	if _, err := os.Stat(s); err == nil {
		keys, err := publicKeysFile(s)
		if err != nil {
			return nil, "", fmt.Errorf("recipient %s: %w", s, err)
		}
		if text = keys["encryption"]; text == "" {
			return nil, "", fmt.Errorf("recipient %s: no encryption key listed", s)
		}
	}
	k, err := hotline.ParseEncryptionPublicKey(text)
	if err != nil {
		return nil, "", fmt.Errorf("recipient %s: %w", s, err)
	}
	party, ok := strings.CutSuffix(k.Name(), "/"+string(hotline.RoleEncryption))
	if !ok || hotline.CheckPartyID(party) != nil {
		return nil, "", fmt.Errorf("recipient %s: key name %q is not <party>/encryption", s, k.Name())
	}
	return k, party, nil
}

// loadSender reads a sender's message verifier key from its vkey form, a
// key folder or a public.keys file.
func loadSender(s string) (note.Verifier, error) {
	text := s
	if _, err := os.Stat(s); err == nil {
		keys, err := publicKeysFile(s)
		if err != nil {
			return nil, fmt.Errorf("sender %s: %w", s, err)
		}
		if text = keys["message"]; text == "" {
			return nil, fmt.Errorf("sender %s: no message key listed", s)
		}
	}
	v, err := hotline.NewVerifier(text)
	if err != nil {
		return nil, fmt.Errorf("sender: %w", err)
	}
	return v, nil
}

// checkSTIXBody validates a STIX 2.1 bundle and refuses one marked stricter
// than the envelope that would carry it.
func checkSTIXBody(body []byte, m hotline.Marking, name string) error {
	v, err := stix.NewValidator(stix.Config{})
	if err != nil {
		return err
	}
	b, err := v.ValidateBundle(body)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := stix.CheckMarking(b, m); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

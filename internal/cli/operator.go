package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/body"
	"github.com/hotline-net/hotline/internal/opapi"
	"github.com/hotline-net/hotline/internal/server"
)

// operator calls a running node's operator API, found through its folder:
// the operator listener config.json names (the folder's operator.sock by
// default) and the token in admin.token.
type operator struct {
	dir   string
	base  string
	token string
	http  *http.Client
}

func newOperator(dir string) (*operator, error) {
	if dir == "" {
		return nil, usageError{errors.New("--dir is required")}
	}
	ep, err := server.Operator(dir)
	if err != nil {
		return nil, err
	}
	tok, err := server.AdminToken(dir)
	if err != nil {
		return nil, err
	}
	return &operator{dir: dir, base: ep.Base, token: tok, http: ep.Client}, nil
}

// agreement reads the agreement the node in the folder serves, as its
// config names it.
func (o *operator) agreement() (*agreement.Agreement, error) {
	cfg, err := server.LoadConfig(o.dir)
	if err != nil {
		return nil, err
	}
	p := cfg.Agreement
	if !filepath.IsAbs(p) {
		p = filepath.Join(o.dir, p)
	}
	return agreement.Load(p)
}

// checkFilter refuses a party or kind that the node's agreement lacks: a
// filter naming neither lists nothing, which would look like an empty
// inbox.
func (o *operator) checkFilter(party, kind string) error {
	if party == "" && kind == "" {
		return nil
	}
	agr, err := o.agreement()
	if err != nil {
		return err
	}
	if party != "" {
		if _, err := agr.Party(party); err != nil {
			var ids []string
			for _, p := range agr.Parties() {
				ids = append(ids, p.ID)
			}
			return usageError{fmt.Errorf("--party %q: not a party to the agreement; the parties are %s", party, strings.Join(ids, ", "))}
		}
	}
	if kind != "" {
		v := agr.Latest()
		if _, err := v.Kind(kind); err != nil {
			var names []string
			for _, k := range v.Kinds() {
				names = append(names, k.Name)
			}
			return usageError{fmt.Errorf("--kind %q: not a message kind of the agreement; the kinds are %s", kind, strings.Join(names, ", "))}
		}
	}
	return nil
}

// ready reports whether the node answers /readyz with 200.
func (o *operator) ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.base+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := o.http.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// awaitReceipts waits until every recipient of message id, sent by the
// node, has receipted it, or until timeout; it returns the recipients still
// without a receipt.
func (o *operator) awaitReceipts(ctx context.Context, id string, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		var m opapi.Message
		if err := o.call(ctx, http.MethodGet, "/api/v1/messages/"+id, nil, &m); err != nil {
			return nil, err
		}
		var waiting []string
		for _, d := range m.Deliveries {
			if d.State != "delivered" {
				waiting = append(waiting, d.Recipient)
			}
		}
		if len(waiting) == 0 || time.Now().After(deadline) {
			return waiting, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// call sends a request and decodes the JSON answer into out, or returns the
// node's refusal as an error naming its code.
func (o *operator) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, o.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := o.http.Do(req)
	if err != nil {
		return fmt.Errorf("is the node running? %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var ref opapi.Refusal
		if json.Unmarshal(b, &ref) == nil && ref.Code != "" {
			if ref.Request != "" {
				return fmt.Errorf("refused (%s): %s (request %s)", ref.Code, ref.Message, ref.Request)
			}
			return fmt.Errorf("refused (%s): %s", ref.Code, ref.Message)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newSendCmd() *cobra.Command {
	var (
		dir, to, group, kind, severity, marking, title, summary, language string
		bodyFile, stixFile, thread                                        string
		refs                                                              []string
		exercise                                                          bool
		wait                                                              time.Duration
	)
	cmd := &cobra.Command{
		Use:   "send --dir DIR --to CRI[,DOR] --kind K --severity S --title T [--body-file F] [--stix F]",
		Short: "Send a message through a running node; prints its id",
		Long: `Send asks the node in DIR to seal, sign, log and deliver a message. The body
starts from --body-file (JSON in the kind's template, see package body) if
given; --title, --summary, --language and --stix fill in or replace fields.
The node checks the body against the kind's template and refuses what does not
fit, naming the field ("hotline codes --kind K" lists the codes a kind's fields
take; docs/templates holds each template as a JSON Schema).

The node answers once the message is signed, logged and queued; delivery goes
on in the background. --wait D waits up to D for every recipient's receipt
before printing the id, and fails if one is missing by then.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			op, err := newOperator(dir)
			if err != nil {
				return err
			}
			if to == "" && group == "" {
				return usageError{errors.New("--to or --group is required")}
			}
			b := map[string]json.RawMessage{}
			if bodyFile != "" {
				raw, err := os.ReadFile(bodyFile)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(raw, &b); err != nil {
					return fmt.Errorf("%s: want a JSON object: %w", bodyFile, err)
				}
			}
			set := func(k, v string) {
				if v != "" {
					b[k], _ = json.Marshal(v)
				}
			}
			if _, ok := b[body.FieldLanguage]; !ok || cmd.Flags().Changed("language") {
				set(body.FieldLanguage, language)
			}
			set("title", title)
			set("summary", summary)
			if stixFile != "" {
				raw, err := os.ReadFile(stixFile)
				if err != nil {
					return err
				}
				if !json.Valid(raw) {
					return fmt.Errorf("%s: not JSON", stixFile)
				}
				b["stix"] = json.RawMessage(raw)
			}
			rawBody, err := json.Marshal(b)
			if err != nil {
				return err
			}
			req := opapi.SendRequest{
				Group: group, Kind: kind, Severity: severity, Marking: marking,
				Exercise: exercise, Thread: thread, Refs: refs, Body: rawBody,
			}
			if to != "" {
				req.To = strings.Split(to, ",")
			}
			var resp opapi.SentResponse
			if err := op.call(cmd.Context(), http.MethodPost, "/api/v1/messages", req, &resp); err != nil {
				if bodyFile != "" && strings.Contains(err.Error(), "invalid_body") {
					return fmt.Errorf("%w (the body from --body-file %s and the flags)", err, bodyFile)
				}
				return err
			}
			return printSent(cmd, op, resp.ID, wait)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the node folder")
	f.StringVar(&to, "to", "", "comma-separated recipient party ids")
	f.StringVar(&group, "group", "", "a group of the agreement, expanded now")
	f.StringVar(&kind, "kind", "notification", "message kind")
	f.StringVar(&severity, "severity", "medium", "low, medium, high or critical")
	f.StringVar(&marking, "marking", "AMBER", "TLP 2.0: CLEAR, GREEN, AMBER, AMBER+STRICT or RED")
	f.StringVar(&title, "title", "", "the body's title")
	f.StringVar(&summary, "summary", "", "the body's summary")
	f.StringVar(&language, "language", "en", "language of the body's text (BCP 47)")
	f.StringVar(&bodyFile, "body-file", "", "JSON body to start from")
	f.StringVar(&stixFile, "stix", "", "STIX 2.1 bundle to attach as technical data")
	f.StringVar(&thread, "thread", "", "thread id")
	f.StringArrayVar(&refs, "ref", nil, "id of a message this one refers to (repeatable)")
	f.BoolVar(&exercise, "exercise", false, "mark as an exercise")
	f.DurationVar(&wait, "wait", 0, "wait up to this long for every recipient's receipt, e.g. 30s")
	return cmd
}

// printSent prints the id of a message the node sent, after waiting up to
// wait for its receipts.
func printSent(cmd *cobra.Command, op *operator, id string, wait time.Duration) error {
	if wait > 0 {
		waiting, err := op.awaitReceipts(cmd.Context(), id, wait)
		if err != nil {
			return fmt.Errorf("message %s sent; waiting for its receipts: %w", id, err)
		}
		if len(waiting) > 0 {
			return fmt.Errorf("message %s sent, but after %s no receipt yet from %s (hotline show --dir %s %s)",
				id, wait, strings.Join(waiting, ", "), op.dir, id[:16])
		}
	}
	fmt.Fprintln(cmd.OutOrStdout(), id)
	return nil
}

func newInboxCmd() *cobra.Command {
	var (
		dir, party, kind, cursor string
		sent, asJSON             bool
		limit                    int
	)
	cmd := &cobra.Command{
		Use:   "inbox --dir DIR [--sent] [--party ID] [--kind K] [--limit N] [--cursor C] [--json]",
		Short: "List the messages a running node received (or sent, with --sent), newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			op, err := newOperator(dir)
			if err != nil {
				return err
			}
			if limit < 1 || limit > 1000 {
				return usageError{fmt.Errorf("--limit %d: want 1 to 1000", limit)}
			}
			if err := op.checkFilter(party, kind); err != nil {
				return err
			}
			q := url.Values{"direction": {"received"}, "limit": {fmt.Sprint(limit)}}
			if sent {
				q.Set("direction", "sent")
			}
			for k, v := range map[string]string{"party": party, "kind": kind, "cursor": cursor} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var list opapi.MessageList
			if err := op.call(cmd.Context(), http.MethodGet, "/api/v1/messages?"+q.Encode(), nil, &list); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, list)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tAT\tFROM\tTO\tKIND\tSEVERITY\tMARKING\tEXERCISE\tTITLE")
			for _, m := range list.Messages {
				exercise := "-"
				if m.Exercise {
					exercise = "EXERCISE"
				}
				if len(m.Body) == 0 {
					// A listing carries no bodies; the title is in the body.
					var full opapi.Message
					if err := op.call(cmd.Context(), http.MethodGet, "/api/v1/messages/"+m.ID, nil, &full); err == nil {
						m.Body = full.Body
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID[:16], shortTime(m.At), m.From, strings.Join(m.To, ","),
					m.Kind, m.Severity, "TLP:"+m.Marking, exercise, title(m.Body))
			}
			tw.Flush()
			if list.Next != "" {
				fmt.Fprintf(w, "more: --cursor %s\n", list.Next)
			}
			return printDue(cmd.Context(), w, op, sent)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the node folder")
	f.BoolVar(&sent, "sent", false, "list sent messages instead")
	f.StringVar(&party, "party", "", "only messages exchanged with this party")
	f.StringVar(&kind, "kind", "", "only this kind")
	f.StringVar(&cursor, "cursor", "", "continue a listing")
	f.IntVar(&limit, "limit", 50, "messages per page (1 to 1000)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// title returns a body's title, cut to 60 characters, or "-".
func title(body json.RawMessage) string {
	var b struct {
		Title string `json:"title"`
	}
	if json.Unmarshal(body, &b) != nil || b.Title == "" {
		return "-"
	}
	t := strings.Join(strings.Fields(b.Title), " ")
	if r := []rune(t); len(r) > 60 {
		t = string(r[:59]) + "…"
	}
	return t
}

func shortTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// resolveID expands a unique prefix of a message id (as inbox prints them)
// to the whole id.
func resolveID(ctx context.Context, op *operator, prefix string) (string, error) {
	if len(prefix) == 64 {
		return prefix, nil
	}
	if len(prefix) < 8 {
		return "", usageError{fmt.Errorf("message id %q: give at least 8 hex digits", prefix)}
	}
	var found []string
	for _, dir := range []string{"received", "sent"} {
		cursor := ""
		for {
			q := url.Values{"direction": {dir}, "limit": {"1000"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var list opapi.MessageList
			if err := op.call(ctx, http.MethodGet, "/api/v1/messages?"+q.Encode(), nil, &list); err != nil {
				return "", err
			}
			for _, m := range list.Messages {
				if strings.HasPrefix(m.ID, prefix) {
					found = append(found, m.ID)
				}
			}
			if cursor = list.Next; cursor == "" {
				break
			}
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no message id starts with %s", prefix)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%d messages have ids starting with %s; give more digits", len(found), prefix)
}

func newShowCmd() *cobra.Command {
	var (
		dir, language string
		asJSON        bool
	)
	cmd := &cobra.Command{
		Use:   "show --dir DIR ID [--json]",
		Short: "Show one message: header, body in your language, receipts or deliveries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := newOperator(dir)
			if err != nil {
				return err
			}
			id, err := resolveID(cmd.Context(), op, args[0])
			if err != nil {
				return err
			}
			var m opapi.Message
			if err := op.call(cmd.Context(), http.MethodGet, "/api/v1/messages/"+id, nil, &m); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, m)
			}
			lang, err := body.ParseLanguage(language)
			if err != nil {
				return usageError{err}
			}
			return printMessage(w, &m, lang)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the node folder")
	f.StringVar(&language, "language", "en", "render the body in ar, zh, en, fr, ru or es")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printMessage(w io.Writer, m *opapi.Message, lang body.Language) error {
	fmt.Fprintf(w, "id        %s\n", m.ID)
	fmt.Fprintf(w, "%-9s %s → %s\n", m.Direction, m.From, strings.Join(m.To, ", "))
	fmt.Fprintf(w, "kind      %s, %s, TLP:%s\n", m.Kind, m.Severity, m.Marking)
	fmt.Fprintf(w, "created   %s\n", m.Created)
	fmt.Fprintf(w, "thread    %s\n", m.Thread)
	for _, r := range m.Refs {
		fmt.Fprintf(w, "refers to %s\n", r)
	}
	if m.Exercise {
		fmt.Fprintln(w, "exercise  yes")
	}
	if m.Receipt != nil {
		fmt.Fprintf(w, "receipted %s at index %d of our log\n", m.Receipt.Received, m.Receipt.LogIndex)
	}
	for _, d := range m.Deliveries {
		line := fmt.Sprintf("to %-6s %s", d.Recipient, d.State)
		if d.Receipt != nil {
			line += fmt.Sprintf(", receipted %s at index %d of its log", d.Receipt.Received, d.Receipt.LogIndex)
		}
		if d.Route != "" {
			line += ", via " + d.Route
		}
		if d.State != "delivered" && d.LastError != "" {
			line += fmt.Sprintf(" (attempts %d; %s)", d.Attempts, d.LastError)
		}
		fmt.Fprintln(w, line)
	}
	if len(m.Obligations) > 0 {
		fmt.Fprintln(w)
		printObligations(w, m.Obligations)
	}
	fmt.Fprintln(w)
	bd, err := body.Parse(m.Kind, m.Body)
	if err != nil {
		fmt.Fprintf(w, "%s\n", m.Body)
		return nil
	}
	text, err := body.Render(lang, m.Kind, bd, body.Meta{})
	if err != nil {
		return err
	}
	fmt.Fprint(w, text)
	return nil
}

func newAckCmd() *cobra.Command {
	var (
		dir, by, challenge, text string
		wait                     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "ack --dir DIR ID --by NAME",
		Short: "Acknowledge a received message, as the human on watch",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := newOperator(dir)
			if err != nil {
				return err
			}
			if by == "" {
				return usageError{errors.New("--by is required: the name of who acknowledges")}
			}
			id, err := resolveID(cmd.Context(), op, args[0])
			if err != nil {
				return err
			}
			b := &body.Body{Language: "en", AcknowledgedBy: by, Challenge: challenge, Text: text}
			return reply(cmd, op, id, "ack", b, wait)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the node folder")
	f.StringVar(&by, "by", "", "who acknowledges")
	f.StringVar(&challenge, "challenge", "", "the challenge code a ping carried")
	f.StringVar(&text, "text", "", "free text")
	f.DurationVar(&wait, "wait", 0, "wait up to this long for the sender's receipt, e.g. 30s")
	return cmd
}

func newRespondCmd() *cobra.Command {
	var (
		dir, answer, summary, language, text, bodyFile string
		findings, assistance, taken                    []string
		wait                                           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "respond --dir DIR ID --answer CODE [--findings ...] [--assistance ...] [--summary S]",
		Short: "Answer a received request, substantively",
		Long: `Respond answers a received request with a response: an answer code, and
optionally findings, assistance offered and actions taken (codes, see
"hotline codes --kind response"), a summary and free text.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, c := range []struct {
				flag  string
				voc   body.Vocabulary
				codes []string
			}{
				{"answer", body.Answers, nonEmpty(answer)},
				{"findings", body.Findings, findings},
				{"assistance", body.AssistanceTypes, assistance},
				{"actions-taken", body.Actions, taken},
			} {
				if err := checkCodes(c.flag, c.voc, c.codes, "response"); err != nil {
					return err
				}
			}
			op, err := newOperator(dir)
			if err != nil {
				return err
			}
			id, err := resolveID(cmd.Context(), op, args[0])
			if err != nil {
				return err
			}
			b := &body.Body{}
			if bodyFile != "" {
				raw, err := os.ReadFile(bodyFile)
				if err != nil {
					return err
				}
				if b, err = body.Parse("response", raw); err != nil {
					return fmt.Errorf("%s: %w", bodyFile, err)
				}
			}
			if b.Language == "" || cmd.Flags().Changed("language") {
				b.Language = language
			}
			if answer != "" {
				b.Answer = answer
			}
			if summary != "" {
				b.Summary = summary
			}
			if text != "" {
				b.Text = text
			}
			b.Findings = append(b.Findings, findings...)
			b.Assistance = append(b.Assistance, assistance...)
			b.ActionsTaken = append(b.ActionsTaken, taken...)
			return reply(cmd, op, id, "response", b, wait)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the node folder")
	f.StringVar(&answer, "answer", "", "accepted, accepted_in_part, declined, time_proposed or information_provided")
	f.StringSliceVar(&findings, "findings", nil, "finding codes, e.g. infrastructure_misused")
	f.StringSliceVar(&assistance, "assistance", nil, "assistance offered, e.g. forensic_analysis")
	f.StringSliceVar(&taken, "actions-taken", nil, "actions taken, e.g. takedown")
	f.StringVar(&summary, "summary", "", "summary")
	f.StringVar(&text, "text", "", "free text")
	f.StringVar(&language, "language", "en", "language of the text")
	f.StringVar(&bodyFile, "body-file", "", "JSON response body to start from")
	f.DurationVar(&wait, "wait", 0, "wait up to this long for the requester's receipt, e.g. 30s")
	return cmd
}

func newWaitCmd() *cobra.Command {
	var (
		dirs    []string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "wait --dir DIR [--dir DIR ...] [--timeout D]",
		Short: "Wait until the nodes in the folders are ready to serve",
		Long: `Wait returns once the node of every folder answers /readyz (its store, log
and node started), polling each; it fails after --timeout. Scripts that start
nodes in the background run it before their first command to a node.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(dirs) == 0 {
				return usageError{errors.New("--dir is required")}
			}
			if timeout <= 0 {
				return usageError{errors.New("--timeout must be positive")}
			}
			deadline := time.Now().Add(timeout)
			for _, dir := range dirs {
				op, err := newOperator(dir)
				if err != nil {
					return err
				}
				for !op.ready(cmd.Context()) {
					if time.Now().After(deadline) {
						return fmt.Errorf("the node in %s is not ready after %s (is it running? hotline serve --dir %s)", dir, timeout, dir)
					}
					select {
					case <-cmd.Context().Done():
						return cmd.Context().Err()
					case <-time.After(50 * time.Millisecond):
					}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&dirs, "dir", nil, "a node folder (repeatable)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait at most")
	return cmd
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// checkCodes refuses a flag's code that is not in its vocabulary, naming
// the valid ones.
func checkCodes(flag string, v body.Vocabulary, codes []string, kind string) error {
	for _, c := range codes {
		if !v.Has(c) {
			return usageError{fmt.Errorf("--%s %q: not %s %s code; want %s (%s)",
				flag, c, v.Article(), v, strings.Join(v.Codes(), ", "), codesHint(kind))}
		}
	}
	return nil
}

func reply(cmd *cobra.Command, op *operator, id, kind string, b *body.Body, wait time.Duration) error {
	raw, err := b.Marshal()
	if err != nil {
		return err
	}
	var resp opapi.SentResponse
	if err := op.call(cmd.Context(), http.MethodPost, "/api/v1/messages/"+id+"/reply", opapi.ReplyRequest{Kind: kind, Body: raw}, &resp); err != nil {
		return err
	}
	return printSent(cmd, op, resp.ID, wait)
}

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline/internal/bench"
	"github.com/hotline-net/hotline/internal/fedapi"
)

func newBenchCmd() *cobra.Command {
	var (
		target, as, url    string
		messages, conc     int
		limitSample        int
		limitTime, timeout time.Duration
		asJSON             bool
	)
	cmd := &cobra.Command{
		Use:   "bench --target DIR --as PARTY_DIR [--messages N] [--concurrency C] [--json]",
		Short: "Measure how fast a running node accepts envelopes, against its crypto limit",
		Long: `Bench sends N envelopes to the running node whose folder is DIR, as the
party whose node folder is PARTY_DIR (it signs and seals with that folder's
keys, without going through that party's node), with C concurrent senders.
Because its envelopes carry sequence numbers of their own, the sender's node
must not be running (bench refuses it): a live channel would show the
recipient a gap that never closes. Bench as a party whose node does not run;
a testnet's spare party does. The envelopes are marked exercise, and inbox
shows them so.

Every envelope — an exercise notification of a few hundred bytes — is sealed,
signed, cut to the target's view and its HTTP request signed and serialized
before the clock starts (a request signature more than 4 minutes old when its
turn comes is made again on the clock, and counted). Each sender writes its
requests on a keep-alive connection of its own, so that the load generator
takes as little as it can of cores it may share with the node. The clock runs
from the first send to the last answer. After it stops, every receipt is verified against the
target's message key in the agreement and must name its envelope, the target
and its log, each at its own index.

It reports messages per second (verified receipts), latency from send to
receipt (p50, p90, p99), errors by code (the node's refusal codes,
"transport", "receipt_*"), and, measured in the same run, the node-side crypto
limit: envelopes per second that parsing and verifying a view, opening it and
signing a receipt allow on all cores (GOMAXPROCS), half of --limit-time just
before the clock starts and half just after it stops, with the ratio of the
two. The limit needs the target's private keys from DIR/keys; if they cannot be
read, the report says so.

A node limits each peer's requests (config.json "rate_limit", by default
100/s after a burst of 1,000): what is over the limit is refused as
rate_limited. To measure the node rather than its limit, set
"rate_limit": {"per_second": -1} in the target's config for the benchmark.

A progress bar is drawn on standard error when it is a terminal. --json
prints the result as one JSON object. The exit status is 1 if any message
failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target == "" || as == "" {
				return usageError{errors.New("--target and --as are required")}
			}
			if messages < 1 || conc < 1 {
				return usageError{errors.New("--messages and --concurrency must be at least 1")}
			}
			if limitSample < 1 || limitTime <= 0 || timeout <= 0 {
				return usageError{errors.New("--limit-sample, --limit-time and --timeout must be positive")}
			}
			c, err := bench.FromFolders(target, as)
			if err != nil {
				return err
			}
			if url != "" {
				c.URL = url
			}
			c.Messages, c.Concurrency = messages, conc
			c.LimitSample, c.LimitTime, c.Timeout = limitSample, limitTime, timeout
			if isTerminal(cmd.ErrOrStderr()) {
				c.Progress = cmd.ErrOrStderr()
			}
			res, err := bench.Run(cmd.Context(), c)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				b, err := json.MarshalIndent(res, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s\n", b)
			} else {
				printBench(w, res)
			}
			if n := res.Failed(); n > 0 {
				return fmt.Errorf("%d of %d messages failed", n, res.Messages)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "target", "", "the target node's folder (its config, agreement and, for the crypto limit, keys)")
	f.StringVar(&as, "as", "", "the sending party's node folder (its keys)")
	f.StringVar(&url, "url", "", "the target's base URL (default: from its config)")
	f.IntVar(&messages, "messages", bench.DefaultMessages, "envelopes to send")
	f.IntVar(&conc, "concurrency", bench.DefaultConcurrency, "concurrent senders")
	f.IntVar(&limitSample, "limit-sample", bench.DefaultLimitSample, "envelopes the crypto limit is measured on (at most --messages)")
	f.DurationVar(&limitTime, "limit-time", bench.DefaultLimitTime, "how long at least the crypto limit is measured")
	f.DurationVar(&timeout, "timeout", bench.DefaultTimeout, "bound on one request")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.AddCommand(newBenchFaultsCmd())
	return cmd
}

// isTerminal reports whether w is a terminal (a character device), without
// a dependency for it.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func printBench(w io.Writer, r *bench.Result) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "%d envelopes %s → %s at %s, %d concurrent senders\n", r.Messages, r.Sender, r.Target, r.URL, r.Concurrency)
	fmt.Fprintf(w, "prepared     %s before the clock: sealed, signed, request-signed (%d-byte views, %d-byte bodies)\n",
		r.Prepare.Round(time.Millisecond), r.EnvelopeBytes, r.BodyBytes)
	if r.Resigned > 0 {
		fmt.Fprintf(w, "re-signed    %d requests on the clock (signatures over 4 minutes old)\n", r.Resigned)
	}
	fmt.Fprintf(w, "sent         %d in %s\n", r.Messages, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "verified     %d receipts, %d errors\n", r.Verified, r.Failed())
	fmt.Fprintf(w, "throughput   %.1f messages/s\n", r.Rate)
	fmt.Fprintf(w, "latency      p50 %s  p90 %s  p99 %s  max %s\n", ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max))
	if l := r.Limit; l != nil {
		fmt.Fprintf(w, "crypto limit %.1f messages/s (%s; %d workers, %d envelopes in %s)\n",
			l.Rate, bench.LimitOperations, l.Workers, l.Processed, l.Elapsed.Round(time.Millisecond))
		fmt.Fprintf(w, "ratio        %.3f of the crypto limit\n", r.Ratio)
	} else {
		fmt.Fprintf(w, "crypto limit not measured: %s\n", r.LimitUnavailable)
	}
	for _, code := range r.ErrorCodes() {
		fmt.Fprintf(w, "error        %-24s %6d  e.g. %s\n", code, r.Errors[code], r.ErrorExamples[code])
	}
	if r.Errors[fedapi.ErrRateLimited.Code] > 0 {
		fmt.Fprintf(w, "note         the target limits each peer's requests; to measure the node rather than its limit, set\n"+
			"             \"rate_limit\": {\"per_second\": -1} in its config.json and restart it\n")
	}
}

package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store/sqlstore"
	"github.com/hotline-net/hotline/internal/tlog"
)

func newInitCmd() *cobra.Command {
	var (
		party, dir, listen, origin, database string
		public                               bool
	)
	cmd := &cobra.Command{
		Use:   "init --party ID --dir DIR",
		Short: "Make a node folder: keys, config and an admin token",
		Long: `Init makes a node folder for one party: its keys (private files mode 0600,
the public ones in keys/public.keys), config.json and admin.token (mode 0600,
for the operator commands). The party's root key is written to keys/ as well:
move it offline once the party's directory entry is signed.

The node serves once DIR/agreement.json (or the config's "agreement") holds an
agreement that lists the party; "hotline testnet" makes a complete network.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if party == "" || dir == "" {
				return usageError{errors.New("--party and --dir are required")}
			}
			ks, err := server.Init(dir, party, server.InitOptions{
				Origin: origin,
				Config: server.Config{Listen: listen, Database: database, LogPublic: public},
			})
			if err != nil {
				return err
			}
			pub := ks.Public()
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "node folder %s for %s\n", dir, party)
			fmt.Fprintf(w, "root        %s\nmessage     %s\nencryption  %s\ncheckpoint  %s\nwitness     %s\n",
				pub.Root, pub.Message, pub.Encryption, pub.Checkpoint, pub.Witness)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&party, "party", "", "the party's id, e.g. BER")
	f.StringVar(&dir, "dir", "", "the node folder to create")
	f.StringVar(&listen, "listen", "127.0.0.1:7100", "address to listen on")
	f.StringVar(&origin, "origin", "", "log origin (default hotline/<party>)")
	f.StringVar(&database, "db", "", "PostgreSQL URL (default: SQLite in the folder)")
	f.BoolVar(&public, "public-log", false, "serve the log to anyone, not only to parties")
	return cmd
}

func newServeCmd() *cobra.Command {
	var (
		dir, database, logLevel, logFormat string
	)
	cmd := &cobra.Command{
		Use:   "serve --dir DIR",
		Short: "Run a node folder: the peer API, the operator API, the log and the witness",
		Long: `Serve runs the node in DIR until it receives SIGINT or SIGTERM, then stops
accepting, finishes the requests in flight, closes the log and the store, and
exits 0. It logs to standard error: readable lines (key=value) when standard
error is a terminal, JSON lines otherwise (a file, a pipe, journald); --log-format
text or json chooses.

It serves on two listeners. The peer port (listen in DIR/config.json) serves
the peer API (/v1/), the log (/log/, C2SP tlog-tiles), the witness
(/witness/), /healthz and /readyz. The operator listener (operator_listen: the
unix socket DIR/operator.sock by default, or a loopback address) serves the
operator API (/api/v1/, bearer token from DIR/admin.token), /metrics and
/debug/pprof/; the other commands find it through DIR.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{errors.New("--dir is required")}
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError{fmt.Errorf("--log-level: %w", err)}
			}
			h, err := logHandler(cmd.ErrOrStderr(), logFormat, level)
			if err != nil {
				return err
			}
			logger := slog.New(h)
			tlog.RouteKlog(logger)
			procs, gc := server.TuneProcs(), server.TuneGC()
			logger.Debug("runtime", "gomaxprocs", procs, "gogc", gc)
			bodies, err := node.NewTemplates()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			opts := server.Options{Bodies: bodies, Logger: logger, Database: database}
			if v := os.Getenv(killBeforeAppendEnv); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					return fmt.Errorf("%s=%q: want a positive count", killBeforeAppendEnv, v)
				}
				opts.BeforeAppend = killBeforeAppend(n)
			}
			if path := os.Getenv(faultStoreFullEnv); path != "" {
				logger.Warn("fault injection for tests: the store's writes fail as on a full disk while this file exists; never set in production",
					"env", faultStoreFullEnv, "file", path)
				opts.FailWrites = sqlstore.FailWhileExists(path)
			}
			if opts.Clock, err = faultClock(os.Getenv(clockOffsetEnv), logger); err != nil {
				return err
			}
			s, err := server.Open(ctx, dir, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s serving on %s\n", s.Node().Party(), s.URL())
			fmt.Fprintf(cmd.OutOrStdout(), "%s operator API on %s\n", s.Node().Party(), s.OperatorAddr())
			return s.Serve(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the node folder")
	f.StringVar(&database, "db", "", "PostgreSQL URL, overriding the config (default: the config's, else SQLite)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "auto", "text, json, or auto: text on a terminal, else JSON")
	return cmd
}

// logHandler returns the handler of a node's log on w: slog's text handler
// for a person at a terminal, JSON for a file or a pipe (or as format
// says).
func logHandler(w io.Writer, format string, level slog.Level) (slog.Handler, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "auto":
		if isTerminal(w) {
			return slog.NewTextHandler(w, opts), nil
		}
		return slog.NewJSONHandler(w, opts), nil
	case "text":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want auto, text or json", format)}
}

// clockOffsetEnv names the fault campaign's clock skew switch: a Go
// duration (-2m, 6m30s) by which the node's whole clock — everything it
// signs and compares — runs from the system clock. For tests only.
const clockOffsetEnv = "HOTLINE_FAULT_CLOCK_OFFSET"

// faultClock returns the node's clock for the value v of clockOffsetEnv:
// nil (the system clock) when empty, else the system clock moved by the
// duration v, with a warning in the log.
func faultClock(v string, logger *slog.Logger) (clock.Clock, error) {
	if v == "" {
		return nil, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: want a Go duration such as -2m or 6m30s", clockOffsetEnv, v)
	}
	logger.Warn("FAULT INJECTION: this node's clock is the system clock moved by "+clockOffsetEnv+"; for tests only",
		"env", clockOffsetEnv, "offset", d.String())
	return clock.Offset{By: d}, nil
}

// killBeforeAppendEnv names the crash tests' fault-injection switch: when
// set to n, the process kills itself with SIGKILL at the n-th envelope,
// after its pending row is stored and before its log entry is appended.
const killBeforeAppendEnv = "HOTLINE_TEST_KILL_BEFORE_APPEND"

// faultStoreFullEnv names the fault campaign's full-disk switch: when it
// holds a path, every write of the node's store (SQLite or PostgreSQL)
// fails with store.ErrStorageFull while a file exists at that path, and
// succeeds again once it is removed; reads are untouched
// (docs/OPERATIONS.md, "A full disk"). For tests only.
const faultStoreFullEnv = "HOTLINE_FAULT_STORE_FULL"

func killBeforeAppend(n int) func(hotline.Direction, hotline.ID) {
	var count atomic.Int64
	return func(hotline.Direction, hotline.ID) {
		if count.Add(1) == int64(n) {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal arrives; nothing after this runs
		}
	}
}

func newTestnetCmd() *cobra.Command {
	var (
		parties, dir string
		basePort     int
		rateLimit    float64
	)
	cmd := &cobra.Command{
		Use:   "testnet --parties BER,CRI,DOR --dir DIR [--base-port P]",
		Short: "Make a network on this machine: a depositary and one node folder per party",
		Long: `Testnet makes DIR/agreement.json — signed by a depositary (DEP) and
ratified by every party, the depositary relaying and witnessing — and one node
folder per party (the depositary's included) listening on 127.0.0.1, logs
public. It prints the command that starts each node as its own process.

--rate-limit sets every node's per-peer rate limit (config.json
"rate_limit.per_second"; a node's default is 100/s after a burst of 1,000); -1
turns it off, for a network that "hotline bench" measures rather than its
limit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if parties == "" || dir == "" {
				return usageError{errors.New("--parties and --dir are required")}
			}
			tc := sim.TestnetConfig{Dir: dir, Parties: strings.Split(parties, ","), BasePort: basePort}
			if cmd.Flags().Changed("rate-limit") {
				if rateLimit == 0 || rateLimit < -1 {
					return usageError{fmt.Errorf("--rate-limit %v: want requests per second, or -1 for none", rateLimit)}
				}
				tc.Node = func(_ string, c *server.Config) { c.RateLimit.PerSecond = rateLimit }
			}
			nw, err := sim.Testnet(tc)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "agreement  %s\n", nw.Agreement)
			for _, n := range nw.Nodes {
				fmt.Fprintf(w, "%-10s %s  %s serve --dir %s\n", n.Party, n.URL, invokedAs(cmd), n.Dir)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&parties, "parties", "", "comma-separated party ids")
	f.StringVar(&dir, "dir", "", "folder for the network")
	f.IntVar(&basePort, "base-port", 0, "the depositary's port; parties follow (default: free ports)")
	f.Float64Var(&rateLimit, "rate-limit", 0, "every node's per-peer requests per second; -1 for no limit (default: the node's, 100/s)")
	return cmd
}

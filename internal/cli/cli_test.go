package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/opapi"
)

// TestMain lets testscript run "hotline" in-process, through the same Run
// that cmd/hotline calls.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"hotline": func() {
			// As cmd/hotline does: SIGINT and SIGTERM end serve gracefully.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := RunAs(ctx, os.Args[0], os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
	})
}

// TestScript runs every testdata/*.txtar script. Each subcommand has its
// own script named for it.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"tamper":    tamper,
			"waitready": waitReady,
			"capture":   capture,
			"waitmsg":   waitMessage,
			"status":    status,
			"forge":     forge,
			"genesis":   genesisCmd,
		},
		Condition: func(cond string) (bool, error) {
			if cond == "unshare" {
				// A network namespace of its own: the offline check
				// runs where networking is refused.
				return exec.Command("unshare", "-n", "true").Run() == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// genesisCmd sets the environment variable NAME to the hash of version 1
// of the agreement in FILE, the trust anchor hotline verify pins:
//
//	genesis NAME FILE
func genesisCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: genesis NAME FILE")
	}
	a, err := agreement.Parse([]byte(ts.ReadFile(args[1])))
	ts.Check(err)
	ts.Setenv(args[0], a.Versions()[0].Hash().String())
}

// tamper copies a file with one change, for scripts that check refusals:
//
//	tamper IN last OUT     flip the low bit of the last byte
//	tamper IN header OUT   flip a digit of the first time in the text (well-formed, wrongly signed)
//	tamper IN append OUT   append a zero byte
func tamper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: tamper IN last|header|append OUT")
	}
	b := []byte(ts.ReadFile(args[0]))
	switch args[1] {
	case "last":
		b[len(b)-1] ^= 1
	case "header":
		i := bytes.Index(b, []byte("Z\n"))
		if i < 2 {
			ts.Fatalf("no time in %s", args[0])
		}
		b[i-1] ^= 1 // a digit stays a digit
	case "append":
		b = append(b, 0)
	default:
		ts.Fatalf("unknown change %q", args[1])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), b, 0o644))
}

// status runs a command as exec does and checks its exit status, for
// scripts that tell a usage error (2) from a failed command (1):
//
//	status N COMMAND [ARGS...]
func status(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// waitReady waits until the node in folder DIR answers /readyz:
//
//	waitready DIR
func waitReady(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitready DIR")
	}
	op, err := newOperator(ts.MkAbs(args[0]))
	ts.Check(err)
	poll(ts, "node "+args[0]+" ready", func() bool {
		resp, err := op.http.Get(op.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// capture sets the environment variable NAME to the last command's
// standard output, trimmed:
//
//	capture NAME
func capture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: capture NAME")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile("stdout")))
}

// waitMessage waits until the node in folder DIR holds message ID, stored
// and logged, and if it sent it, until every recipient's receipt is in:
//
//	waitmsg DIR ID
func waitMessage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitmsg DIR ID")
	}
	op, err := newOperator(ts.MkAbs(args[0]))
	ts.Check(err)
	poll(ts, "message "+args[1]+" at "+args[0], func() bool {
		var m opapi.Message
		if op.call(context.Background(), http.MethodGet, "/api/v1/messages/"+args[1], nil, &m) != nil || !m.Stored {
			return false
		}
		for _, d := range m.Deliveries {
			if d.State != "delivered" {
				return false
			}
		}
		return true
	})
}

// poll retries cond until it holds or 30 seconds pass.
func poll(ts *testscript.TestScript, what string, cond func() bool) {
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			ts.Fatalf("%s", fmt.Sprintf("timed out waiting for %s", what))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInvocation(t *testing.T) {
	for _, tc := range []struct{ argv0, want string }{
		{"", "hotline"},
		{"hotline", "hotline"},
		{"./hotline", "./hotline"},
		{"/usr/local/bin/hotline", "/usr/local/bin/hotline"},
		{"/tmp/go-build123456/b001/exe/hotline", "go run ./cmd/hotline"},
	} {
		if got := invocation(tc.argv0); got != tc.want {
			t.Errorf("invocation(%q) = %q, want %q", tc.argv0, got, tc.want)
		}
	}
	var out bytes.Buffer
	dir := t.TempDir()
	if code := RunAs(context.Background(), "./hotline", []string{"testnet", "--parties", "AAA,BBB", "--dir", dir}, nil, &out, io.Discard); code != 0 {
		t.Fatalf("testnet exited %d", code)
	}
	if !strings.Contains(out.String(), "  ./hotline serve --dir "+dir+"/AAA\n") {
		t.Errorf("testnet run as ./hotline printed:\n%s", out.String())
	}
}

func TestDescribePolicy(t *testing.T) {
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{"quorum none"}, "none: checkpoints need no cosignature"},
		{[]string{"quorum DEP"}, "the cosignature of DEP"},
		{[]string{"group w 2 DEP BER CRI", "quorum w"}, "cosignatures of 2 of DEP, BER and CRI (a log's owner does not count toward its own quorum)"},
		{[]string{"group eu any BER PAR", "group w all DEP eu", "quorum w"}, "cosignatures of all of DEP and (any of BER and PAR) (a log's owner does not count toward its own quorum)"},
	} {
		if got := describePolicy(tc.lines); got != tc.want {
			t.Errorf("describePolicy(%q) = %q, want %q", tc.lines, got, tc.want)
		}
	}
}

func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	for _, tc := range []struct{ format, want string }{
		{"auto", `{"time":`}, // a buffer is no terminal
		{"json", `{"time":`},
		{"text", `time=`},
	} {
		buf.Reset()
		h, err := logHandler(&buf, tc.format, slog.LevelInfo)
		if err != nil {
			t.Fatal(err)
		}
		slog.New(h).Info("hello")
		if !strings.HasPrefix(buf.String(), tc.want) {
			t.Errorf("--log-format %s wrote %q", tc.format, buf.String())
		}
	}
	if _, err := logHandler(&buf, "xml", slog.LevelInfo); err == nil {
		t.Error("--log-format xml accepted")
	}
}

package cli

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run "hotline" in-process, through the same Run
// that cmd/hotline calls.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"hotline": func() {
			os.Exit(Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
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
		Cmds:                map[string]func(*testscript.TestScript, bool, []string){"tamper": tamper},
	})
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

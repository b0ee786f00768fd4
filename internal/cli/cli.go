// Package cli implements the hotline command line: one file per subcommand,
// each registered on the cobra root command built by [NewRoot].
//
// Every command writes to the streams it is given, never to the process's
// own, so that tests (testscript, see testdata/) run it in-process exactly as
// a user would from a shell.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Run executes the hotline command line with args and returns the process
// exit status: 0 on success, 1 on a failed command, 2 on a usage error.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunAs(ctx, "hotline", args, stdin, stdout, stderr)
}

// RunAs is [Run] for a binary invoked as name (the process's argv[0]):
// commands that print commands to run next, such as testnet, write them
// as the user invoked hotline ("./hotline serve ...").
func RunAs(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRoot(stdin, stdout, stderr)
	root.Annotations = map[string]string{invocationKey: invocation(name)}
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "hotline: %v\n", err)
		var u usageError
		// cobra finds subcommands before any of ours runs; an unknown
		// one is a usage error too.
		if errors.As(err, &u) || strings.HasPrefix(err.Error(), "unknown command ") {
			return 2
		}
		return 1
	}
	return 0
}

// invocationKey is the root command's annotation holding how the user
// invoked hotline.
const invocationKey = "invocation"

// invocation returns how to write a hotline command for the user who ran
// argv0: as they did, except for "go run", whose binary is gone after it.
func invocation(argv0 string) string {
	switch {
	case argv0 == "":
		return "hotline"
	case strings.Contains(argv0, "go-build"):
		return "go run ./cmd/hotline"
	}
	return argv0
}

// invokedAs returns how the user invoked hotline, for commands that print
// commands to run.
func invokedAs(cmd *cobra.Command) string {
	if s := cmd.Root().Annotations[invocationKey]; s != "" {
		return s
	}
	return "hotline"
}

// usageArgs makes every command's refusal of its arguments a usage error,
// like a refusal of its flags.
func usageArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

// withSub adds subcommands to cmd.
func withSub(cmd *cobra.Command, subs ...*cobra.Command) *cobra.Command {
	cmd.AddCommand(subs...)
	return cmd
}

// usageError marks an error caused by how the command was called rather
// than by what it tried to do.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// NewRoot returns the root command with every working subcommand
// registered.
func NewRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "hotline",
		Short: "A verifiable crisis-communication network for cyber incidents between states",
		Long: `hotline runs one party's node of a network defined by an agreement between
states: signed, end-to-end encrypted, typed messages (notifications, requests
for assistance or clarification, consultations, ping tests), each committed to
a witnessed Merkle log, with deadlines taken from the agreement.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	root.AddCommand(
		newVersionCmd(),
		newEnvelopeCmd(),
		newSTIXCmd(),
		newKeygenCmd(),
		newAgreementCmd(),
		newInitCmd(),
		newServeCmd(),
		newTestnetCmd(),
		newSendCmd(),
		newInboxCmd(),
		newShowCmd(),
		newAckCmd(),
		newRespondCmd(),
		newThreadCmd(),
		withSub(newComplianceCmd(), newComplianceExportCmd()),
		newEscalationsCmd(),
		newVerifyCmd(),
		newPeersCmd(),
		newDemoCmd(),
		newBenchCmd(),
		newCodesCmd(),
		newWaitCmd(),
		newLogCmd(),
	)
	usageArgs(root)
	return root
}

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

	"github.com/spf13/cobra"
)

// Run executes the hotline command line with args and returns the process
// exit status: 0 on success, 1 on a failed command, 2 on a usage error.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "hotline: %v\n", err)
		var u usageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	return 0
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
		newPeersCmd(),
		newDemoCmd(),
		newBenchCmd(),
		newCodesCmd(),
	)
	return root
}

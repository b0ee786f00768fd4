// Command hotline runs and operates a node of the hotline network: signed,
// end-to-end encrypted, logged messages between the parties to an agreement
// on cyber incidents. See the README and docs/ for what each subcommand does.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hotline-net/hotline/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.RunAs(ctx, os.Args[0], os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

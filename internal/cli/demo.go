package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline/body"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/tlog"
)

// demoLogFile is where the demo's nodes log, in the demo's folder.
const demoLogFile = "nodes.log"

func newDemoCmd() *cobra.Command {
	var (
		exit     bool
		dir      string
		language string
	)
	cmd := &cobra.Command{
		Use:   "demo [--exit] [--dir DIR] [--language fr|ar|zh|en|ru|es]",
		Short: "Tell the hotline's story on a network of five nodes running in this process",
		Long: `Demo builds a network on this machine — a depositary (DEP) and four fictional
states, each a real node with its own SQLite store, Merkle log and witness,
listening on 127.0.0.1 and talking HTTP — and narrates an incident line by line:
a clarification request about an intrusion at a grid operator, its receipt,
the acknowledgement, the response, an advisory to the group, and finally every
node's log checked against its signed checkpoint.

Agreement time is compressed by jumping the clock the nodes share; nothing else
is sped up. The nodes log to nodes.log in the demo's folder (warnings and errors
also to standard error).

After the story the nodes keep serving until Ctrl-C, and demo prints how to
reach them. --exit ends after the story instead. Without --dir the folders live
in a temporary directory removed at the end; --dir keeps them (it must be empty
or not exist).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lang, err := body.ParseLanguage(language)
			if err != nil {
				return usageError{fmt.Errorf("--language: %w", err)}
			}
			if dir != "" {
				if err := emptyDir(dir); err != nil {
					return err
				}
			} else {
				if dir, err = os.MkdirTemp("", "hotline-demo-"); err != nil {
					return err
				}
				defer os.RemoveAll(dir)
			}
			lf, err := os.OpenFile(filepath.Join(dir, demoLogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return err
			}
			defer lf.Close()
			logger := slog.New(slog.NewMultiHandler(
				slog.NewJSONHandler(lf, &slog.HandlerOptions{Level: slog.LevelInfo}),
				slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}),
			))
			tlog.RouteKlog(logger)
			return sim.Demo(cmd.Context(), cmd.OutOrStdout(), sim.DemoConfig{
				Dir: dir, Serve: !exit, Language: lang, Logger: logger,
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&exit, "exit", false, "end after the story instead of serving until Ctrl-C")
	f.StringVar(&dir, "dir", "", "keep the network's folders and agreement.json in DIR (empty or new)")
	f.StringVar(&language, "language", string(body.French), "the language the recipient's officer reads the codes in")
	return cmd
}

// emptyDir makes sure dir is an empty folder, creating it if needed.
func emptyDir(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); !errors.Is(err, io.EOF) {
		if err == nil {
			return fmt.Errorf("%s is not empty: the demo needs an empty or new folder", dir)
		}
		return err
	}
	return nil
}

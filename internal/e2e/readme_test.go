package e2e

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeLong are the README's commands that the README test leaves out:
// the demo and the whole test suite (the demo has its own tests, and the
// suite is what runs this test).
var readmeLong = []string{"go run ./cmd/hotline demo", "go test ./..."}

// readmeBuild is the README's build command; the test runs the binary
// TestMain built from the same tree instead.
const readmeBuild = "go build ./cmd/hotline"

// readmeBlock is one fenced sh block of the README.
type readmeBlock struct {
	line   int // of the opening fence
	script string
}

// readmeBlocks returns the README's fenced sh blocks, without the long
// commands and the build.
func readmeBlocks(tb testing.TB, readme []byte) []readmeBlock {
	tb.Helper()
	var (
		blocks []readmeBlock
		cur    *readmeBlock
		buf    strings.Builder
	)
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && line == "```sh":
			cur = &readmeBlock{line: n}
			buf.Reset()
		case cur != nil && line == "```":
			cur.script = buf.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cmd, _, _ := strings.Cut(line, "#")
			cmd = strings.TrimSpace(cmd)
			if cmd == readmeBuild || slices.Contains(readmeLong, cmd) {
				buf.WriteString("# (left out by the README test) " + line + "\n")
				continue
			}
			buf.WriteString(line + "\n")
		}
	}
	if cur != nil {
		tb.Fatalf("README.md:%d: an sh block without its closing fence", cur.line)
	}
	return blocks
}

// TestREADME runs every sh block of README.md as written, each in a fresh
// folder holding the hotline binary built from this tree as ./hotline,
// with bash -e: a command that fails fails the test. Nodes the README
// starts in the background are stopped when a block ends, whether it
// stopped them or not.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, readme)
	if len(blocks) < 3 {
		t.Fatalf("README.md has %d sh blocks; the test expects the two commands, the tour and the part without a node", len(blocks))
	}
	ran := 0
	var all strings.Builder
	for _, b := range blocks {
		if strings.TrimSpace(stripComments(b.script)) == "" {
			continue // only long commands
		}
		ran++
		out := runReadmeBlock(t, b)
		all.WriteString(out)
	}
	if ran < 2 {
		t.Fatalf("ran %d blocks of README.md", ran)
	}
	// testnet prints the commands that start the nodes as the binary was
	// invoked.
	if !strings.Contains(all.String(), "  ./hotline serve --dir net/BER\n") {
		t.Errorf("testnet did not print the command that starts BER's node as ./hotline serve:\n%s", tail(all.String(), 40))
	}
}

// stripComments drops the comment lines of a script.
func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// runReadmeBlock runs one block in a fresh folder and returns its output.
func runReadmeBlock(t *testing.T, b readmeBlock) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "hotline")); err != nil {
		t.Fatal(err)
	}
	// Whatever the block leaves running in the background is stopped
	// when it ends (the tour stops its nodes itself; this is for a block
	// that fails half-way).
	script := "set -eo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\n" + b.script
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	// Nothing the block started outlives it, even after a timeout.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err != nil {
		t.Fatalf("README.md:%d: the sh block failed (%v); its output ends:\n%s", b.line, err, tail(out.String(), 60))
	}
	t.Logf("README.md:%d: ran in %s", b.line, dir)
	return out.String()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// mustOperations returns docs/OPERATIONS.md.
func mustOperations(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "OPERATIONS.md"))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// fenced returns the fenced block that follows the first line of doc
// containing after.
func fenced(tb testing.TB, doc, after string) string {
	tb.Helper()
	i := strings.Index(doc, after)
	if i < 0 {
		tb.Fatalf("OPERATIONS.md has no %q", after)
	}
	rest := doc[i:]
	open := strings.Index(rest, "```")
	if open < 0 {
		tb.Fatalf("no block after %q", after)
	}
	rest = rest[open:]
	rest = rest[strings.Index(rest, "\n")+1:]
	return rest[:strings.Index(rest, "```")]
}

// TestOperationsNodeFolder checks OPERATIONS.md's description of a node
// folder against what init writes: every file is listed with its mode,
// keys/public.keys has the lines the example shows, in its order, and
// every config.json field is documented.
func TestOperationsNodeFolder(t *testing.T) {
	doc := mustOperations(t)
	dir := filepath.Join(t.TempDir(), "BER")
	if code := Run(context.Background(), []string{"init", "--party", "BER", "--dir", dir}, nil, io.Discard, io.Discard); code != 0 {
		t.Fatalf("init exited %d", code)
	}

	// The folder table: | `path`, `more` | what | mode |.
	modes := map[string]string{}
	section := doc[strings.Index(doc, "## A node folder"):]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	row := regexp.MustCompile("(?m)^\\| (`[^|]*) \\|[^|]*\\| ([^|]*)\\|$")
	name := regexp.MustCompile("`([^`]+)`")
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		mode := regexp.MustCompile(`0[0-7]{3}`).FindString(m[2])
		prefix := ""
		for i, n := range name.FindAllStringSubmatch(m[1], -1) {
			p := n[1]
			if i == 0 {
				prefix = filepath.Dir(p) + "/"
			} else if !strings.Contains(p, "/") && prefix != "./" {
				p = prefix + p
			}
			modes[p] = mode
		}
	}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		want, ok := modes[rel]
		if !ok {
			t.Errorf("init writes %s, which the node folder table does not list", rel)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if got := fmt.Sprintf("%04o", fi.Mode().Perm()); want != "" && got != want {
			t.Errorf("%s: mode %s, the table says %s", rel, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// keys/public.keys: the roles of the example, in order.
	firstWords := func(s string) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			out = append(out, strings.Fields(l)[0])
		}
		return out
	}
	example := fenced(t, doc, "`keys/public.keys`, as `init` writes it")
	pub, err := os.ReadFile(filepath.Join(dir, "keys", "public.keys"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := firstWords(string(pub)), firstWords(example); !slices.Equal(got, want) {
		t.Errorf("keys/public.keys has the lines %v, OPERATIONS.md shows %v", got, want)
	}
	if !strings.HasPrefix(string(pub), "party BER\n") || !strings.HasPrefix(example, "party BER\n") {
		t.Errorf("keys/public.keys starts %q, the example %q", firstLine(string(pub)), firstLine(example))
	}

	// config.json: every field init writes has a row.
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	for k := range cfg {
		if !strings.Contains(doc, "| `"+k+"` |") {
			t.Errorf("config.json field %q has no row in OPERATIONS.md", k)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// TestOperationsUsage checks that the usage OPERATIONS.md gives of each
// operator command names every flag the command has.
func TestOperationsUsage(t *testing.T) {
	doc := mustOperations(t)
	block := fenced(t, doc, "The operator commands talk to the running node")
	block = strings.ReplaceAll(block, "\\\n", " ")
	root := NewRoot(nil, io.Discard, io.Discard)
	usage := map[string]string{} // the lines of each command, joined
	for _, line := range strings.Split(block, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "hotline" {
			usage[f[1]] += line + "\n"
		}
	}
	seen := len(usage)
	for name, text := range usage {
		cmd, _, err := root.Find([]string{name})
		if err != nil || cmd == root {
			t.Errorf("OPERATIONS.md shows hotline %s, which is no command", name)
			continue
		}
		// Every flag, as its help lists them ("  -h, --help   help for ...").
		for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z-]+)`).FindAllStringSubmatch(cmd.Flags().FlagUsages(), -1) {
			if m[1] == "help" {
				continue
			}
			if !regexp.MustCompile(`--` + regexp.QuoteMeta(m[1]) + `\b`).MatchString(text) {
				t.Errorf("OPERATIONS.md's usage of hotline %s lacks --%s", name, m[1])
			}
		}
	}
	if seen < 5 {
		t.Errorf("found the usage of %d commands in OPERATIONS.md", seen)
	}
}

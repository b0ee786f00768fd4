// Package refusaltest finds the refusal codes packages declare, so that a
// test can hold an API's status map to every one of them: a code added
// to a package without a status would otherwise reach callers as an
// internal error, 500.
package refusaltest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hotline-net/hotline/internal/refusal"
	"github.com/hotline-net/hotline/internal/store"
)

// CheckEveryCode fails tb for each refusal code declared in dirs (see
// [Codes]) that status, an API's map, sends to 500, and if dirs declare
// fewer than atLeast codes (the scan found the wrong folders).
func CheckEveryCode(tb testing.TB, status func(code string) int, atLeast int, dirs ...string) {
	tb.Helper()
	codes := Codes(tb, dirs...)
	if len(codes) < atLeast {
		tb.Fatalf("found only %d codes in %v: %v", len(codes), dirs, codes)
	}
	for code, where := range codes {
		if st := status(code); st == http.StatusInternalServerError {
			tb.Errorf("%s (declared at %s) has no status", code, where)
		}
	}
	if st := status(refusal.Internal); st != http.StatusInternalServerError {
		tb.Errorf("%s: %d, want 500", refusal.Internal, st)
	}
}

// CheckStoreSentinels fails tb unless each store sentinel, wrapped as the
// node wraps it, has its own status in status, an API's map: not found
// 404, conflict 409, invalid 400, closed 503, storage full 503.
func CheckStoreSentinels(tb testing.TB, status func(code string) int) {
	tb.Helper()
	for _, tt := range []struct {
		err  error
		want int
	}{
		{store.ErrNotFound, http.StatusNotFound},
		{store.ErrConflict, http.StatusConflict},
		{store.ErrInvalid, http.StatusBadRequest},
		{store.ErrClosed, http.StatusServiceUnavailable},
		{store.ErrStorageFull, http.StatusServiceUnavailable},
	} {
		err := fmt.Errorf("reading message: %w", tt.err)
		if got := status(refusal.Code(err)); got != tt.want {
			tb.Errorf("%v: %d, want %d", err, got, tt.want)
		}
	}
}

// Codes returns every refusal code declared in the Go source (tests
// excluded) of the package directories dirs — each call of NewError or
// newError with a string literal as its code — mapped to where it is
// declared.
func Codes(tb testing.TB, dirs ...string) map[string]string {
	tb.Helper()
	codes := map[string]string{}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			tb.Fatal(err)
		}
		if len(files) == 0 {
			tb.Fatalf("no Go files in %s", dir)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				tb.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				var name string
				switch fn := call.Fun.(type) {
				case *ast.Ident:
					name = fn.Name
				case *ast.SelectorExpr:
					name = fn.Sel.Name
				}
				if name != "NewError" && name != "newError" {
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				code, err := strconv.Unquote(lit.Value)
				if err != nil {
					tb.Fatal(err)
				}
				codes[code] = fset.Position(lit.Pos()).String()
				return true
			})
		}
	}
	return codes
}

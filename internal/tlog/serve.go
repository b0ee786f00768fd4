package tlog

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Handler returns the C2SP tlog-tiles read API of the log:
//
//	GET /checkpoint
//	GET /tile/<L>/<N>[.p/<W>]
//	GET /tile/entries/<N>[.p/<W>]
//
// and nothing else (Tessera's private .state is never reachable). Paths are
// relative to where the handler is mounted: the node serves the log under
// /log/ with
//
//	mux.Handle("/log/", http.StripPrefix("/log", l.Handler()))
//
// so that a tlog-tiles client's prefix is https://<node>/log. The checkpoint
// carries the log's signature and the cosignatures collected so far for that
// same checkpoint. A partial tile whose file Tessera has removed (because
// the full tile exists) is cut from the full tile, so clients that do not
// fall back still get it. Entry bundles are not compressed: their entries are
// SHA-256 outputs, which do not compress.
func (l *Log) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkpoint", l.serveCheckpoint)
	mux.HandleFunc("GET /tile/", l.serveTile)
	var h http.Handler = mux
	if auth := l.cfg.Authorize; auth != nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if auth(w, r) {
				mux.ServeHTTP(w, r)
			}
		})
	}
	return http.MaxBytesHandler(h, 1<<10)
}

func (l *Log) serveCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := l.Checkpoint()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			http.Error(w, "no checkpoint yet", http.StatusNotFound)
			return
		}
		l.logger.Error("serving the checkpoint", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	body := cp.Note
	if l.wit != nil {
		body = l.wit.cosigned(cp)
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func (l *Log) serveTile(w http.ResponseWriter, r *http.Request) {
	a, err := parseTilePath(strings.TrimPrefix(r.URL.Path, "/"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	data, err := os.ReadFile(filepath.Join(l.tdir, filepath.FromSlash(a.path())))
	if os.IsNotExist(err) && a.width > 0 {
		full := a
		full.width = 0
		if data, err = os.ReadFile(filepath.Join(l.tdir, filepath.FromSlash(full.path()))); err == nil {
			data, err = truncateTile(a.entries, data, int(a.width))
		}
	}
	if os.IsNotExist(err) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		l.logger.Error("serving a tile", "path", a.path(), "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if l.cfg.Authorize == nil {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "private, max-age=31536000, immutable")
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The operator listener's default: a unix socket in the node folder, which
// only the node's own user can open (mode 0600).
const (
	OperatorSocket        = "operator.sock"
	DefaultOperatorListen = "unix:" + OperatorSocket
)

// OperatorEndpoint is where a node folder's operator API, /metrics and
// pprof are served: a base URL and an HTTP client that reaches it (over
// the unix socket, if it is one).
type OperatorEndpoint struct {
	Base   string
	Client *http.Client
}

// operatorAddr splits an operator_listen value into a network and an
// address: "unix:PATH" (PATH relative to the folder dir) or a TCP address.
func operatorAddr(dir, listen string) (network, addr string) {
	if listen == "" {
		listen = DefaultOperatorListen
	}
	if p, ok := strings.CutPrefix(listen, "unix:"); ok {
		return "unix", path(dir, p)
	}
	return "tcp", listen
}

// Operator returns the operator endpoint of node folder dir, as its
// config.json says. Its client times out after a minute.
func Operator(dir string) (*OperatorEndpoint, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	return operatorEndpoint(dir, cfg), nil
}

func operatorEndpoint(dir string, cfg *Config) *OperatorEndpoint {
	network, addr := operatorAddr(dir, cfg.OperatorListen)
	if network == "unix" {
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", addr)
			},
		}
		return &OperatorEndpoint{Base: "http://operator", Client: &http.Client{Transport: tr, Timeout: time.Minute}}
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	return &OperatorEndpoint{Base: scheme + "://" + addr, Client: &http.Client{Timeout: time.Minute}}
}

// listenOperator opens the operator listener. A socket file left behind by
// a node that is gone is removed first; one a running node answers on is
// an error (two processes must not serve one folder).
func listenOperator(dir string, cfg *Config) (net.Listener, error) {
	network, addr := operatorAddr(dir, cfg.OperatorListen)
	if network == "tcp" {
		return net.Listen("tcp", addr)
	}
	if st, err := os.Lstat(addr); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("operator socket %s: exists and is not a socket", addr)
		}
		if c, err := net.DialTimeout("unix", addr, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("operator socket %s: another process serves this node folder", addr)
		}
		if err := os.Remove(addr); err != nil {
			return nil, fmt.Errorf("removing a stale operator socket: %w", err)
		}
	}
	ln, err := listenUnixPrivate(addr)
	if err != nil {
		return nil, fmt.Errorf("operator socket %s: %w", addr, err)
	}
	return ln, nil
}

// listenUnixPrivate listens on a unix socket at addr and makes it 0600.
func listenUnixPrivate(addr string) (net.Listener, error) {
	if len(addr) > 104 {
		return nil, errors.New("path too long for a unix socket (over 104 bytes); set operator_listen to a shorter path or a loopback address")
	}
	ln, err := net.Listen("unix", addr)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(addr, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// Operator returns the endpoint of the node's operator listener.
func (s *Server) Operator() *OperatorEndpoint { return operatorEndpoint(s.dir, s.cfg) }

// OperatorAddr describes where the operator listener is, for people: the
// socket's path or the TCP address.
func (s *Server) OperatorAddr() string {
	network, addr := operatorAddr(s.dir, s.cfg.OperatorListen)
	if network == "unix" {
		return "unix:" + addr
	}
	return addr
}

// operatorSocketPath returns the operator socket's path, or "" when the
// operator listener is TCP.
func (s *Server) operatorSocketPath() string {
	network, addr := operatorAddr(s.dir, s.cfg.OperatorListen)
	if network != "unix" {
		return ""
	}
	return filepath.Clean(addr)
}

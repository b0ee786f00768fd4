package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/server"
)

// FromFolders returns the Config of a run from the target node's folder
// and the sending party's node folder, as "hotline bench --target DIR --as
// PARTY_DIR" does:
//
//   - the target's config.json gives its party and its address (a
//     listener on all interfaces is reached on loopback; a node serving
//     TLS is reached over HTTPS, its certificate trusted besides the
//     system's roots);
//   - the agreement file the target's config names gives the agreement;
//   - the sender's keys/ give its message key, which must be the one the
//     agreement lists for a party that ratified its latest version;
//   - the target's keys/, if they can be read, give the private keys the
//     crypto limit needs; if not, LimitUnavailable says why;
//   - the sender's node must not be running: bench signs as the sender
//     outside its node, with sequence numbers of its own, which on a live
//     channel would show the recipient a gap that never closes. Bench as a
//     party whose node does not run (a testnet's spare party).
//
// Messages, Concurrency and the rest are left at their zero values.
func FromFolders(targetDir, senderDir string) (Config, error) {
	tc, err := server.LoadConfig(targetDir)
	if err != nil {
		return Config{}, fmt.Errorf("target: %w", err)
	}
	agr, err := agreement.Load(resolve(targetDir, tc.Agreement))
	if err != nil {
		return Config{}, fmt.Errorf("target's agreement: %w", err)
	}
	sender, err := hotline.LoadKeySet(filepath.Join(senderDir, server.KeysDir))
	if err != nil {
		return Config{}, fmt.Errorf("sender's keys: %w", err)
	}
	if err := checkSender(agr, sender, tc.Party, time.Now()); err != nil {
		return Config{}, err
	}
	if err := checkNotRunning(senderDir, sender.Party); err != nil {
		return Config{}, err
	}
	c := Config{Target: tc.Party, Agreement: agr, Key: sender.Message}
	if c.URL, c.TLS, err = targetURL(targetDir, tc); err != nil {
		return Config{}, err
	}
	tk, err := hotline.LoadKeySet(filepath.Join(targetDir, server.KeysDir))
	switch {
	case err != nil:
		c.LimitUnavailable = fmt.Sprintf("the target's private keys cannot be read (%v)", err)
	case tk.Party != tc.Party:
		c.LimitUnavailable = fmt.Sprintf("the keys in the target's folder are %s's, not %s's", tk.Party, tc.Party)
	default:
		c.TargetKeys = tk
	}
	return c, nil
}

// checkNotRunning refuses a sender folder whose node answers on its
// operator listener.
func checkNotRunning(dir, party string) error {
	op, err := server.Operator(dir)
	if err != nil {
		return nil // no config: a folder of keys only, no node to run
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, op.Base+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := op.Client.Do(req)
	if err != nil {
		return nil
	}
	resp.Body.Close()
	return fmt.Errorf("%s's node is running (its folder %s answers): bench signs as %s outside its node, with sequence numbers the node does not know, which would corrupt the live channel; stop that node, or bench as a party whose node does not run", party, dir, party)
}

// checkSender refuses, before anything is sealed, a sender the target
// would refuse every envelope of.
func checkSender(agr *agreement.Agreement, ks *hotline.KeySet, target string, now time.Time) error {
	p, v := ks.Party, agr.Latest()
	if p == target {
		return fmt.Errorf("the sender and the target are both %s: a node does not receive from itself", p)
	}
	if _, err := v.Party(p); err != nil {
		return fmt.Errorf("%s is not a party to agreement version %d", p, v.Number())
	}
	if !agr.Ratified(p, v.Hash()) {
		return fmt.Errorf("%s has not ratified agreement version %d", p, v.Number())
	}
	key, err := agr.MessageKey(p, now)
	if err != nil {
		return fmt.Errorf("the agreement lists no message key of %s valid now: %w", p, err)
	}
	// The key in the folder must be the one the agreement lists: sign and
	// verify a probe.
	msg, err := note.Sign(&note.Note{Text: "hotline bench probe\n"}, ks.Message)
	if err == nil {
		_, err = note.Open(msg, note.VerifierList(key))
	}
	if err != nil {
		return fmt.Errorf("the message key in %s's folder is not the one the agreement lists", p)
	}
	return nil
}

// targetURL is the base URL the target's config listens on, as the
// operator commands reach it.
func targetURL(dir string, c *server.Config) (string, *tls.Config, error) {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return "", nil, fmt.Errorf("target: listen %q: %w", c.Listen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	addr := net.JoinHostPort(host, port)
	if c.TLSCert == "" {
		return "http://" + addr, nil, nil
	}
	pem, err := os.ReadFile(resolve(dir, c.TLSCert))
	if err != nil {
		return "", nil, fmt.Errorf("target's certificate: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return "", nil, fmt.Errorf("target's certificate %s holds no PEM certificate", c.TLSCert)
	}
	return "https://" + addr, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hotline-net/hotline"
)

// The files and folders of a node folder.
const (
	ConfigFile     = "config.json"
	KeysDir        = "keys"
	AdminTokenFile = "admin.token"
	DatabaseFile   = "hotline.db"
	LogDir         = "log"
	WitnessDir     = "witness"
	MirrorDir      = "mirror"
)

// Duration is a time.Duration written in JSON as Go writes durations
// ("1s", "5m", "1h30m").
type Duration time.Duration

// MarshalJSON implements [json.Marshaler].
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements [json.Unmarshaler].
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// Config is a node folder's config.json. Zero values are documented
// defaults; relative paths are relative to the node folder.
type Config struct {
	// Party is the party this node serves.
	Party string `json:"party"`
	// Listen is the address the node listens on for peers, e.g.
	// "0.0.0.0:7101": the peer API, the log, the witness, /healthz and
	// /readyz.
	Listen string `json:"listen"`
	// OperatorListen is where the operator API, /metrics and
	// /debug/pprof/ are served: "unix:PATH" (a socket, PATH relative to
	// the folder) or a TCP address, which should be loopback. Default
	// "unix:operator.sock". It must not be Listen.
	OperatorListen string `json:"operator_listen,omitempty"`
	// Agreement is the agreement file. Default "agreement.json".
	Agreement string `json:"agreement,omitempty"`
	// Database is a PostgreSQL URL; empty means SQLite in hotline.db.
	Database string `json:"database,omitempty"`
	// LogPublic serves the log to anyone; otherwise only to parties.
	LogPublic bool `json:"log_public"`
	// CheckpointInterval: a new checkpoint at least this often while
	// entries arrive. Default 1s.
	CheckpointInterval Duration `json:"checkpoint_interval,omitempty"`
	// HeartbeatInterval: checkpoints republished and witnesses asked again
	// this often. Default 60s.
	HeartbeatInterval Duration `json:"heartbeat_interval,omitempty"`
	// MaxEnvelope bounds accepted envelopes, in bytes. Default 16 MiB.
	MaxEnvelope int64 `json:"max_envelope,omitempty"`
	// Delivery tunes the outbox workers.
	Delivery DeliveryConfig `json:"delivery,omitzero"`
	// WatchInterval: how often the node judges the obligations it holds
	// and acts on warnings, alerts and escalation steps (package watch).
	// Default 1m.
	WatchInterval Duration `json:"watch_interval,omitempty"`
	// RateLimit bounds each peer's requests (default 100/s, bursts of
	// 1000; per_second -1 turns it off).
	RateLimit RateLimitConfig `json:"rate_limit,omitzero"`
	// TLSCert and TLSKey, if set, serve HTTPS with this certificate.
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
}

// RateLimitConfig is the per-peer rate limit of the peer API.
type RateLimitConfig struct {
	PerSecond float64 `json:"per_second,omitempty"`
	Burst     int     `json:"burst,omitempty"`
}

// DeliveryConfig tunes delivery; zero values are the defaults of packages
// outbox and relay.
type DeliveryConfig struct {
	Workers    int      `json:"workers,omitempty"`
	MinBackoff Duration `json:"min_backoff,omitempty"`
	MaxBackoff Duration `json:"max_backoff,omitempty"`
	AlertAfter Duration `json:"alert_after,omitempty"`
	// RelayAfter: how long direct delivery must fail before a relay is
	// tried. Default 1m.
	RelayAfter Duration `json:"relay_after,omitempty"`
	// RelayPull: how often this node asks relays for what they hold for
	// it. Default 30s.
	RelayPull Duration `json:"relay_pull,omitempty"`
	// RelayPush: how often a relay tries to hand on what it holds.
	// Default 10s.
	RelayPush Duration `json:"relay_push,omitempty"`
}

func (c *Config) check() error {
	if err := hotline.CheckPartyID(c.Party); err != nil {
		return fmt.Errorf("party: %w", err)
	}
	if c.Listen == "" {
		return errors.New("listen: an address such as 127.0.0.1:7101 is required")
	}
	if c.OperatorListen == c.Listen {
		return errors.New("operator_listen: the operator API must not be served on the peer port")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls_cert and tls_key go together")
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		return errors.New("database: a postgres:// URL, or empty for SQLite")
	}
	return nil
}

// LoadConfig reads and checks dir's config.json, refusing unknown fields.
func LoadConfig(dir string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	if c.Agreement == "" {
		c.Agreement = "agreement.json"
	}
	return &c, nil
}

// path resolves a path of the config relative to the node folder.
func path(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// InitOptions configures [Init].
type InitOptions struct {
	// Keys are the party's keys; nil generates a fresh set.
	Keys *hotline.KeySet
	// Origin names the log when keys are generated; default
	// hotline.DefaultOrigin(party).
	Origin string
	// Config is written as config.json; Party is set by Init.
	Config Config
}

// Init creates a node folder for party in dir (0700, also when dir
// existed): keys (private files 0600), config.json and an admin token
// (0600). It refuses a folder that already holds a config.
func Init(dir, party string, opts InitOptions) (*hotline.KeySet, error) {
	if err := hotline.CheckPartyID(party); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a node (config.json exists)", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// A folder that existed keeps its mode under MkdirAll: the node's
	// folder is its user's alone (its store holds decrypted bodies).
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	ks := opts.Keys
	if ks == nil {
		var err error
		if ks, err = hotline.GenerateKeySet(party, opts.Origin); err != nil {
			return nil, err
		}
		// The pre-rotation key the agreement will commit to (issue 14).
		if err := ks.GenerateNextRoot(); err != nil {
			return nil, err
		}
	}
	if ks.Party != party {
		return nil, fmt.Errorf("keys are %s's, not %s's", ks.Party, party)
	}
	if err := ks.Save(filepath.Join(dir, KeysDir)); err != nil {
		return nil, err
	}
	cfg := opts.Config
	cfg.Party = party
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:7100"
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	var tok [32]byte
	rand.Read(tok[:])
	if err := os.WriteFile(filepath.Join(dir, AdminTokenFile), []byte(hex.EncodeToString(tok[:])+"\n"), 0o600); err != nil {
		return nil, err
	}
	return ks, nil
}

// AdminToken reads dir's admin token, refusing a file others can read.
func AdminToken(dir string) (string, error) {
	name := filepath.Join(dir, AdminTokenFile)
	st, err := os.Stat(name)
	if err != nil {
		return "", err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s (mode %#o) is readable by other users; run chmod 600 on it", name, st.Mode().Perm())
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 32 {
		return "", fmt.Errorf("%s: token too short", name)
	}
	return tok, nil
}

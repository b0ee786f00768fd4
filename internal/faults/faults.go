// Package faults runs a fault campaign against a testnet of real node
// processes, seeded and bounded, and checks the network's invariants after
// every round (hotline bench faults).
//
// It makes a testnet (the depositary DEP, a relay and witness, and three
// parties), starts every node as its own process (hotline serve) behind a
// TCP proxy that the agreement lists as the node's endpoint, each with its
// own clock offset (HOTLINE_FAULT_CLOCK_OFFSET, drawn within ±2 minutes, so
// that any two nodes' clocks differ by up to 4 minutes, inside the
// 5-minute window of a signed request), and runs Rounds rounds. In each,
// the parties' operators send Messages/Rounds messages between random
// parties through their nodes' operator APIs; meanwhile one node's proxy
// delays, drops, resets or blackholes new connections for up to 3 s; and,
// by the round's number, in turn:
//
//   - a kill: one node — the sender of a message in flight, a recipient, or
//     the relay — is killed with SIGKILL at a random moment and started
//     again after a random pause;
//   - a restore: a party's node is backed up (stopped, copied, started) at
//     the round's start, receives the round's messages, is killed, and is
//     restored from the backup with hotline log restore before it starts
//     again;
//   - a full disk: from a random message on, for a few seconds, a party's
//     store fails every write as a full disk would
//     (HOTLINE_FAULT_STORE_FULL); meanwhile the campaign checks that the
//     node refuses a new message with 503, Retry-After and storage_full,
//     and still serves its status and its log;
//   - a skewed clock: a node is started again with its clock 6 minutes
//     beyond every other node's, past the request window; the campaign
//     waits until that node and at least one peer raise the clock-skew
//     alarm from heartbeat times, then starts it again with its own
//     offset.
//
// When every node is back, the round waits until no outbox holds anything
// undelivered, then checks:
//
//   - every message an operator was told was sent is received once by each
//     recipient, and the receipt the recipient holds is the one the sender
//     holds (a receipt matches a durable envelope);
//   - every node's log is consistent with every checkpoint of it that any
//     witness holds cosigned;
//   - no node counts an equivocation or an alarm, or logs one, but those
//     the round caused: the clock-skew alarm of a skewed-clock round and
//     the skewed node's cosignature timestamps going down as logs grow, as
//     a witness (its clock is set back at the round's start or end).
//
// The random choices come from Seed and the round's number: a campaign is
// the same campaign every time (the moments of the kills are real time, so
// what is in flight when one lands varies).
package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/opapi"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/tlog"
)

// Config configures a campaign. Binary is required.
type Config struct {
	Rounds   int
	Messages int // in all, spread over the rounds
	Seed     uint64
	// Binary is the hotline executable the nodes run as.
	Binary string
	// Dir receives the testnet and the nodes' logs (PARTY.log). Empty
	// means a temporary folder, removed at the end.
	Dir string
	// Progress, if set, receives a line per round.
	Progress io.Writer
	// Drain bounds the wait for every outbox to empty after a round. Zero
	// means 3 minutes.
	Drain time.Duration
}

// Round is what one round did.
type Round struct {
	Round      int      `json:"round"`
	Kind       string   `json:"kind"` // kill, restore, disk_full or clock_skew
	Sent       int      `json:"sent"`
	Refused    int      `json:"refused"` // sends an operator was told failed (its node was down)
	Faults     []string `json:"faults"`
	Invariants int      `json:"invariants_checked"`
	Seconds    float64  `json:"seconds"`

	// checked and violations are the round's own checks (a full disk's
	// answers, a skew's alarms), made while its faults were on.
	checked    int
	violations []string
	// caused lists the alarms the round's faults cause: a node's alarm
	// line holding every string of one of them is not a violation.
	caused [][]string
}

// Result is a campaign's outcome. Violations lists the invariants that did
// not hold; a campaign passes when it is empty.
type Result struct {
	Seed uint64 `json:"seed"`
	// Offsets are the nodes' clock offsets from the machine's clock.
	Offsets    map[string]string `json:"clock_offsets"`
	Rounds     []Round           `json:"rounds"`
	Sent       int               `json:"sent"`
	Faults     int               `json:"faults"`
	Invariants int               `json:"invariants_checked"`
	Violations []string          `json:"violations"`
	Seconds    float64           `json:"seconds"`
}

// parties of the campaign's testnet, besides the depositary.
var parties = []string{"BER", "CRI", "DOR"}

const depositary = "DEP"

// Round kinds, in turn by the round's number.
const (
	kindKill    = "kill"
	kindRestore = "restore"
	kindFull    = "disk_full"
	kindSkew    = "clock_skew"
)

var kinds = []string{kindKill, kindRestore, kindFull, kindSkew}

const (
	// maxOffset bounds each node's own clock offset: two nodes' clocks
	// differ by up to twice that, inside the request window (5 min).
	maxOffset = 2 * time.Minute
	// beyondWindow is how far past every other node's clock a
	// skewed-clock round puts one node's: past the request window.
	beyondWindow = 6 * time.Minute
)

// proc is one node process.
type proc struct {
	party, dir, logFile string
	bin                 string
	// offset is the node's clock offset (HOTLINE_FAULT_CLOCK_OFFSET);
	// fullFile, while it exists, makes its store fail writes
	// (HOTLINE_FAULT_STORE_FULL).
	offset   time.Duration
	fullFile string
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	op       *server.OperatorEndpoint
	token    string
}

func (p *proc) start() error {
	f, err := os.OpenFile(p.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, "serve", "--dir", p.dir, "--log-format", "json")
	cmd.Stdout, cmd.Stderr = io.Discard, f
	cmd.Env = p.env()
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); f.Close(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	return p.ready(time.Minute)
}

// env is the environment of the node's processes: the campaign's own,
// with the node's faults.
func (p *proc) env() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append(os.Environ(),
		"HOTLINE_FAULT_CLOCK_OFFSET="+p.offset.String(),
		"HOTLINE_FAULT_STORE_FULL="+p.fullFile)
}

// restart stops the node (SIGTERM) and starts it again with its clock
// offset set to offset.
func (p *proc) restart(offset time.Duration) error {
	p.stop(syscall.SIGTERM)
	p.mu.Lock()
	p.offset = offset
	p.mu.Unlock()
	return p.start()
}

// ready waits until the node answers /readyz.
func (p *proc) ready(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		done := p.done
		p.mu.Unlock()
		select {
		case <-done:
			return fmt.Errorf("%s exited while starting (see %s)", p.party, p.logFile)
		default:
		}
		resp, err := p.op.Client.Get(p.op.Base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %v (see %s)", p.party, timeout, p.logFile)
}

// stop sends sig and waits for the process to exit.
func (p *proc) stop(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// call calls the node's operator API.
func (p *proc) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.op.Base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.op.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

type sentMsg struct {
	id       string
	from, to string
	// lostBySender: the sender was restored from a backup taken before it
	// sent this; only the recipient holds it (and the sender's log its
	// entry, refilled from a peer's copy).
	lostBySender bool
}

const notice = `{"language":"en","title":"Fault campaign","summary":"A message of the fault campaign.","incident":{"start":"2026-11-26T22:00:00Z"}}`

// Run runs the campaign cfg describes.
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	if cfg.Rounds < 1 || cfg.Messages < cfg.Rounds {
		return nil, errors.New("faults: want at least one round and one message per round")
	}
	if cfg.Binary == "" {
		return nil, errors.New("faults: Config.Binary is required")
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 3 * time.Minute
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	dir := cfg.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "hotline-faults-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	proxies := map[string]*proxy{}
	defer func() {
		for _, px := range proxies {
			px.close()
		}
	}()
	nw, err := sim.Testnet(sim.TestnetConfig{
		Dir: filepath.Join(dir, "net"), Parties: parties,
		// In force from before the earliest clock the campaign gives a
		// node (its own offset, or a skewed-clock round's).
		Time: time.Now().Add(-maxOffset - beyondWindow - time.Minute),
		// Peers reach each node through a proxy that injects network
		// faults.
		Endpoint: func(party, listen string) string {
			px, err := newProxy()
			if err != nil {
				panic(err) // a loopback listener
			}
			px.target = listen
			proxies[party] = px
			go px.serve()
			return "http://" + px.addr()
		},
		Node: func(_ string, c *server.Config) {
			c.RateLimit = server.RateLimitConfig{PerSecond: -1}
			c.CheckpointInterval = server.Duration(200 * time.Millisecond)
			c.HeartbeatInterval = server.Duration(5 * time.Second)
			c.Delivery.MinBackoff = server.Duration(100 * time.Millisecond)
			c.Delivery.MaxBackoff = server.Duration(2 * time.Second)
			c.Delivery.RelayAfter = server.Duration(3 * time.Second)
			c.Delivery.RelayPull = server.Duration(2 * time.Second)
			c.Delivery.RelayPush = server.Duration(2 * time.Second)
		},
	})
	if err != nil {
		return nil, err
	}
	procs := map[string]*proc{}
	defer func() {
		for _, p := range procs {
			p.stop(syscall.SIGTERM)
		}
	}()
	// Each node's own clock offset, within ±maxOffset.
	orng := rand.New(rand.NewPCG(cfg.Seed, 0))
	res = &Result{Seed: cfg.Seed, Offsets: map[string]string{}, Violations: []string{}}
	for _, n := range nw.Nodes {
		op, err := server.Operator(n.Dir)
		if err != nil {
			return nil, err
		}
		token, err := server.AdminToken(n.Dir)
		if err != nil {
			return nil, err
		}
		p := &proc{party: n.Party, dir: n.Dir, logFile: filepath.Join(dir, n.Party+".log"), bin: cfg.Binary, op: op, token: token,
			offset:   time.Duration(orng.Int64N(int64(2*maxOffset)+1) - int64(maxOffset)).Truncate(time.Second),
			fullFile: filepath.Join(dir, n.Party+".disk-full")}
		res.Offsets[n.Party] = signed(p.offset)
		procs[n.Party] = p
		if err := p.start(); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(cfg.Progress, "clock offsets: %s\n", offsets(res.Offsets))
	start := time.Now()
	var all []sentMsg
	// Where each node's log was read up to: each round's check reads what
	// was logged since.
	marks := map[string]int64{}
	per := cfg.Messages / cfg.Rounds
	for r := 1; r <= cfg.Rounds; r++ {
		n := per
		if r == cfg.Rounds {
			n = cfg.Messages - per*(cfg.Rounds-1)
		}
		round, sent, err := runRound(ctx, cfg, nw, r, n, procs, proxies)
		if err != nil {
			return res, fmt.Errorf("round %d: %w", r, err)
		}
		all = append(all, sent...)
		violations := round.violations
		if err := drain(ctx, procs, cfg.Drain); err != nil {
			violations = append(violations, err.Error())
		}
		checked, bad := check(ctx, procs, nw, all, marks, round.caused)
		violations = append(violations, bad...)
		round.Invariants = checked + round.checked
		round.Seconds = time.Since(start).Seconds() - res.Seconds
		res.Seconds += round.Seconds
		for _, v := range violations {
			res.Violations = append(res.Violations, fmt.Sprintf("round %d: %s", r, v))
		}
		res.Rounds = append(res.Rounds, *round)
		res.Sent += round.Sent
		res.Faults += len(round.Faults)
		res.Invariants += round.Invariants
		fmt.Fprintf(cfg.Progress, "round %d (%s): %d sent (%d refused), faults: %s; %d invariants checked, %d violated (%.1fs)\n",
			r, round.Kind, round.Sent, round.Refused, strings.Join(round.Faults, ", "), round.Invariants, len(violations), round.Seconds)
		if len(violations) > 0 {
			break
		}
	}
	return res, nil
}

// runRound sends n messages between random parties while one node is
// killed and started again.
func runRound(ctx context.Context, cfg Config, nw *sim.Network, r, n int, procs map[string]*proc, proxies map[string]*proxy) (*Round, []sentMsg, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(r)))
	round := &Round{Round: r, Kind: kinds[(r-1)%len(kinds)], Faults: []string{}}
	// A network fault at one node's proxy, for a while from a message on.
	netAt := rng.IntN(n)
	netParty := append([]string{depositary}, parties...)[rng.IntN(len(parties)+1)]
	netFault := []string{faultDelay, faultDrop, faultReset, faultBlackhole}[rng.IntN(4)]
	netDelay := time.Duration(100+rng.IntN(900)) * time.Millisecond
	netFor := time.Duration(500+rng.IntN(2500)) * time.Millisecond
	desc := fmt.Sprintf("%s at %s's port from message %d for %v", netFault, netParty, netAt+1, netFor)
	if netFault == faultDelay {
		desc = fmt.Sprintf("delay of %v at %s's port from message %d for %v", netDelay, netParty, netAt+1, netFor)
	}
	round.Faults = append(round.Faults, desc)
	healed := make(chan struct{})
	var netOnce sync.Once
	injectNet := func(i int) {
		if i < netAt {
			return
		}
		netOnce.Do(func() {
			proxies[netParty].set(netFault, netDelay)
			go func() {
				time.Sleep(netFor)
				proxies[netParty].set(faultNone, 0)
				close(healed)
			}()
		})
	}
	waitHealed := func() {
		injectNet(n) // if no message reached it
		<-healed
	}
	defer waitHealed()
	plans := make([]plan, n)
	for i := range plans {
		from := parties[rng.IntN(len(parties))]
		to := parties[rng.IntN(len(parties)-1)]
		if to == from {
			to = parties[len(parties)-1]
		}
		plans[i] = plan{from, to}
	}
	switch round.Kind {
	case kindRestore:
		return restoreRound(ctx, cfg, nw, rng, round, n, procs, injectNet, waitHealed)
	case kindFull:
		return fullRound(ctx, rng, round, plans, procs, proxies, injectNet)
	case kindSkew:
		return skewRound(ctx, rng, round, plans, procs, injectNet, waitHealed)
	}
	at := rng.IntN(n)
	var victim, role string
	switch rng.IntN(3) {
	case 0:
		victim, role = plans[at].from, "sender"
	case 1:
		victim, role = plans[at].to, "recipient"
	default:
		victim, role = depositary, "relay"
	}
	pause := time.Duration(rng.IntN(2000)) * time.Millisecond
	round.Faults = append(round.Faults, fmt.Sprintf("SIGKILL %s %s at message %d, down %v", role, victim, at+1, pause))
	killed := make(chan error, 1)
	sent := sendAll(ctx, round, plans, procs, func(i int) {
		injectNet(i)
		if i == at {
			go func() {
				p := procs[victim]
				p.stop(syscall.SIGKILL)
				time.Sleep(pause)
				killed <- p.start()
			}()
		}
	})
	if err := <-killed; err != nil {
		return nil, nil, fmt.Errorf("starting %s again: %w", victim, err)
	}
	return round, sent, nil
}

// plan is a message to send: from's operator sends it to to.
type plan struct{ from, to string }

// sendAll sends the messages plans lists, 8 at a time, calling before(i)
// before the i-th, and returns those the operator was told were sent
// (round.Sent; round.Refused counts the others).
func sendAll(ctx context.Context, round *Round, plans []plan, procs map[string]*proc, before func(int)) []sentMsg {
	var (
		mu   sync.Mutex
		sent []sentMsg
		next = make(chan int)
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				before(i)
				var out opapi.SentResponse
				err := procs[plans[i].from].call(ctx, http.MethodPost, "/api/v1/messages", sendRequest(plans[i].to), &out)
				mu.Lock()
				if err != nil {
					round.Refused++
				} else {
					sent = append(sent, sentMsg{id: out.ID, from: plans[i].from, to: plans[i].to})
				}
				mu.Unlock()
			}
		})
	}
	for i := range plans {
		next <- i
	}
	close(next)
	wg.Wait()
	round.Sent = len(sent)
	return sent
}

func sendRequest(to string) opapi.SendRequest {
	return opapi.SendRequest{
		To: []string{to}, Kind: "notification", Severity: "high", Marking: "AMBER",
		Exercise: true, Body: json.RawMessage(notice),
	}
}

// fullRound makes a party's store fail every write, as a full disk would,
// from a random message on for a few seconds, while the round's messages
// are sent. Meanwhile it checks that the node refuses a new message with
// 503, Retry-After and storage_full, and still serves its status and its
// log. Once the file is gone the node must take writes again by itself:
// the drain and the invariants after the round show it.
func fullRound(ctx context.Context, rng *rand.Rand, round *Round, plans []plan, procs map[string]*proc, proxies map[string]*proxy, injectNet func(int)) (*Round, []sentMsg, error) {
	victim := parties[rng.IntN(len(parties))]
	at := rng.IntN(len(plans))
	dur := time.Duration(1500+rng.IntN(2500)) * time.Millisecond
	round.Faults = append(round.Faults, fmt.Sprintf("disk full at %s from message %d for %v", victim, at+1, dur))
	p := procs[victim]
	done := make(chan struct{})
	var once sync.Once
	var extra []sentMsg
	fill := func() {
		once.Do(func() {
			go func() {
				defer close(done)
				if err := os.WriteFile(p.fullFile, nil, 0o600); err != nil {
					round.violations = append(round.violations, fmt.Sprintf("filling %s's disk: %v", victim, err))
					return
				}
				until := time.Now().Add(dur)
				checked, bad, early := checkFull(ctx, p, proxies[victim].target, until)
				round.checked += checked
				round.violations = append(round.violations, bad...)
				extra = early
				time.Sleep(time.Until(until))
				if err := os.Remove(p.fullFile); err != nil {
					round.violations = append(round.violations, fmt.Sprintf("freeing %s's disk: %v", victim, err))
				}
			}()
		})
	}
	sent := sendAll(ctx, round, plans, procs, func(i int) {
		injectNet(i)
		if i >= at {
			fill()
		}
	})
	fill() // if no message reached it
	<-done
	round.Sent += len(extra)
	return round, append(sent, extra...), nil
}

// checkFull checks, once the store of p fails writes and until until, that
// p refuses a new message with 503, Retry-After and storage_full, and still
// serves its status and its log (at logBase, the node's own address, not
// its proxy's). It returns how many checks it made, the violations, and
// the messages its own attempts sent before the node noticed (to check
// like any other).
func checkFull(ctx context.Context, p *proc, logBase string, until time.Time) (int, []string, []sentMsg) {
	var bad []string
	var sent []sentMsg
	to := parties[0]
	if to == p.party {
		to = parties[1]
	}
	// The node notices the file within its check interval: wait for the
	// first refusal.
	var status int
	var retry, code, id string
	for {
		status, retry, code, id = p.send(ctx, sendRequest(to))
		if id != "" {
			sent = append(sent, sentMsg{id: id, from: p.party, to: to})
		}
		if status == http.StatusServiceUnavailable || time.Now().After(until) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status != http.StatusServiceUnavailable || retry == "" || code != "storage_full" {
		bad = append(bad, fmt.Sprintf("%s, its disk full, answered a new message with %d, Retry-After %q, code %q (want 503, a Retry-After, storage_full)", p.party, status, retry, code))
	}
	var st opapi.StatusResponse
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.call(sctx, http.MethodGet, "/api/v1/status", nil, &st); err != nil {
		bad = append(bad, fmt.Sprintf("%s, its disk full, did not serve its status: %v", p.party, err))
	}
	// The operator client dials the operator socket whatever the URL: the
	// log is read over the node's own port.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + logBase + "/log/checkpoint")
	if err == nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
		}
	}
	if err != nil {
		bad = append(bad, fmt.Sprintf("%s, its disk full, did not serve its log's checkpoint: %v", p.party, err))
	}
	return 3, bad, sent
}

// send posts a message through p's operator API and returns the status,
// the Retry-After header and the error code of the answer, and the
// message's id if it was sent.
func (p *proc) send(ctx context.Context, in opapi.SendRequest) (status int, retryAfter, code, id string) {
	b, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.op.Base+"/api/v1/messages", bytes.NewReader(b))
	if err != nil {
		return 0, "", err.Error(), ""
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.op.Client.Do(req)
	if err != nil {
		return 0, "", err.Error(), ""
	}
	defer resp.Body.Close()
	// A success is an opapi.SentResponse, a refusal a refusal.Refusal.
	var e struct {
		ID   string `json:"id"`
		Code string `json:"code"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
	code = e.Code
	if resp.StatusCode/100 == 2 {
		id = e.ID
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), code, id
}

// skewRound starts a node again with its clock beyondWindow past every
// other node's, sends the round's messages, waits until the node and at
// least one peer raise the clock-skew alarm from heartbeat times, and
// starts the node again with its own offset. Messages to and from it wait
// in outboxes meanwhile (every signed request between it and a peer is
// refused as stale).
func skewRound(ctx context.Context, rng *rand.Rand, round *Round, plans []plan, procs map[string]*proc, injectNet func(int), waitHealed func()) (*Round, []sentMsg, error) {
	all := append([]string{depositary}, parties...)
	victim := all[rng.IntN(len(all))]
	lo, hi := time.Duration(0), time.Duration(0)
	for i, party := range all {
		if o := procs[party].offset; i == 0 || o < lo {
			lo = o
		}
		if o := procs[party].offset; i == 0 || o > hi {
			hi = o
		}
	}
	p := procs[victim]
	own := p.offset
	skewed := hi + beyondWindow
	if rng.IntN(2) == 0 {
		skewed = lo - beyondWindow
	}
	round.Faults = append(round.Faults, fmt.Sprintf("%s's clock set to %s (its own %s), past the request window", victim, signed(skewed), signed(own)))
	marks := map[string]int64{}
	for _, party := range all {
		m, err := fileSize(procs[party].logFile)
		if err != nil {
			return nil, nil, err
		}
		marks[party] = m
	}
	if err := p.restart(skewed); err != nil {
		return nil, nil, err
	}
	sent := sendAll(ctx, round, plans, procs, injectNet)
	waitHealed()
	// The alarm, from heartbeat times: on the skewed node and at least one
	// peer, within a few heartbeat intervals.
	deadline := time.Now().Add(time.Minute)
	var own0, peers []string
	for {
		own0, _, _ = alarmLines(p.logFile, marks[victim], "ALARM: clock skew")
		peers = peers[:0]
		for _, party := range all {
			if party == victim {
				continue
			}
			if l, _, _ := alarmLines(procs[party].logFile, marks[party], "ALARM: clock skew"); len(l) > 0 {
				peers = append(peers, party)
			}
		}
		if (len(own0) > 0 && len(peers) > 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	round.checked += 2
	if len(own0) == 0 {
		round.violations = append(round.violations, fmt.Sprintf("%s, its clock %s, raised no clock-skew alarm within a minute", victim, signed(skewed)))
	}
	if len(peers) == 0 {
		round.violations = append(round.violations, fmt.Sprintf("no peer of %s, its clock %s, raised a clock-skew alarm within a minute", victim, signed(skewed)))
	}
	round.Faults[len(round.Faults)-1] += fmt.Sprintf("; alarm raised by %s and by %s", victim, strings.Join(peers, ", "))
	// The alarms it caused: the skew, and its cosignatures' timestamps
	// going down as logs grow — its clock was set back, at the round's
	// start (skewed behind) or at its end (set right after ahead).
	round.caused = append(round.caused, []string{"ALARM: clock skew"},
		[]string{"cosignature timestamps go down", `"witness":"` + victim + `"`})
	if err := p.restart(own); err != nil {
		return nil, nil, err
	}
	return round, sent, nil
}

// restoreRound backs a party's node up (stopped, copied, started again),
// sends n messages between random parties, the party among them, waits
// until they are delivered, then kills the node, puts the backup in its
// place once a peer's copy of its log reaches what its witnesses cosigned,
// runs hotline log restore on it and starts it again: a restore
// from backup mid-run. What the party sent after the backup is held by its
// recipients only.
func restoreRound(ctx context.Context, cfg Config, nw *sim.Network, rng *rand.Rand, round *Round, n int, procs map[string]*proc, injectNet func(int), waitHealed func()) (*Round, []sentMsg, error) {
	victim := parties[rng.IntN(len(parties))]
	p := procs[victim]
	backup := p.dir + fmt.Sprintf(".backup-%d", round.Round)
	p.stop(syscall.SIGTERM)
	if err := copyDir(p.dir, backup); err != nil {
		return nil, nil, fmt.Errorf("backing up %s: %w", victim, err)
	}
	if err := p.start(); err != nil {
		return nil, nil, err
	}
	var sent []sentMsg
	for i := range n {
		injectNet(i)
		from := parties[rng.IntN(len(parties))]
		to := parties[rng.IntN(len(parties)-1)]
		if to == from {
			to = parties[len(parties)-1]
		}
		var out opapi.SentResponse
		if err := procs[from].call(ctx, http.MethodPost, "/api/v1/messages", sendRequest(to), &out); err != nil {
			round.Refused++
			continue
		}
		sent = append(sent, sentMsg{id: out.ID, from: from, to: to, lostBySender: from == victim})
	}
	round.Sent = len(sent)
	if err := drain(ctx, procs, cfg.Drain); err != nil {
		return nil, nil, err
	}
	// The restore asks every peer: it runs once the network is whole
	// again (a peer it cannot reach stops it, as it should).
	waitHealed()
	// What the restore needs of the peers once the node is gone: a copy
	// of its log as far as its witnesses cosigned it.
	if err := waitMirrored(ctx, nw, procs, victim, 2*time.Minute); err != nil {
		return nil, nil, err
	}
	p.stop(syscall.SIGKILL)
	if err := os.RemoveAll(p.dir); err != nil {
		return nil, nil, err
	}
	if err := copyDir(backup, p.dir); err != nil {
		return nil, nil, fmt.Errorf("restoring %s from its backup: %w", victim, err)
	}
	var restored struct {
		Before, After uint64
		Stored        int
		Copied        int
		CopiedFrom    string `json:"copied_from"`
	}
	restore := exec.CommandContext(ctx, p.bin, "log", "restore", "--dir", p.dir, "--json")
	restore.Env = p.env()
	out, err := restore.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return nil, nil, fmt.Errorf("hotline log restore --dir %s: %w", p.dir, err)
	}
	if err := json.Unmarshal(out, &restored); err != nil {
		return nil, nil, fmt.Errorf("hotline log restore's report: %w", err)
	}
	copied := ""
	if restored.Copied > 0 {
		copied = fmt.Sprintf(", %d entries from %s's copy", restored.Copied, restored.CopiedFrom)
	}
	round.Faults = append(round.Faults, fmt.Sprintf("SIGKILL %s, restored from a backup of the round's start: log %d → %d entries%s, %d messages stored again",
		victim, restored.Before, restored.After, copied, restored.Stored))
	if err := p.start(); err != nil {
		return nil, nil, err
	}
	return round, sent, nil
}

// copyDir copies a node folder's regular files (not a running node's
// operator socket).
func copyDir(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, info.Mode().Perm())
	})
}

// drain waits until no node has anything undelivered.
func drain(ctx context.Context, procs map[string]*proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		left := 0
		for _, party := range parties {
			var st opapi.StatusResponse
			if err := procs[party].call(ctx, http.MethodGet, "/api/v1/status", nil, &st); err != nil {
				return err
			}
			left += int(st.Undelivered)
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d deliveries still pending after %v", left, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// check checks the invariants over every message sent so far and every
// log, and returns how many checks it made and the violations.
//
// marks holds, per node, where its log was read up to; the lines logged
// since are read and marks moved on. An alarm line that holds every string
// of one of caused is not a violation: the round's faults caused it.
func check(ctx context.Context, procs map[string]*proc, nw *sim.Network, sent []sentMsg, marks map[string]int64, caused [][]string) (int, []string) {
	checked := 0
	var bad []string
	fail := func(format string, a ...any) {
		if len(bad) < 20 {
			bad = append(bad, fmt.Sprintf(format, a...))
		}
	}
	// A receipt issued while the recipient's store was full is recorded
	// there once the store takes writes again (tried again at most 5 s
	// apart): a recipient holding none yet is asked again until then.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	received := func(m sentMsg, in *opapi.Message) error {
		err := poll.Until(rctx, 250*time.Millisecond, func() (bool, error) {
			err := procs[m.to].call(ctx, http.MethodGet, "/api/v1/messages/"+m.id, nil, in)
			return in.Receipt != nil, err
		})
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil // no receipt yet: told below
		}
		return err
	}
	for _, m := range sent {
		var out, in opapi.Message
		if m.lostBySender {
			if err := received(m, &in); err != nil {
				fail("%s: %s does not hold a message its sender was told sent before being restored from a backup: %v", m.id, m.to, err)
				continue
			}
			checked++
			if in.Direction != "received" || in.Receipt == nil {
				fail("%s: %s holds it without a receipt", m.id, m.to)
			}
			checked++
			continue
		}
		if err := procs[m.from].call(ctx, http.MethodGet, "/api/v1/messages/"+m.id, nil, &out); err != nil {
			fail("%s: the sender has no message told sent: %v", m.id, err)
			continue
		}
		checked++
		if len(out.Deliveries) != 1 || out.Deliveries[0].State != "delivered" || out.Deliveries[0].Receipt == nil {
			fail("%s: not delivered to %s: %+v", m.id, m.to, out.Deliveries)
			continue
		}
		if err := received(m, &in); err != nil {
			fail("%s: %s holds no message the sender holds a receipt for: %v", m.id, m.to, err)
			continue
		}
		checked++
		switch {
		case in.Direction != "received":
			fail("%s: %s holds it as %q", m.id, m.to, in.Direction)
			continue
		case in.Receipt == nil:
			fail("%s: %s holds no receipt for it 30 s after the round, %s holds one", m.id, m.to, m.from)
			continue
		case in.Receipt.Note != out.Deliveries[0].Receipt.Note:
			fail("%s: %s's receipt is not the one %s holds", m.id, m.to, m.from)
			continue
		}
		checked++
	}
	// Logs against every witness's cosigned checkpoint of them.
	agr, err := loadAgreement(nw)
	if err != nil {
		return checked, append(bad, err.Error())
	}
	for _, owner := range append([]string{depositary}, parties...) {
		remote, cosigned, err := witnessedLog(ctx, agr, owner)
		if err != nil {
			fail("%v", err)
			continue
		}
		latest, err := remote.Checkpoint(ctx)
		if err != nil {
			fail("%s's log: %v", owner, err)
			continue
		}
		checked++
		for _, w := range append([]string{depositary}, parties...) {
			cp, ok := cosigned[w]
			if !ok {
				continue
			}
			newer, older := latest, cp
			if cp.Size > latest.Size {
				newer, older = cp, latest
			}
			if _, err := remote.VerifyConsistency(ctx, older, newer); err != nil {
				fail("%s's log is not consistent with the checkpoint of size %d witness %s holds: %v", owner, cp.Size, w, err)
				continue
			}
			checked++
		}
	}
	// No alarm without cause: in the counters, and in the nodes' logs.
	for _, party := range append([]string{depositary}, parties...) {
		n, err := alarms(ctx, procs[party])
		if err != nil {
			fail("%s's metrics: %v", party, err)
			continue
		}
		if n > 0 {
			fail("%s counts %d equivocations or alarms", party, n)
		}
		checked++
		lines, end, err := alarmLines(procs[party].logFile, marks[party], "")
		if err != nil {
			fail("%s's log: %v", party, err)
			continue
		}
		marks[party] = end
	lines:
		for _, l := range lines {
			for _, c := range caused {
				if containsAll(l, c) {
					continue lines
				}
			}
			fail("%s logged: %s", party, l)
		}
		checked++
	}
	return checked, bad
}

// alarmMessages are the messages a node logs at error level when it holds
// something against a peer or itself (OPERATIONS.md, "What to watch").
var alarmMessages = []string{"ALARM", "EQUIVOCATION", "equivocation", "receipt not backed", "ALERT", "log rewound"}

// alarmLines returns the error-level lines of a node's log (JSON lines)
// from byte from on that raise an alarm — those holding needle, if it is
// not empty — at most 20, and where the log ended.
func alarmLines(file string, from int64, needle string) ([]string, int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, from, err
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, from, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, from, err
	}
	// A line being written is read next time.
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	end := from + int64(len(b))
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		var l struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &l) != nil || l.Level != "ERROR" {
			continue
		}
		if needle != "" && !strings.Contains(l.Msg, needle) {
			continue
		}
		for _, m := range alarmMessages {
			if strings.Contains(l.Msg, m) {
				if len(line) > 400 {
					line = line[:400] + "…"
				}
				out = append(out, line)
				break
			}
		}
		if len(out) == 20 {
			break
		}
	}
	return out, end, nil
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// fileSize is the size of a node's log file.
func fileSize(file string) (int64, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// signed formats a clock offset with its sign.
func signed(d time.Duration) string {
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}

// offsets formats the nodes' clock offsets in a stable order.
func offsets(m map[string]string) string {
	var parts []string
	for _, party := range append([]string{depositary}, parties...) {
		parts = append(parts, party+" "+m[party])
	}
	return strings.Join(parts, ", ")
}

// alarms sums a node's equivocation and agreement alarm counters.
func alarms(ctx context.Context, p *proc) (int, error) {
	total, err := metricSum(ctx, p, func(series string) bool {
		return strings.HasPrefix(series, "hotline_equivocations_total") || strings.HasPrefix(series, "hotline_agreement_alarms_total") ||
			strings.HasPrefix(series, "hotline_mirror_failures_total{") && strings.Contains(series, `kind="mismatch"`)
	})
	return int(total), err
}

// metricSum reads p's /metrics and sums the series that match.
func metricSum(ctx context.Context, p *proc, match func(series string) bool) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.op.Base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := p.op.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	total := 0.0
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || strings.HasPrefix(line, "#") || !match(f[0]) {
			continue
		}
		var v float64
		fmt.Sscan(f[1], &v)
		total += v
	}
	return total, nil
}

// waitMirrored waits, up to within, until victim's log is cosigned as far
// as it goes and a peer's copy of it (hotline_mirror_entries) reaches
// that: what hotline log restore needs of the peers once victim is gone.
func waitMirrored(ctx context.Context, nw *sim.Network, procs map[string]*proc, victim string, within time.Duration) error {
	agr, err := loadAgreement(nw)
	if err != nil {
		return err
	}
	series := `hotline_mirror_entries{peer="` + victim + `"}`
	var latest, witnessed, mirrored uint64
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	err = poll.Until(wctx, 500*time.Millisecond, func() (bool, error) {
		remote, cosigned, err := witnessedLog(ctx, agr, victim)
		if err != nil {
			return false, err
		}
		latest, witnessed, mirrored = 0, 0, 0
		if cp, err := remote.Checkpoint(ctx); err == nil {
			latest = cp.Size
		}
		for _, cp := range cosigned {
			witnessed = max(witnessed, cp.Size)
		}
		for _, w := range append([]string{depositary}, parties...) {
			if w == victim {
				continue
			}
			if n, err := metricSum(ctx, procs[w], func(s string) bool { return s == series }); err == nil {
				mirrored = max(mirrored, uint64(n))
			}
		}
		return latest > 0 && witnessed == latest && mirrored >= witnessed, nil
	})
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("%s's log: %d entries, %d cosigned, the largest peer's copy %d, after %v", victim, latest, witnessed, mirrored, within)
	}
	return err
}

// witnessedLog returns a reader of owner's log (through its proxy) and
// the checkpoint of it each other node's witness holds cosigned, by
// witness (one that has cosigned none yet is left out).
func witnessedLog(ctx context.Context, agr *agreement.Agreement, owner string) (*tlog.Remote, map[string]tlog.Checkpoint, error) {
	now := time.Now()
	logKey, err := agr.CheckpointKey(owner, now)
	if err != nil {
		return nil, nil, fmt.Errorf("%s's checkpoint key: %w", owner, err)
	}
	eps, _ := agr.Endpoints(owner)
	if len(eps) == 0 {
		return nil, nil, fmt.Errorf("%s has no endpoint", owner)
	}
	remote, err := tlog.NewRemote(tlog.RemoteConfig{URL: eps[0] + "/log", Verifier: logKey})
	if err != nil {
		return nil, nil, err
	}
	cosigned := map[string]tlog.Checkpoint{}
	for _, w := range append([]string{depositary}, parties...) {
		if w == owner {
			continue
		}
		wk, err := agr.WitnessKey(w, now)
		if err != nil {
			return nil, nil, fmt.Errorf("%s's witness key: %w", w, err)
		}
		weps, _ := agr.Endpoints(w)
		if cp, err := tlog.FetchCosigned(ctx, nil, weps[0]+"/witness", logKey, wk); err == nil {
			cosigned[w] = cp
		}
	}
	return remote, cosigned, nil
}

func loadAgreement(nw *sim.Network) (*agreement.Agreement, error) {
	return agreement.Load(nw.Agreement)
}

package sim

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/body"
	"github.com/hotline-net/hotline/internal/evidence"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/tlog"
	"github.com/hotline-net/hotline/stix"
)

// Clock is the demo's clock: it runs at the pace of the system clock, from
// a start of its own, and moves forward only when [Clock.Advance] jumps it.
// That is how the demo compresses agreement time (hours between a request
// and its answer) without speeding up anything else: every node of the
// demo shares the one clock, so that envelopes, receipts and cosignatures
// all carry the story's time, while Tessera's timers, delivery backoff and
// checkpoint intervals keep their real durations.
//
// Durations measured on it between jumps are real durations: a receipt that
// came back 12 ms after its envelope was stored shows as 12 ms.
//
// A Clock is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// NewClock returns a clock that reads start now.
func NewClock(start time.Time) *Clock {
	return &Clock{offset: time.Until(start)}
}

// Now implements node.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset).UTC()
}

// Advance moves the clock forward by d. A clock never goes back: d ≤ 0
// changes nothing.
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

var _ node.Clock = (*Clock)(nil)

// DemoConfig configures [Demo].
type DemoConfig struct {
	// Dir receives agreement.json and the node folders. It must not hold a
	// network already. Required: the caller decides whether it is kept.
	Dir string
	// Serve keeps the nodes serving after the story, until ctx ends, and
	// prints how to reach them. False ends the demo after the story.
	Serve bool
	// Language is the language the recipient's watch officer reads the
	// codes of the request in. Zero means French.
	Language body.Language
	// Logger receives the nodes' own logs. Nil discards them. The demo
	// never calls tlog.RouteKlog: that is for the process's main.
	Logger *slog.Logger
	// Host is the address nodes listen on. Zero means 127.0.0.1.
	Host string
}

// The parties of the demo: four fictional states, as in the article hotline
// started from, where a cyber incident "perpetrated under false flag" can
// trigger escalation between states.
const (
	demoRequester = "ARV" // its grid operator is attacked
	demoHost      = "CRI" // the command servers sit in its territory
)

// demoParties returns the parties' ids, in the order the demo lists them.
func demoParties() []string { return []string{"ARV", "CRI", "DOR", "ESK"} }

// demoNames returns the names of the depositary and the parties.
func demoNames() map[string]string {
	return map[string]string{
		Depositary: "Depositary of the Hotline Agreement",
		"ARV":      "Republic of Arvenia",
		"CRI":      "Federal Republic of Crivena",
		"DOR":      "Kingdom of Dorvale",
		"ESK":      "Republic of Eskarra",
	}
}

// The jumps of the clock between the story's steps. The clock starts their
// sum before now, so that the story ends at the present and the nodes go on
// serving on real time (and folders kept with --dir stay consistent with
// any later run of "hotline serve").
const (
	jumpAck      = 35 * time.Minute
	jumpResponse = 5*time.Hour + 10*time.Minute
	jumpAdvisory = 50 * time.Minute
	jumpDeadline = 12*time.Hour + 30*time.Minute
	storySpan    = jumpAck + jumpResponse + jumpAdvisory + jumpDeadline
)

// How long the demo waits for something that takes milliseconds, or a
// checkpoint interval, before it gives up and says what it was waiting for.
const (
	deliveryTimeout   = 30 * time.Second
	checkpointTimeout = 30 * time.Second
	quorumWait        = 3 * time.Second
)

// demo is one run of the story.
type demo struct {
	cfg     DemoConfig
	out     *narrator
	clock   *Clock
	net     *Network
	agr     *agreement.Agreement // as read from agreement.json, as an auditor would
	servers map[string]*server.Server
	order   []string // the depositary, then the parties
	// response is the id of Crivena's response, for the commands serving
	// suggests.
	response hotline.ID
}

// Demo tells the story of the hotline on a network it builds in cfg.Dir: a
// depositary and four fictional states, each a real node (its own SQLite
// store, Merkle log and witness) listening on loopback and talking HTTP to
// the others, all in this process.
//
// Arvenia's grid operator sees an intrusion whose command servers sit in
// Crivena; Arvenia sends a critical clarification_request marked TLP:AMBER
// with STIX indicators; Crivena's receipt returns in milliseconds; Crivena
// acknowledges, investigates and responds that the servers were hijacked
// by a third party, offering assistance; its node refuses to re-share
// Arvenia's TLP:AMBER indicators at TLP:GREEN, and it shares indicators of
// its own as an advisory to the group "all" (every party but the
// depositary) and to the depositary. Finally every node's log is
// fetched over HTTP like an auditor would, its checkpoint verified with the
// key in agreement.json, and every message it sent or received, and every
// receipt it got, proved included.
//
// The narration goes to w, line by line as it happens. Agreement time is
// compressed by jumping a shared [Clock]; nothing else is sped up.
//
// With cfg.Serve the nodes then keep serving until ctx ends; either way
// Demo shuts them down cleanly before it returns. An error means the story
// could not be told to its end (the narration says how far it got).
func Demo(ctx context.Context, w io.Writer, cfg DemoConfig) (err error) {
	if cfg.Dir == "" {
		return errors.New("demo: a folder is required")
	}
	if cfg.Language == "" {
		cfg.Language = body.French
	}
	if _, err := body.ParseLanguage(string(cfg.Language)); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &demo{cfg: cfg, out: &narrator{w: w}, servers: map[string]*server.Server{}}
	d.clock = NewClock(time.Now().Add(-storySpan).Truncate(time.Second))

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var serveMu sync.Mutex
	var serveErrs []error
	defer func() {
		stop()
		wg.Wait()
		serveMu.Lock()
		defer serveMu.Unlock()
		if e := errors.Join(serveErrs...); e != nil && err == nil {
			err = fmt.Errorf("shutting down: %w", e)
		}
	}()
	serve := func(party string, s *server.Server) {
		wg.Go(func() {
			if e := s.Serve(runCtx); e != nil {
				serveMu.Lock()
				serveErrs = append(serveErrs, fmt.Errorf("%s: %w", party, e))
				serveMu.Unlock()
			}
		})
	}

	if err := d.start(runCtx, serve); err != nil {
		return err
	}
	if err := d.story(runCtx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w", ctx.Err())
		}
		return err
	}
	if !cfg.Serve {
		return nil
	}
	d.serving()
	<-ctx.Done()
	d.out.blank()
	d.out.plain("Stopping the nodes.")
	return nil
}

// start builds the network's folders and opens every node.
func (d *demo) start(ctx context.Context, serve func(string, *server.Server)) error {
	o := d.out
	o.plain("hotline demo: a crisis channel between four fictional states, told by their own nodes.")
	o.plain("Each node is a real hotline node on this machine, with its own SQLite store, Merkle log")
	o.plain("and witness, talking HTTP to the others. Only agreement time is compressed: a line such")
	o.plain("as [+35m] marks a jump of the clock the nodes share; nothing else is sped up.")
	o.blank()

	start := d.clock.Now()
	nw, err := Testnet(TestnetConfig{
		Dir:     d.cfg.Dir,
		Parties: demoParties(),
		Names:   demoNames(),
		Host:    d.cfg.Host,
		Time:    start,
		Listen:  true,
	})
	if err != nil {
		return fmt.Errorf("building the network: %w", err)
	}
	// Every listener is open before any node starts, so that a node's
	// first requests to its peers' witnesses wait in a backlog instead of
	// being refused while the peers start.
	listeners := map[string]net.Listener{}
	for _, n := range nw.Nodes {
		listeners[n.Party] = n.Listener
	}
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	d.net = nw
	if d.agr, err = agreement.Load(nw.Agreement); err != nil {
		return err
	}
	if err := d.agr.Verify(); err != nil {
		return err
	}
	for _, n := range nw.Nodes {
		d.order = append(d.order, n.Party)
	}

	bodies, err := node.NewTemplates()
	if err != nil {
		return err
	}
	t0 := time.Now()
	for _, n := range nw.Nodes {
		s, err := server.Open(ctx, n.Dir, server.Options{Bodies: bodies, Clock: d.clock, Logger: d.cfg.Logger, Listener: listeners[n.Party]})
		if err != nil {
			return fmt.Errorf("starting %s's node: %w", n.Party, err)
		}
		delete(listeners, n.Party) // the server owns it now
		d.servers[n.Party] = s
		serve(n.Party, s)
	}
	ready := time.Since(t0)

	o.plain("The network, in %s", nw.Dir)
	for _, p := range d.order {
		o.plain("  %-4s %-37s %s", p, demoNames()[p], d.servers[p].URL())
	}
	v := d.agr.Latest()
	o.plain("  agreement.json: version %d (%s), issued by %s, ratified by %s",
		v.Number(), short(v.Hash()), Depositary, joinAnd(demoParties()))
	o.plain("  %d nodes ready in %s", len(d.order), roundMS(ready))
	o.blank()
	o.plain("Agreement time starts at %s.", d.clock.Now().Format("2006-01-02 15:04 UTC"))
	o.blank()
	return nil
}

// sent is a message the story sent and the receipts it got back.
type sent struct {
	id       hotline.ID
	from     string
	to       []string
	receipts map[string]*hotline.Receipt
}

// story tells the incident, step by step.
func (d *demo) story(ctx context.Context) error {
	o := d.out
	cri := d.servers[demoHost].Node()
	now := d.clock.Now()

	// 1. Arvenia's clarification request.
	o.at(now, demoRequester, "Arvenia's transmission system operator reports an intrusion in its")
	o.more("control centre: an implant calls three command servers hosted in Crivena.")
	o.more("Arvenia draws no conclusion about who is behind it and asks Crivena to clarify.")
	c2 := []indicator{
		{name: "Command server 1", pattern: "[ipv4-addr:value = '203.0.113.45']"},
		{name: "Command server 2", pattern: "[ipv4-addr:value = '203.0.113.77']"},
		{name: "Command server 3", pattern: "[domain-name:value = 'telemetry-sync.cri.example']"},
	}
	arvSTIX, err := indicatorBundle("Arvenia national CERT", now, hotline.TLPAmber, c2)
	if err != nil {
		return err
	}
	detected := now.Add(-25 * time.Minute).Truncate(time.Second)
	request := body.Body{
		Language: "en",
		Title:    "Intrusion at our transmission system operator, controlled from servers in your territory",
		Summary: "At " + detected.Format("15:04") + " UTC our transmission system operator detected an implant in its control centre " +
			"network. It reports to three command servers hosted in Crivena (indicators attached). We draw no " +
			"conclusion about responsibility and ask for your clarification and help to stop the activity.",
		Incident: &body.Window{Start: now.Add(-3 * time.Hour).Truncate(time.Second), Detected: detected},
		Sectors:  []body.Sector{{Code: "energy", CriticalInfrastructure: true}},
		Norms:    []string{"13b", "13c", "13h"},
		Actions:  []string{"investigate", "block", "preserve_evidence", "report_back"},
		STIX:     arvSTIX,
	}
	req, err := d.send(ctx, demoRequester, node.Draft{
		To: []string{demoHost}, Kind: "clarification_request",
		Severity: hotline.SeverityCritical, Marking: hotline.TLPAmber, Exercise: true,
	}, &request)
	if err != nil {
		return err
	}
	o.more("%d STIX indicators, marked TLP:AMBER like the message", len(c2))
	if err := d.render(ctx, body.English, "clarification_request", &request, req.id, demoRequester); err != nil {
		return err
	}
	if err := d.awaitReceipts(ctx, req); err != nil {
		return err
	}
	rc := req.receipts[demoHost]
	o.more("the receipt %s holds, signed by %s:", demoRequester, demoHost)
	o.note(receiptText(ctx, d.servers[demoRequester], req.id, demoHost))
	if k, err := d.agr.Latest().Kind("clarification_request"); err == nil {
		ack, _ := k.Deadline(agreement.Acknowledge, hotline.SeverityCritical)
		resp, _ := k.Deadline(agreement.Respond, hotline.SeverityCritical)
		o.more("the agreement obliges %s to acknowledge within %s and respond within %s", demoHost, human(ack), human(resp))
	}
	got, err := cri.Store().Envelope(ctx, hotline.Received, req.id)
	if err != nil {
		return fmt.Errorf("reading the request at %s: %w", demoHost, err)
	}
	gotBody, err := body.Parse(got.Kind, got.Body)
	if err != nil {
		return fmt.Errorf("the request's body at %s: %w", demoHost, err)
	}
	if d.cfg.Language != body.English {
		o.at(rc.Received, demoHost, "The watch officer reads the codes in %s; the text stays as written:", languageName(d.cfg.Language))
		codes := &body.Body{Language: gotBody.Language, Title: gotBody.Title, Sectors: gotBody.Sectors, Norms: gotBody.Norms, Actions: gotBody.Actions}
		text, err := body.Render(d.cfg.Language, got.Kind, codes, body.Meta{Severity: got.Severity, Marking: got.Marking, Exercise: got.Exercise})
		if err != nil {
			return err
		}
		o.block(text)
	}
	o.blank()

	// 2. The acknowledgement.
	o.jump(d.clock, jumpAck, "Crivena's watch officer calls the national CERT, then acknowledges.")
	ack := body.Body{Language: "en", AcknowledgedBy: "Watch officer, Crivena national CERT",
		Text: "Received and read. Our national CERT is investigating the three servers."}
	ackMsg, err := d.reply(ctx, demoHost, req.id, "ack", &ack)
	if err != nil {
		return err
	}
	if err := d.awaitReceipts(ctx, ackMsg); err != nil {
		return err
	}
	o.more("acknowledged %s after %s's receipt of the request",
		human(ackMsg.receipts[demoRequester].Received.Sub(rc.Received)), demoHost)
	o.blank()

	// 3. The response.
	o.jump(d.clock, jumpResponse, "Crivena's CERT investigates: servers of a hosting company, hijacked weeks ago.")
	response := body.Body{
		Language: "en",
		Answer:   "information_provided",
		Summary: "The three servers belong to a hosting company in Crivena. They were compromised three weeks ago by " +
			"a criminal group operating from outside our territory and used as relays; the group controlled them from " +
			"an address abroad (indicators follow to the group, TLP:GREEN). The servers were taken down at " +
			d.clock.Now().Add(-40*time.Minute).Format("15:04") + " UTC and their disks preserved. We offer forensic " +
			"analysis of the images and further threat information.",
		Findings:     []string{"infrastructure_misused", "source_outside_territory", "activity_stopped"},
		ActionsTaken: []string{"investigate", "takedown", "preserve_evidence"},
		Assistance:   []string{"forensic_analysis", "threat_information"},
	}
	respMsg, err := d.reply(ctx, demoHost, req.id, "response", &response)
	if err != nil {
		return err
	}
	d.response = respMsg.id
	if err := d.render(ctx, body.English, "response", &response, respMsg.id, demoHost); err != nil {
		return err
	}
	if err := d.awaitReceipts(ctx, respMsg); err != nil {
		return err
	}
	o.more("answered %s after %s's receipt of the request",
		human(respMsg.receipts[demoRequester].Received.Sub(rc.Received)), demoHost)
	o.blank()

	// 4. The advisory, and the marking check on the way.
	o.jump(d.clock, jumpAdvisory, "Crivena warns the other parties and the depositary.")
	now = d.clock.Now()
	o.at(now, demoHost, "First try: forward Arvenia's indicators to them in a TLP:GREEN advisory.")
	leak := body.Body{Language: "en", Title: "Command servers used against a grid operator",
		Summary: "Indicators of the intrusion reported to us.", STIX: gotBody.STIX}
	b, err := leak.Marshal()
	if err != nil {
		return err
	}
	_, err = cri.Send(ctx, node.Draft{Group: "all", To: []string{Depositary}, Kind: "advisory",
		Severity: hotline.SeverityHigh, Marking: hotline.TLPGreen, Exercise: true, Body: b})
	if err == nil {
		return errors.New("the node sent TLP:AMBER indicators in a TLP:GREEN advisory")
	}
	if node.Code(err) != "invalid_body" || !strings.Contains(err.Error(), "stricter than the envelope") {
		return fmt.Errorf("the TLP:GREEN advisory was refused for another reason: %w", err)
	}
	o.more("refused by %s's own node, before anything is stored or sent:", demoHost)
	o.more("  %s: %s", node.Code(err), firstLine(err.Error()))
	o.more("Arvenia's indicators stay TLP:AMBER. Crivena shares its own findings instead.")
	own := []indicator{
		{name: "Controller of the hijacked servers", pattern: "[ipv4-addr:value = '198.51.100.23']"},
		{name: "Implant used against the grid operator", pattern: "[file:hashes.'SHA-256' = '4f6d7f1c0a9e3b2d8c5e6a7b9f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6']"},
	}
	criSTIX, err := indicatorBundle("Crivena national CERT", now, hotline.TLPGreen, own)
	if err != nil {
		return err
	}
	advisory := body.Body{
		Language: "en",
		Title:    "Hosting servers hijacked to attack a grid operator",
		Summary: "A criminal group broke into servers of a hosting company in Crivena and used them to control an " +
			"implant in a transmission system operator's network. The servers are down; the group's controller " +
			"and the implant are below. Look for them in energy networks.",
		Sectors: []body.Sector{{Code: "energy", CriticalInfrastructure: true}},
		Actions: []string{"monitor", "block", "share_indicators"},
		STIX:    criSTIX,
	}
	adv, err := d.send(ctx, demoHost, node.Draft{Group: "all", To: []string{Depositary}, Kind: "advisory",
		Severity: hotline.SeverityHigh, Marking: hotline.TLPGreen, Exercise: true}, &advisory)
	if err != nil {
		return err
	}
	o.more("%d STIX indicators of its own, marked TLP:GREEN", len(own))
	if err := d.render(ctx, body.English, "advisory", &advisory, adv.id, demoHost); err != nil {
		return err
	}
	if err := d.awaitReceipts(ctx, adv); err != nil {
		return err
	}
	o.blank()

	// 5. A request nobody answers.
	silent, closure, err := d.unanswered(ctx, respMsg)
	if err != nil {
		return err
	}

	if err := d.checkLogs(ctx, []*sent{req, ackMsg, respMsg, adv, silent, closure}); err != nil {
		return err
	}
	if err := d.compliance(ctx); err != nil {
		return err
	}
	return d.evidence(ctx)
}

// unanswered tells the request Eskarra never answers: Arvenia asks it to
// stop the controller Crivena found, which sits in Eskarra's territory;
// Eskarra's node receipts it at once, and nobody answers. Twelve and a
// half hours later Arvenia closes its case with Crivena (which also grows
// its log, so that witnesses cosign a checkpoint after the deadline) and
// its node finds the acknowledgement missed: the channel was up.
func (d *demo) unanswered(ctx context.Context, answered *sent) (*sent, *sent, error) {
	o := d.out
	const silentParty = "ESK"
	now := d.clock.Now()
	o.at(now, demoRequester, "Crivena's controller address, 198.51.100.23, is announced from Eskarra. Arvenia asks")
	o.more("Eskarra to stop it.")
	mitigation := body.Body{
		Language: "en",
		Title:    "Controller of an implant in our grid operator's network, in your territory",
		Summary: "The address 198.51.100.23, announced from Eskarra, controlled an implant in our transmission system " +
			"operator's network through hijacked servers in Crivena (Crivena's advisory). We ask you to stop the " +
			"activity and preserve the evidence.",
		Incident: &body.Window{Start: now.Add(-10 * time.Hour).Truncate(time.Second)},
		Sectors:  []body.Sector{{Code: "energy", CriticalInfrastructure: true}},
		Norms:    []string{"13h"},
		Actions:  []string{"block", "preserve_evidence", "report_back"},
	}
	req, err := d.send(ctx, demoRequester, node.Draft{
		To: []string{silentParty}, Kind: "mitigation_request",
		Severity: hotline.SeverityHigh, Marking: hotline.TLPAmber, Exercise: true,
	}, &mitigation)
	if err != nil {
		return nil, nil, err
	}
	if err := d.awaitReceipts(ctx, req); err != nil {
		return nil, nil, err
	}
	o.more("the receipt %s holds, signed by %s:", demoRequester, silentParty)
	o.note(receiptText(ctx, d.servers[demoRequester], req.id, silentParty))
	k, err := d.agr.Latest().Kind("mitigation_request")
	if err != nil {
		return nil, nil, err
	}
	ackDeadline, _ := k.Deadline(agreement.Acknowledge, hotline.SeverityHigh)
	respDeadline, _ := k.Deadline(agreement.Respond, hotline.SeverityHigh)
	o.more("the agreement obliges %s to acknowledge within %s and respond within %s", silentParty, human(ackDeadline), human(respDeadline))
	o.blank()

	o.jump(d.clock, jumpDeadline, "Nobody at Eskarra acknowledges.")
	closure := body.Body{Language: "en", Resolution: "resolved",
		Summary: "The servers are down and the controller identified. We close the case with thanks."}
	closed, err := d.reply(ctx, demoRequester, answered.id, "closure", &closure)
	if err != nil {
		return nil, nil, err
	}
	if err := d.awaitReceipts(ctx, closed); err != nil {
		return nil, nil, err
	}
	// The verdict needs a checkpoint of Arvenia's log cosigned after the
	// due time by witnesses other than Arvenia: the closure's entries
	// bring one within a checkpoint interval.
	arv := d.servers[demoRequester].Node()
	var ob obligations.Obligation
	err = poll(ctx, checkpointTimeout, 20*time.Millisecond, func() (bool, error) {
		res, _, err := arv.Obligations(ctx, node.ObligationScope{Thread: req.id})
		if err != nil {
			return false, err
		}
		for _, x := range res.Obligations {
			if x.Message == req.id && x.Type == agreement.Acknowledge {
				ob = x
			}
		}
		return ob.State == obligations.Missed, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("waiting for %s's missed acknowledgement (%s: %s): %w", silentParty, ob.State, ob.Why, err)
	}
	o.at(d.clock.Now(), demoRequester, "Arvenia's node: %s's acknowledgement of %s was due %s; none came.",
		silentParty, short(req.id), ob.Due.Format("15:04 MST"))
	o.more("The channel was up: %s's node receipted it at %s (above).",
		silentParty, req.receipts[silentParty].Received.Format("15:04:05 MST"))
	o.more("Finding: nobody answered — not \"channel down\".")
	o.more("Escalation, as the node raises it: resend through the relay, notify Eskarra's")
	o.more("diplomatic contact, propose a consultation request.")
	o.blank()
	return req, closed, nil
}

// compliance prints who met what, by Arvenia's records: hotline
// compliance's report.
func (d *demo) compliance(ctx context.Context) error {
	o := d.out
	rep, err := d.servers[demoRequester].Node().Compliance(ctx, obligations.Filter{})
	if err != nil {
		return err
	}
	o.blank()
	o.plain("Who met what, by Arvenia's records (hotline compliance --dir %s/%s):", d.cfg.Dir, demoRequester)
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		o.plain("  %s", line)
	}
	return nil
}

// evidence ends the story as a third party would check it: every party's
// evidence bundle about every other (hotline compliance export), verified
// together offline against the agreement's genesis (hotline verify), the
// verdicts per party, and one bundle altered and refused.
func (d *demo) evidence(ctx context.Context) error {
	o := d.out
	dir := filepath.Join(d.cfg.Dir, "evidence")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	genesis := d.agr.Versions()[0].Hash()
	pin := evidence.Pin{Genesis: genesis}
	parties := demoParties()
	export := func() ([]*evidence.Bundle, []string, error) {
		var bs []*evidence.Bundle
		var files []string
		for _, p := range parties {
			s := d.servers[p]
			for _, q := range parties {
				if q == p {
					continue
				}
				src := s.EvidenceSource()
				ex, err := evidence.Export(ctx, src, q, time.Time{}, time.Time{})
				if err != nil {
					return nil, nil, fmt.Errorf("exporting %s's evidence about %s: %w", p, q, err)
				}
				data, err := ex.Bundle.Marshal(src.Keys.Message)
				if err != nil {
					return nil, nil, err
				}
				name := filepath.Join(dir, p+"-about-"+q+".bundle")
				if err := os.WriteFile(name, data, 0o644); err != nil {
					return nil, nil, err
				}
				b, err := evidence.Parse(data)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", name, err)
				}
				bs = append(bs, b)
				files = append(files, name)
			}
		}
		return bs, files, nil
	}
	// The history of witnessed checkpoints is recorded as cosignatures
	// arrive: wait until Arvenia's holds the one after Eskarra's due time.
	var rep *evidence.Report
	var files []string
	err := poll(ctx, checkpointTimeout, 50*time.Millisecond, func() (bool, error) {
		bs, fs, err := export()
		if err != nil {
			return false, err
		}
		files = fs
		if rep, err = evidence.Verify(bs, pin, d.clock.Now()); err != nil {
			return false, err
		}
		for _, t := range rep.Tallies() {
			if t.Party == "ESK" && t.Missed > 0 {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("verifying the evidence bundles: %w", err)
	}
	o.blank()
	o.plain("Proof for anyone: each party exports its evidence about each other party (hotline compliance")
	o.plain("export), and a third state verifies all %d bundles offline, trusting nothing but the", len(files))
	o.plain("agreement's genesis, %s (hotline verify %s/*.bundle --genesis %s):", short(genesis), dir, genesis)
	var size int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			size += fi.Size()
		}
	}
	var n struct{ env, rc, cp, inc int }
	for _, b := range rep.Bundles {
		n.env += b.Envelopes
		n.rc += b.Receipts
		n.cp += b.Checkpoints
		n.inc += b.Inclusion
	}
	o.plain("  %d bundles, %d KB: %d envelopes, %d receipts, %d witnessed checkpoints, %d inclusion proofs: verified",
		len(files), (size+1023)/1024, n.env, n.rc, n.cp, n.inc)
	o.plain("  %-4s %4s %5s %7s %5s", "", "met", "late", "missed", "other")
	for _, t := range rep.Tallies() {
		o.plain("  %-4s %4d %5d %7d %5d", t.Party, t.Met, t.Late, t.Missed, t.All-t.Met-t.Late-t.Missed)
	}
	for _, ob := range rep.Obligations {
		if ob.State == obligations.Missed {
			o.plain("  %s missed: %s of %s (%s), due %s — %s", ob.To, ob.Type, short(ob.Message), ob.Kind, ob.Due.Format("15:04 MST"), ob.Why)
		}
	}

	// One bundle altered: a byte of Arvenia's evidence about Eskarra.
	name := filepath.Join(dir, "ARV-about-ESK.bundle")
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	data[len(data)*2/3] ^= 0x01
	tampered := filepath.Join(dir, "ARV-about-ESK.tampered")
	if err := os.WriteFile(tampered, data, 0o644); err != nil {
		return err
	}
	b, err := evidence.Parse(data)
	if err == nil {
		_, err = evidence.Verify([]*evidence.Bundle{b}, pin, d.clock.Now())
	}
	if err == nil {
		return errors.New("an altered bundle verified")
	}
	o.plain("  %s, one byte flipped: refused: %s: %s", filepath.Base(tampered), hotline.ErrorCode(err), err)
	return nil
}

// send sends a message from party and narrates it.
func (d *demo) send(ctx context.Context, party string, dr node.Draft, b *body.Body) (*sent, error) {
	raw, err := b.Marshal()
	if err != nil {
		return nil, err
	}
	dr.Body = raw
	n := d.servers[party].Node()
	id, err := n.Send(ctx, dr)
	if err != nil {
		return nil, fmt.Errorf("%s sending a %s: %w", party, dr.Kind, err)
	}
	return d.narrateSent(ctx, party, id)
}

// reply answers message id as party and narrates it.
func (d *demo) reply(ctx context.Context, party string, id hotline.ID, kind string, b *body.Body) (*sent, error) {
	raw, err := b.Marshal()
	if err != nil {
		return nil, err
	}
	rid, err := d.servers[party].Node().Reply(ctx, id, kind, raw)
	if err != nil {
		return nil, fmt.Errorf("%s sending a %s: %w", party, kind, err)
	}
	s, err := d.narrateSent(ctx, party, rid)
	if err != nil {
		return nil, err
	}
	if kind == "ack" {
		d.out.more("by %q", b.AcknowledgedBy)
	}
	return s, nil
}

// narrateSent prints the line of a message just sent, from what the
// sender's store holds.
func (d *demo) narrateSent(ctx context.Context, party string, id hotline.ID) (*sent, error) {
	st := d.servers[party].Node().Store()
	e, err := st.Envelope(ctx, hotline.Sent, id)
	if err != nil {
		return nil, fmt.Errorf("reading %s's sent message: %w", party, err)
	}
	leaf, err := st.LeafOf(ctx, hotline.Sent, id)
	if err != nil {
		return nil, err
	}
	to := strings.Join(e.To, ",")
	var inGroup, named []string
	if e.Group != "" {
		// The stored recipients, told apart as the sender's node made
		// them: the group's members (the agreement's expansion, less the
		// sender) and those the sender named besides.
		members, err := d.agr.Latest().Expand(e.Group)
		if err != nil {
			return nil, err
		}
		for _, p := range e.To {
			if slices.Contains(members, p) {
				inGroup = append(inGroup, p)
			} else {
				named = append(named, p)
			}
		}
		to = strings.Join(append([]string{e.Group}, named...), ",")
	}
	head := []string{e.Kind, string(e.Severity), e.Marking.String()}
	if e.Exercise {
		head = append(head, "exercise")
	}
	d.out.at(e.Created, party+" → "+to, "%s  id %s", strings.Join(head, " · "), short(id))
	if e.Group != "" {
		d.out.more("to %s: the group %q as %s's node expanded it (every party but the depositary and the sender)",
			joinAnd(inGroup), e.Group, party)
		if len(named) > 0 {
			d.out.more("and to %s, named by the sender besides the group", joinAnd(named))
		}
	}
	d.out.more("signed, sealed to each recipient (ML-KEM-768 + X25519), entry %d in %s's log", leaf.Index, party)
	return &sent{id: id, from: party, to: e.To, receipts: map[string]*hotline.Receipt{}}, nil
}

// render prints a body as its sender's officer wrote it, in lang.
func (d *demo) render(ctx context.Context, lang body.Language, kind string, b *body.Body, id hotline.ID, party string) error {
	e, err := d.servers[party].Node().Store().Envelope(ctx, hotline.Sent, id)
	if err != nil {
		return err
	}
	text, err := body.Render(lang, kind, b, body.Meta{Severity: e.Severity, Marking: e.Marking, Exercise: e.Exercise})
	if err != nil {
		return err
	}
	d.out.block(text)
	return nil
}

// awaitReceipts waits until every recipient's receipt is back at the
// sender, verifies each against the recipient's message key in
// agreement.json, and narrates them.
func (d *demo) awaitReceipts(ctx context.Context, s *sent) error {
	st := d.servers[s.from].Node().Store()
	rows := map[string]store.OutboxRow{}
	err := poll(ctx, deliveryTimeout, 2*time.Millisecond, func() (bool, error) {
		for _, p := range s.to {
			if _, ok := rows[p]; ok {
				continue
			}
			row, err := st.OutboxEntry(ctx, s.id, p)
			if err != nil {
				return false, err
			}
			if row.State == store.OutboxDelivered && row.Receipt != nil {
				rows[p] = row
			}
		}
		return len(rows) == len(s.to), nil
	})
	if err != nil {
		var missing []string
		for _, p := range s.to {
			if _, ok := rows[p]; !ok {
				missing = append(missing, p)
			}
		}
		return fmt.Errorf("waiting for the receipts of %s from %s: %w", short(s.id), strings.Join(missing, ", "), err)
	}
	for _, p := range s.to {
		row := rows[p]
		key, err := d.agr.MessageKey(p, row.Delivered)
		if err != nil {
			return err
		}
		r, _, err := hotline.OpenReceipt(row.Receipt.Note, key)
		if err != nil {
			return fmt.Errorf("%s's receipt for %s: %w", p, short(s.id), err)
		}
		if r.Message != s.id || r.Party != p {
			return fmt.Errorf("%s's receipt names message %s of %s", p, short(r.Message), r.Party)
		}
		s.receipts[p] = r
		d.out.at(row.Delivered, p, "receipt after %s: opened, checked, stored; entry %d in %s's log",
			roundMS(row.Delivered.Sub(row.Queued)), r.LogIndex, p)
	}
	return nil
}

// receiptText returns the signed receipt the sender keeps.
func receiptText(ctx context.Context, s *server.Server, id hotline.ID, party string) string {
	r, err := s.Node().Store().Receipt(ctx, id, party)
	if err != nil {
		return err.Error()
	}
	return strings.TrimRight(string(r.Note), "\n")
}

// logCheck is what an auditor verified of one node's log.
type logCheck struct {
	party     string
	size      uint64
	leaves    map[hotline.Direction]int
	cosigners []string
	quorum    bool
}

// wantLeaf is one entry an auditor expects at an index of a log.
type wantLeaf struct {
	dir   hotline.Direction
	id    hotline.ID
	index uint64
}

// checkLogs verifies every node's log as an auditor would: the checkpoint
// fetched over HTTP and verified with the checkpoint key in agreement.json;
// each message the node sent (0x01) at the index its store names, each
// message it received (0x02) at the index its own signed receipt names,
// and each receipt it received (0x03), proved included.
func (d *demo) checkLogs(ctx context.Context, msgs []*sent) error {
	o := d.out
	o.plain("The logs, checked as an auditor would: each node's checkpoint fetched over HTTP and its")
	o.plain("signature verified with the key in agreement.json; every message the node sent (0x01) or")
	o.plain("received (0x02), and every receipt it got (0x03), proved included at its index; the")
	o.plain("depositary's log also holds every document of the agreement it accepted (0x04).")
	pol := d.agr.Latest().Policy()
	o.plain(logTableHead)
	var checks []logCheck
	for _, p := range d.order {
		var want []wantLeaf
		for _, m := range msgs {
			if m.from == p {
				leaf, err := d.servers[p].Node().Store().LeafOf(ctx, hotline.Sent, m.id)
				if err != nil {
					return err
				}
				want = append(want, wantLeaf{hotline.Sent, m.id, leaf.Index})
				for _, to := range m.to {
					key, err := d.agr.MessageKey(to, m.receipts[to].Received)
					if err != nil {
						return err
					}
					row, err := d.servers[p].Node().Store().OutboxEntry(ctx, m.id, to)
					if err != nil {
						return err
					}
					_, rid, err := hotline.OpenReceipt(row.Receipt.Note, key)
					if err != nil {
						return err
					}
					// The receipt's own entry is appended just after the
					// delivery is recorded.
					var leaf store.Leaf
					err = poll(ctx, deliveryTimeout, 5*time.Millisecond, func() (bool, error) {
						var err error
						leaf, err = d.servers[p].Node().Store().LeafOf(ctx, hotline.ReceiptReceived, rid)
						return err == nil && leaf.Sequenced, ignoreNotFound(err)
					})
					if err != nil {
						return fmt.Errorf("waiting for %s's log entry of %s's receipt: %w", p, to, err)
					}
					want = append(want, wantLeaf{hotline.ReceiptReceived, rid, leaf.Index})
				}
			}
			if r, ok := m.receipts[p]; ok {
				want = append(want, wantLeaf{hotline.Received, m.id, r.LogIndex})
			}
		}
		// Nothing the story did not send: the node's store agrees (once
		// the receipts it answered with are recorded).
		if err := d.servers[p].Node().Settle(ctx); err != nil {
			return err
		}
		for _, dir := range []hotline.Direction{hotline.Sent, hotline.Received} {
			n, err := d.servers[p].Node().Store().CountMessages(ctx, store.MessageFilter{Direction: dir})
			if err != nil {
				return err
			}
			if k := countDir(want, dir); int64(k) != n {
				return fmt.Errorf("%s's store holds %d messages in direction %s, the story %d", p, n, dir, k)
			}
		}
		// The depositary's node logs the agreement's documents.
		docs, err := server.LoggedDocuments(ctx, d.servers[p].Node().Store())
		if err != nil {
			return err
		}
		for h, i := range docs {
			want = append(want, wantLeaf{hotline.AgreementDocument, h, i})
		}
		c, err := d.checkLog(ctx, p, want, pol)
		if err != nil {
			return fmt.Errorf("%s's log: %w", p, err)
		}
		checks = append(checks, c)
		o.plain("%s", c.row())
	}
	quorum, entries, accounted := 0, uint64(0), true
	for _, c := range checks {
		if c.quorum {
			quorum++
		}
		entries += c.size
		accounted = accounted && c.size == uint64(c.leaves[hotline.Sent]+c.leaves[hotline.Received]+c.leaves[hotline.ReceiptReceived]+c.leaves[hotline.AgreementDocument])
	}
	o.blank()
	if accounted {
		o.plain("Every one of the %d entries is accounted for: a message sent or received, a receipt, or an agreement document.", entries)
	}
	o.plain("The witness quorum of the agreement is %d cosignatures from witnesses other than the log's", pol.Threshold())
	o.plain("owner; %d of the %d checkpoints above already meet it.", quorum, len(checks))
	o.plain("all %d logs verified against their signed checkpoints", len(checks))
	return nil
}

// checkLog waits for a checkpoint of party's log that covers every wanted
// entry, verifies it and the inclusion of each entry, and gives witnesses a
// moment to cosign.
func (d *demo) checkLog(ctx context.Context, party string, want []wantLeaf, pol *agreement.Policy) (logCheck, error) {
	c := logCheck{party: party, leaves: map[hotline.Direction]int{}}
	now := d.clock.Now()
	origin, err := d.agr.LogOrigin(party)
	if err != nil {
		return c, err
	}
	key, err := d.agr.CheckpointKey(party, now)
	if err != nil {
		return c, err
	}
	remote, err := tlog.NewRemote(tlog.RemoteConfig{URL: d.servers[party].URL() + "/log", Verifier: key})
	if err != nil {
		return c, err
	}
	var need uint64
	for _, w := range want {
		need = max(need, w.index+1)
	}
	var cp tlog.Checkpoint
	err = poll(ctx, checkpointTimeout, 50*time.Millisecond, func() (bool, error) {
		cp, err = remote.Checkpoint(ctx)
		return err == nil && cp.Size >= need, err
	})
	if err != nil {
		return c, fmt.Errorf("waiting for a checkpoint of %d entries: %w", need, err)
	}
	// Witnesses cosign asynchronously: give them a moment, no more.
	witnesses := map[string]note.Verifier{}
	for _, w := range pol.Witnesses() {
		if w == party {
			continue
		}
		if witnesses[w], err = d.agr.WitnessKey(w, now); err != nil {
			return c, err
		}
	}
	deadline := time.Now().Add(quorumWait)
	for {
		c.cosigners = cosigners(cp.Note, key, witnesses)
		c.quorum = pol.SatisfiedWithout(party, func(w string) bool { return slices.Contains(c.cosigners, w) })
		if c.quorum || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
		if next, err := remote.Checkpoint(ctx); err == nil && next.Size >= need {
			cp = next
		}
	}
	c.size = cp.Size
	for _, w := range want {
		entry := hotline.LeafEntry(origin, w.dir, w.id)
		if _, err := remote.VerifyInclusion(ctx, cp, w.index, entry); err != nil {
			return c, fmt.Errorf("entry %d (%s %s): %w", w.index, w.dir, short(w.id), err)
		}
		c.leaves[w.dir]++
	}
	return c, nil
}

// logTableHead heads the lines of [logCheck.row].
const logTableHead = "  log  size  sent  received  receipts  included  cosigned by"

// row is one line of the log check, under logTableHead.
func (c *logCheck) row() string {
	count := func(dir hotline.Direction) string {
		if n := c.leaves[dir]; n > 0 {
			return fmt.Sprint(n)
		}
		return "-"
	}
	total := c.leaves[hotline.Sent] + c.leaves[hotline.Received] + c.leaves[hotline.ReceiptReceived] + c.leaves[hotline.AgreementDocument]
	cos := "nobody yet"
	if len(c.cosigners) > 0 {
		cos = strings.Join(c.cosigners, ", ")
	}
	return fmt.Sprintf("  %-4s %4d  %4s  %8s  %8s  %8s  %s", c.party, c.size,
		count(hotline.Sent), count(hotline.Received), count(hotline.ReceiptReceived), fmt.Sprintf("%d/%d", total, total), cos)
}

// serving prints how to reach the nodes while they keep serving.
func (d *demo) serving() {
	o := d.out
	dir := func(p string) string { return d.nodeInfo(p).Dir }
	o.blank()
	o.plain("The nodes keep serving until Ctrl-C:")
	for _, p := range d.order {
		o.plain("  %-4s %-24s %s", p, d.servers[p].URL(), dir(p))
	}
	o.blank()
	o.plain("Be a watch officer in another terminal (\"go run ./cmd/hotline\" where hotline is not installed):")
	o.plain("  hotline inbox --dir %s", dir(demoRequester))
	if d.response != (hotline.ID{}) {
		o.plain("  hotline show --dir %s %s --language ar", dir(demoRequester), d.response.String()[:16])
	}
	o.plain(`  hotline send --dir %s --group all --kind advisory --marking GREEN --exercise \`, dir("DOR"))
	o.plain(`      --title "Scanning of grid control centres" --summary "Seen from new addresses since 02:00 UTC."`)
	if members, err := d.agr.Latest().Expand("all"); err == nil {
		members = slices.DeleteFunc(members, func(p string) bool { return p == "DOR" })
		o.plain(`  (the group "all" is every party but the depositary: from DOR it reaches %s; add --to %s for it too)`,
			joinAnd(members), Depositary)
	}
	o.plain("  hotline inbox --dir %s", dir("ESK"))
	o.plain("The operator API is under /api/v1/ on each folder's %s (a unix socket: not on", server.OperatorSocket)
	o.plain("the peer port), with the token in the folder's %s; logs are", server.AdminTokenFile)
	o.plain("public, e.g. %s/log/checkpoint", d.servers[demoRequester].URL())
}

func (d *demo) nodeInfo(party string) NodeInfo {
	for _, n := range d.net.Nodes {
		if n.Party == party {
			return n
		}
	}
	return NodeInfo{}
}

// indicator is one STIX indicator of the story.
type indicator struct{ name, pattern string }

// indicatorBundle returns a STIX 2.1 bundle of an identity (the producer)
// and its indicators, every object marked with m's TLP 2.0 marking
// definition, which the bundle carries.
func indicatorBundle(producer string, at time.Time, m hotline.Marking, inds []indicator) (json.RawMessage, error) {
	def, err := stix.MarkingDefinition(m)
	if err != nil {
		return nil, err
	}
	ts := at.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
	marking := []string{def.ID}
	identity := "identity--" + uuid4()
	objects := []any{
		def.Raw,
		map[string]any{
			"type": "identity", "spec_version": "2.1", "id": identity,
			"created": ts, "modified": ts, "name": producer, "identity_class": "organization",
			"object_marking_refs": marking,
		},
	}
	for _, in := range inds {
		objects = append(objects, map[string]any{
			"type": "indicator", "spec_version": "2.1", "id": "indicator--" + uuid4(),
			"created": ts, "modified": ts, "created_by_ref": identity,
			"name": in.name, "indicator_types": []string{"malicious-activity"},
			"pattern": in.pattern, "pattern_type": "stix", "valid_from": ts,
			"object_marking_refs": marking,
		})
	}
	return json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + uuid4(), "objects": objects})
}

// uuid4 returns a random RFC 9562 version 4 UUID, as STIX ids want.
func uuid4() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// cosigners lists the witnesses (by party) whose cosignature on the
// checkpoint verifies.
func cosigners(signed []byte, logKey note.Verifier, witnesses map[string]note.Verifier) []string {
	var vs []note.Verifier
	for _, v := range witnesses {
		vs = append(vs, v)
	}
	_, n, err := tlog.OpenCheckpoint(signed, logKey, vs...)
	if err != nil {
		return nil
	}
	var out []string
	for party, v := range witnesses {
		for _, s := range n.Sigs {
			if s.Name == v.Name() && s.Hash == v.KeyHash() {
				out = append(out, party)
			}
		}
	}
	slices.Sort(out)
	return out
}

func countDir(ws []wantLeaf, dir hotline.Direction) int {
	n := 0
	for _, w := range ws {
		if w.dir == dir {
			n++
		}
	}
	return n
}

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// poll calls cond every interval until it holds, fails, ctx ends or the
// timeout passes.
func poll(ctx context.Context, timeout, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// narrator writes the story: a column of agreement times, a column of who
// acts, and the text, continuation lines aligned under it.
type narrator struct {
	w io.Writer
}

const (
	timeCol  = 8  // "15:04:05"
	actorCol = 11 // "CRI → all  "
)

func (n *narrator) plain(format string, args ...any) {
	fmt.Fprintf(n.w, format+"\n", args...)
}

func (n *narrator) blank() { fmt.Fprintln(n.w) }

// at starts an event at agreement time t by actor.
func (n *narrator) at(t time.Time, actor, format string, args ...any) {
	fmt.Fprintf(n.w, "%s  %s%s\n", t.UTC().Format("15:04:05"), pad(actor, actorCol), fmt.Sprintf(format, args...))
}

// more continues an event, wrapping long text.
func (n *narrator) more(format string, args ...any) {
	for _, l := range wrap(fmt.Sprintf(format, args...), 100-(timeCol+2+actorCol)) {
		fmt.Fprintf(n.w, "%s%s\n", strings.Repeat(" ", timeCol+2+actorCol), l)
	}
}

// block prints a rendered body under an event, wrapping long lines at
// spaces.
func (n *narrator) block(text string) {
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		for _, l := range wrap(line, blockWidth) {
			n.quote(l)
		}
	}
}

// note prints a signed note under an event exactly as signed: its lines
// are not wrapped, so that it can be copied and verified.
func (n *narrator) note(text string) {
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		n.quote(line)
	}
}

func (n *narrator) quote(line string) {
	fmt.Fprintf(n.w, "%s│ %s\n", strings.Repeat(" ", timeCol+2+actorCol), line)
}

// blockWidth is the widest line of a block, so that the narration fits
// 100 columns.
const blockWidth = 100 - (timeCol + 2 + actorCol) - 2

// wrap cuts line at spaces into lines of at most width runes (a word longer
// than width stays whole). Continuation lines keep the line's indentation
// and right-to-left mark; those of a list item ("- ...") or of an unindented
// "Label: value" line hang two spaces further. A cut inside a bidirectional
// isolate (as Arabic renderings wrap free text and codes) closes it at the
// end of the line and opens it again on the next, so that every line stands
// on its own.
func wrap(line string, width int) []string {
	if utf8.RuneCountInString(line) <= width {
		return []string{line}
	}
	rest := strings.TrimPrefix(line, "\u200f")
	mark := line[:len(line)-len(rest)]
	spaces := rest[:len(rest)-len(strings.TrimLeft(rest, " "))]
	cont := mark + spaces
	if body := rest[len(spaces):]; strings.HasPrefix(body, "- ") || spaces == "" {
		cont += "  "
	}
	var (
		out  []string
		open []rune // isolate initiators not yet closed
		cur  = mark + spaces
		n    = 0 // words on cur
	)
	for _, word := range strings.Fields(rest) {
		if n > 0 && utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) > width {
			out = append(out, cur+strings.Repeat("\u2069", len(open)))
			cur, n = cont+string(open), 0
		}
		if n > 0 {
			cur += " "
		}
		cur += word
		n++
		for _, r := range word {
			switch r {
			case '\u2066', '\u2067', '\u2068':
				open = append(open, r)
			case '\u2069':
				if len(open) > 0 {
					open = open[:len(open)-1]
				}
			}
		}
	}
	return append(out, cur)
}

// jump advances the clock and says so.
func (n *narrator) jump(c *Clock, d time.Duration, why string) {
	c.Advance(d)
	fmt.Fprintf(n.w, "%s%s\n", pad(fmt.Sprintf("[+%s]", human(d)), timeCol+2+actorCol), why)
}

func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s + " "
}

// short is the first sixteen hex digits of an id, as officers quote them
// (hotline inbox lists them so, hotline show accepts them).
func short(id hotline.ID) string { return id.String()[:16] }

// human writes a duration of the story: "35m", "5h10m", "12h".
func human(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	default:
		return fmt.Sprintf("%dh%02dm", h, m)
	}
}

// roundMS writes a short real duration in milliseconds.
func roundMS(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}

func joinAnd(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func languageName(l body.Language) string {
	if name, ok := body.Label(body.English, "language."+string(l)); ok {
		return name
	}
	return string(l)
}

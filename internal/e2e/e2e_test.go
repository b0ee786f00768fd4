package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/opapi"
	"github.com/hotline-net/hotline/internal/poll"
)

// TestNetwork runs a testnet as real processes, sends 500 messages
// unicast and to the group, and checks that each was received exactly once,
// receipted, counted, and logged: every receipt's index holds the
// recipient's 0x02 entry in its served log, verified with
// golang.org/x/mod/sumdb/tlog against the checkpoint key in agreement.json.
func TestNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes")
	}
	dir := testnet(t, "BER", "CRI", "DOR")
	parties := []string{"DEP", "BER", "CRI", "DOR"}
	agr, err := agreement.Load(filepath.Join(dir, "agreement.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The open group "all" holds every party but the depositary.
	groupAll, err := agr.Latest().Expand("all")
	if err != nil {
		t.Fatal(err)
	}
	procs := map[string]*proc{}
	ops := map[string]*operator{}
	for _, p := range parties {
		procs[p] = start(t, dir, p)
		ops[p] = newOperator(t, dir, p)
	}

	// 400 unicast messages round the three parties, 100 to the group.
	type job struct {
		from  string
		to    []string
		group string
	}
	var jobs []job
	pairs := [][2]string{{"BER", "CRI"}, {"CRI", "DOR"}, {"DOR", "BER"}, {"BER", "DOR"}}
	for i := range 400 {
		p := pairs[i%len(pairs)]
		jobs = append(jobs, job{from: p[0], to: []string{p[1]}})
	}
	for i := range 100 {
		jobs = append(jobs, job{from: parties[1+i%3], group: "all"})
	}
	want := map[string]map[string]bool{} // party → ids it must receive
	for _, p := range parties {
		want[p] = map[string]bool{}
	}
	sent := map[string][]string{} // sender → ids
	var mu sync.Mutex
	work := make(chan job)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 16 {
		wg.Go(func() {
			for j := range work {
				id, err := ops[j.from].send(context.Background(), j.to, j.group)
				if err != nil {
					t.Errorf("send from %s: %v", j.from, err)
					failed.Add(1)
					continue
				}
				mu.Lock()
				sent[j.from] = append(sent[j.from], id)
				to := j.to
				if j.group != "" {
					to = nil
					for _, p := range groupAll {
						if p != j.from {
							to = append(to, p)
						}
					}
				}
				for _, p := range to {
					want[p][id] = true
				}
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	if failed.Load() > 0 {
		for _, p := range parties {
			t.Logf("%s log:\n%s", p, procs[p].log())
		}
		t.FailNow()
	}

	for _, p := range parties {
		ops[p].drained(t, p)
	}
	// Each received exactly once, inbox counts right.
	for _, p := range parties {
		got := ops[p].received(t)
		if len(got) != len(want[p]) {
			t.Errorf("%s received %d messages, want %d", p, len(got), len(want[p]))
		}
		for id := range want[p] {
			if !got[id] {
				t.Errorf("%s never received %s", p, id)
			}
		}
		if s := ops[p].status(t); s.Received != int64(len(want[p])) {
			t.Errorf("%s's status counts %d received, want %d", p, s.Received, len(want[p]))
		}
	}

	// Every receipt's index holds the recipient's 0x02 entry in its served
	// log; every inbox message's entry is there.
	receipts := map[string][]receiptAt{} // recipient → receipts it issued
	for from, ids := range sent {
		for _, id := range ids {
			var m opapi.Message
			if err := ops[from].call(context.Background(), http.MethodGet, "/api/v1/messages/"+id, nil, &m); err != nil {
				t.Fatal(err)
			}
			for _, d := range m.Deliveries {
				if d.State != "delivered" || d.Receipt == nil {
					t.Errorf("%s → %s: %s, no receipt", id, d.Recipient, d.State)
					continue
				}
				receipts[d.Recipient] = append(receipts[d.Recipient], receiptAt{id: id, index: int64(d.Receipt.LogIndex)})
			}
		}
	}
	for _, p := range parties {
		origin, err := agr.LogOrigin(p)
		if err != nil {
			t.Fatal(err)
		}
		var maxIndex int64 = -1
		for _, r := range receipts[p] {
			maxIndex = max(maxIndex, r.index)
		}
		var entries map[[32]byte][]int64
		poll.Must(t, p+"'s checkpoint to cover its receipts", func() (bool, error) {
			var size int64
			size, entries = servedLog(t, dir, p, procs[p].url)
			return size > maxIndex, nil
		})
		for _, r := range receipts[p] {
			id, _ := hotline.ParseID(r.id)
			e := hotline.LeafEntry(origin, hotline.Received, id)
			if !contains(entries[e], r.index) {
				t.Errorf("%s's log does not hold the 0x02 entry of %s at index %d (it is at %v)", p, r.id, r.index, entries[e])
			}
		}
		for idHex := range want[p] {
			id, _ := hotline.ParseID(idHex)
			if len(entries[hotline.LeafEntry(origin, hotline.Received, id)]) != 1 {
				t.Errorf("%s's log holds the 0x02 entry of %s %d times, want once", p, idHex, len(entries[hotline.LeafEntry(origin, hotline.Received, id)]))
			}
		}
		for _, idHex := range sent[p] {
			id, _ := hotline.ParseID(idHex)
			if len(entries[hotline.LeafEntry(origin, hotline.Sent, id)]) != 1 {
				t.Errorf("%s's log does not hold the 0x01 entry of %s once", p, idHex)
			}
		}
	}
	if t.Failed() {
		return
	}
	for _, p := range parties {
		procs[p].stop()
	}
}

type receiptAt struct {
	id    string
	index int64
}

func contains(s []int64, v int64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// sender sends n messages from one node to another, one at a time, and
// records each acknowledged id; acked receives the count after each.
type sender struct {
	op    *operator
	to    string
	mu    sync.Mutex
	ids   []string
	acked chan int
}

func (s *sender) run(ctx context.Context, n int) {
	defer close(s.acked)
	for range n {
		if ctx.Err() != nil {
			return
		}
		id, err := s.op.send(ctx, []string{s.to}, "")
		if err != nil {
			continue // not acknowledged: the node was down; try the next
		}
		s.mu.Lock()
		s.ids = append(s.ids, id)
		k := len(s.ids)
		s.mu.Unlock()
		s.acked <- k
	}
}

// waitAcked waits until k sends were acknowledged.
func (s *sender) waitAcked(tb testing.TB, k int) {
	tb.Helper()
	for got := range s.acked {
		if got >= k {
			return
		}
	}
	tb.Fatalf("the sender stopped before %d acknowledged sends", k)
}

func (s *sender) drain() {
	for range s.acked {
	}
}

// checkExactlyOnce checks that the recipient holds every acknowledged id,
// each once.
func checkExactlyOnce(tb testing.TB, rcpt *operator, ids []string) {
	tb.Helper()
	got := rcpt.received(tb)
	for _, id := range ids {
		if !got[id] {
			tb.Errorf("acknowledged message %s was lost", id)
		}
	}
}

// TestCrashRecipient kills the recipient with SIGKILL while messages flow,
// after k acknowledged sends, and restarts it on the same port: nothing is
// lost, nothing is received twice, and the sender's outbox drains.
func TestCrashRecipient(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts node processes")
	}
	dir := testnet(t, "BER", "CRI")
	start(t, dir, "BER")
	cri := start(t, dir, "CRI")
	s := &sender{op: newOperator(t, dir, "BER"), to: "CRI", acked: make(chan int, 1000)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 120
	go s.run(ctx, n)
	for _, k := range []int{7, 45, 90} {
		s.waitAcked(t, k)
		cri.kill()
		cri = start(t, dir, "CRI")
	}
	s.drain()
	newOperator(t, dir, "BER").drained(t, "BER")
	crio := newOperator(t, dir, "CRI")
	checkExactlyOnce(t, crio, s.ids)
	if got := crio.status(t).Received; got != int64(len(s.ids)) {
		t.Errorf("CRI received %d messages, BER acknowledged %d sends", got, len(s.ids))
	}
	checkSameReceipts(t, newOperator(t, dir, "BER"), crio, s.ids)
}

// checkSameReceipts checks that the receipt the sender recorded for each
// message is, byte for byte, the one the recipient holds — including the
// receipts a recipient killed just after answering recorded only at its
// restart.
func checkSameReceipts(tb testing.TB, sender, rcpt *operator, ids []string) {
	tb.Helper()
	ctx := context.Background()
	for _, id := range ids {
		var sent, got opapi.Message
		if err := sender.call(ctx, http.MethodGet, "/api/v1/messages/"+id, nil, &sent); err != nil {
			tb.Fatal(err)
		}
		if len(sent.Deliveries) != 1 || sent.Deliveries[0].Receipt == nil {
			tb.Errorf("%s: sender holds no receipt: %+v", id, sent.Deliveries)
			continue
		}
		poll.Must(tb, "the recipient's receipt for "+id, func() (bool, error) {
			err := rcpt.call(ctx, http.MethodGet, "/api/v1/messages/"+id, nil, &got)
			return err == nil && got.Receipt != nil, err
		})
		if got.Receipt.Note != sent.Deliveries[0].Receipt.Note {
			tb.Errorf("%s: the recipient holds another receipt than the one it gave:\n%s\nsender's:\n%s",
				id, got.Receipt.Note, sent.Deliveries[0].Receipt.Note)
		}
	}
}

// TestCrashSender kills the sender after k acknowledged sends and restarts
// it: every acknowledged message is delivered once.
func TestCrashSender(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts node processes")
	}
	dir := testnet(t, "BER", "CRI")
	ber := start(t, dir, "BER")
	start(t, dir, "CRI")
	var all []string
	for round, k := range []int{5, 30} {
		s := &sender{op: newOperator(t, dir, "BER"), to: "CRI", acked: make(chan int, 1000)}
		ctx, cancel := context.WithCancel(context.Background())
		go s.run(ctx, 1000)
		s.waitAcked(t, k)
		ber.kill()
		cancel()
		s.drain()
		all = append(all, s.ids...)
		ber = start(t, dir, "BER")
		t.Logf("round %d: sender killed after %d acknowledged sends", round, len(s.ids))
	}
	newOperator(t, dir, "BER").drained(t, "BER")
	checkExactlyOnce(t, newOperator(t, dir, "CRI"), all)
}

// TestCrashBetweenRowAndLeaf kills a node between storing an envelope's
// pending row and appending its log entry — on the receiving side and on
// the sending side — and checks that the restarted node resolves it:
// appended once, receipted, delivered.
func TestCrashBetweenRowAndLeaf(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts node processes")
	}
	dir := testnet(t, "BER", "CRI")
	berOp, criOp := newOperator(t, dir, "BER"), newOperator(t, dir, "CRI")

	// The recipient dies at its 3rd envelope, after the pending row.
	first := start(t, dir, "BER")
	cri := start(t, dir, "CRI", "HOTLINE_TEST_KILL_BEFORE_APPEND=3")
	var ids []string
	for range 5 {
		id, err := berOp.send(context.Background(), []string{"CRI"}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	poll.Must(t, "CRI to die at its third envelope", func() (bool, error) { return cri.exited(), nil })
	start(t, dir, "CRI")
	berOp.drained(t, "BER")
	checkExactlyOnce(t, criOp, ids)

	// The sender dies at its 2nd send, after the pending row: that send is
	// never acknowledged, but once restarted the node logs and delivers it.
	before := criOp.status(t).Received
	first.stop()
	ber := start(t, dir, "BER", "HOTLINE_TEST_KILL_BEFORE_APPEND=2")
	if _, err := berOp.send(context.Background(), []string{"CRI"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := berOp.send(context.Background(), []string{"CRI"}, ""); err == nil {
		t.Fatal("the send that killed the node was acknowledged")
	}
	poll.Must(t, "BER to die at its second send", func() (bool, error) { return ber.exited(), nil })
	start(t, dir, "BER")
	berOp.drained(t, "BER")
	poll.Must(t, "both messages at CRI", func() (bool, error) {
		return criOp.status(t).Received == before+2, nil
	})
	sentList := map[string]bool{}
	var list opapi.MessageList
	if err := berOp.call(context.Background(), http.MethodGet, "/api/v1/messages?direction=sent&limit=1000", nil, &list); err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Messages {
		if sentList[m.ID] {
			t.Errorf("sent message %s listed twice", m.ID)
		}
		sentList[m.ID] = true
		if !m.Stored {
			t.Errorf("sent message %s still pending after restart", m.ID)
		}
	}
	if len(sentList) != len(ids)+2 {
		t.Errorf("BER lists %d sent messages, want %d", len(sentList), len(ids)+2)
	}
}

package cleanroom

// The private group header (§3.3) and the log vectors (§7, §10): written, like
// the rest of this package, from docs/PROTOCOL.md and the C2SP specs it cites
// (signed-note, tlog-checkpoint, tlog-cosignature, tlog-tiles, tlog-proof).

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// opened returns the opening sealed in r's stanza of e (§3.3, §4 step 1).
func opened(e *envelope, r string, ps map[string]*party) ([]byte, error) {
	in, _, err := open(e, r, ps)
	if err != nil {
		return nil, err
	}
	return in.opening, nil
}

func TestVectorsV2AndLog(t *testing.T) {
	c := &checker{t: t}
	ps := loadKeys(t, c)
	if t.Failed() {
		t.FailNow()
	}
	msg := func(p string) noteKey { return ps[p].pub["message"] }
	env := func(name string) *envelope {
		e, err := parseEnvelope(read(t, vectors, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return e
	}
	e1, e3 := env("envelope-1.bin"), env("envelope-3.bin")
	id1, id3 := e1.id(), e3.id()

	// group-v2.bin and its views (§3.3, §10).
	gv := map[string]*envelope{}
	for _, name := range []string{"group-v2.bin", "group-v2.view-CRI.bin", "group-v2.view-DOR.bin"} {
		b := read(t, vectors, name)
		var e *envelope
		c.check(name+" parses as hotline-envelope/v2 with 1,244-byte stanzas (§3, §3.3)", func() (err error) {
			if e, err = parseEnvelope(b); err != nil {
				return err
			}
			if !e.h.v2 {
				return fmt.Errorf("not hotline-envelope/v2")
			}
			for _, st := range e.stanzas {
				if len(st) != stanzaLenV2 {
					return fmt.Errorf("stanza of %d bytes", len(st))
				}
			}
			return nil
		})
		if e == nil {
			continue
		}
		gv[name] = e
		c.check(name+" header signature by BER's message key", func() error {
			return verifyOne(e.header, e.sigs, msg(e.h.from))
		})
		c.check(name+" payload size and hash", func() error {
			if len(e.ciphertext) != e.h.size || !bytes.Equal(sum(e.ciphertext), e.h.payload) {
				return fmt.Errorf("ciphertext does not match payload")
			}
			return nil
		})
		c.check(name+" stanzas hash to their to lines", func() error {
			for _, to := range e.h.to {
				if st := e.stanzaFor(to.party); st != nil && !bytes.Equal(sum(st), to.stanza) {
					return fmt.Errorf("stanza of %s", to.party)
				}
			}
			return nil
		})
		want := "all"
		if i := strings.Index(name, "view-"); i >= 0 {
			want = strings.TrimSuffix(name[i+5:], ".bin")
		}
		c.check(name+" marker "+want, func() error {
			if e.marker != want {
				return fmt.Errorf("marker %q", e.marker)
			}
			return nil
		})
		for _, to := range e.h.to {
			if e.stanzaFor(to.party) == nil {
				continue
			}
			c.check(name+" opens for "+to.party+", its opening opening its commitment (§4, §3.3)", func() error {
				_, _, err := open(e, to.party, ps)
				return err
			})
		}
	}
	g, gc, gd := gv["group-v2.bin"], gv["group-v2.view-CRI.bin"], gv["group-v2.view-DOR.bin"]
	if g == nil || gc == nil || gd == nil {
		t.FailNow()
	}
	idG := g.id()
	c.check("group-v2 views have the envelope's header, signature, ciphertext and id", func() error {
		for _, v := range []*envelope{gc, gd} {
			if !bytes.Equal(v.signed, g.signed) || !bytes.Equal(v.ciphertext, g.ciphertext) || v.id() != idG {
				return fmt.Errorf("view %s differs", v.marker)
			}
		}
		return nil
	})
	c.check("group-v2: BER → CRI, DOR, group all, high TLP:AMBER advisory in envelope-1's thread referring to envelope-3 (§10)", func() error {
		in, _, err := open(g, "CRI", ps)
		if err != nil {
			return err
		}
		if g.h.from != "BER" || g.h.group != "all" || len(g.h.to) != 2 || g.h.to[0].party != "CRI" || g.h.to[1].party != "DOR" {
			return fmt.Errorf("header %+v", g.h)
		}
		if in.kind != "advisory" || in.severity != "high" || in.marking != "AMBER" || in.thread != id1 ||
			len(in.refs) != 1 || in.refs[0] != id3 {
			return fmt.Errorf("inner %+v", in)
		}
		return nil
	})
	c.check("group-v2: CRI at seq 3 and DOR at seq 2, both after envelope-3 (from their openings)", func() error {
		for _, w := range []struct {
			r   string
			seq uint64
		}{{"CRI", 3}, {"DOR", 2}} {
			op, err := opened(g, w.r, ps)
			if err != nil {
				return err
			}
			seq, prev, err := checkOpening(w.r, op, g.h.toLine(w.r).commit)
			if err != nil {
				return err
			}
			if seq != w.seq || prev != id3 {
				return fmt.Errorf("%s at seq %d after %s", w.r, seq, prev)
			}
		}
		return nil
	})
	c.check("group-v2: DOR cannot open CRI's view, CRI cannot open DOR's (not_a_recipient)", func() error {
		if _, _, err := open(gc, "DOR", ps); err == nil || !strings.HasPrefix(err.Error(), "not_a_recipient") {
			return fmt.Errorf("DOR on CRI's view: %v", err)
		}
		if _, _, err := open(gd, "CRI", ps); err == nil || !strings.HasPrefix(err.Error(), "not_a_recipient") {
			return fmt.Errorf("CRI on DOR's view: %v", err)
		}
		return nil
	})
	c.check("group-v2: a v2 stanza opened with v1's info fails (the tag is in info, §4 step 1)", func() error {
		v := *gc
		h := v.h
		h.v2 = false
		v.h = h
		if _, _, err := open(&v, "CRI", ps); err == nil {
			return fmt.Errorf("opened")
		}
		return nil
	})

	// group-v2.opening-CRI.txt (§10).
	var criOpening []byte
	c.check("group-v2.opening-CRI.txt: the opening CRI's stanza seals, its seq, prev, salt and commitment", func() error {
		kv := map[string]string{}
		var keys []string
		for _, l := range strings.Split(strings.TrimSuffix(string(read(t, vectors, "group-v2.opening-CRI.txt")), "\n"), "\n") {
			if strings.HasPrefix(l, "#") {
				continue
			}
			k, v, ok := strings.Cut(l, " ")
			if !ok {
				return fmt.Errorf("line %q", l)
			}
			kv[k] = v
			keys = append(keys, k)
		}
		if strings.Join(keys, " ") != "party opening seq prev salt commitment" || kv["party"] != "CRI" {
			return fmt.Errorf("lines %v", keys)
		}
		op, err := canonB64(kv["opening"], 72)
		if err != nil {
			return err
		}
		sealed, err := opened(g, "CRI", ps)
		if err != nil {
			return err
		}
		if !bytes.Equal(op, sealed) {
			return fmt.Errorf("the file's opening is not the one CRI's stanza seals")
		}
		sealedView, err := opened(gc, "CRI", ps)
		if err != nil || !bytes.Equal(sealedView, sealed) {
			return fmt.Errorf("CRI's view seals another opening: %v", err)
		}
		salt, err := canonB64(kv["salt"], 32)
		if err != nil {
			return err
		}
		if kv["seq"] != strconv.FormatUint(binary.BigEndian.Uint64(op[:8]), 10) || kv["seq"] != "3" ||
			kv["prev"] != hex.EncodeToString(op[8:40]) || kv["prev"] != id3 || !bytes.Equal(salt, op[40:]) {
			return fmt.Errorf("seq/prev/salt do not match the opening")
		}
		cm, err := canonB64(kv["commitment"], 32)
		if err != nil {
			return err
		}
		if !bytes.Equal(cm, sum([]byte("hotline-envelope/v2 sequence\nCRI\n"), op)) || !bytes.Equal(cm, g.h.toLine("CRI").commit) {
			return fmt.Errorf("commitment does not recompute or is not CRI's to line")
		}
		criOpening = op
		return nil
	})
	c.check("group-v2.view-DOR.bin and all DOR can open reveal nothing of CRI's (seq, prev)", func() error {
		if criOpening == nil {
			return fmt.Errorf("no opening")
		}
		in, body, err := open(gd, "DOR", ps)
		if err != nil {
			return err
		}
		dorOpening, _ := opened(gd, "DOR", ps)
		view := read(t, vectors, "group-v2.view-DOR.bin")
		seen := [][]byte{view, in.text, body, dorOpening, g.header}
		for _, b := range seen {
			for _, secret := range [][]byte{criOpening, criOpening[40:], criOpening[:40]} {
				if bytes.Contains(b, secret) {
					return fmt.Errorf("DOR's material holds CRI's opening or a part of it")
				}
			}
		}
		if strings.Contains(string(g.header), " 3 "+id3) {
			return fmt.Errorf("the header shows CRI's seq and prev")
		}
		// DOR can guess CRI's prev (envelope-3 is DOR's own prev and a
		// ref) and a small seq; without CRI's salt no guess confirms: try
		// every 32 bytes DOR holds as the salt.
		cm := g.h.toLine("CRI").commit
		for _, b := range seen {
			for i := 0; i+32 <= len(b); i++ {
				for seq := uint64(1); seq <= 8; seq++ {
					for _, prev := range []string{id1, id3, strings.Repeat("0", 64)} {
						p, _ := hex.DecodeString(prev)
						op := binary.BigEndian.AppendUint64(nil, seq)
						op = append(append(op, p...), b[i:i+32]...)
						if bytes.Equal(sum([]byte("hotline-envelope/v2 sequence\nCRI\n"), op), cm) {
							return fmt.Errorf("DOR confirms CRI at seq %d after %s", seq, prev)
						}
					}
				}
			}
		}
		return nil
	})

	// sequence-conflict-v2.txt (§3.1 with §3.3 openings).
	proof := read(t, vectors, "sequence-conflict-v2.txt")
	c.check("sequence-conflict-v2.txt verifies with BER's message key alone: group-v2 and another v2 header, both CRI at seq 3", func() error {
		hs, err := verifyConflict(proof, msg("BER"))
		if err != nil {
			return err
		}
		if !bytes.Equal(hs[0].signed, g.signed) && !bytes.Equal(hs[1].signed, g.signed) {
			return fmt.Errorf("neither header is group-v2.bin's")
		}
		if !hs[0].h.v2 || !hs[1].h.v2 {
			return fmt.Errorf("not both v2")
		}
		lines := strings.Split(string(proof), "\n")
		for _, l := range lines {
			if strings.HasPrefix(l, "a-opening ") || strings.HasPrefix(l, "b-opening ") {
				op, _ := canonB64(l[10:], 72)
				if binary.BigEndian.Uint64(op[:8]) != 3 {
					return fmt.Errorf("%s: not seq 3", l[:9])
				}
			}
		}
		if !strings.Contains(string(proof), "a-opening "+b64.EncodeToString(criOpening)+"\n") &&
			!strings.Contains(string(proof), "b-opening "+b64.EncodeToString(criOpening)+"\n") {
			return fmt.Errorf("group-v2's opening is not CRI's")
		}
		return nil
	})
	c.check("sequence-conflict-v2.txt altered is refused: an opening dropped, openings swapped, header order swapped", func() error {
		lines := strings.SplitAfter(string(proof), "\n")
		// lines: tag, from, to, a, a-opening, b, b-opening, ""
		drop := strings.Join(append(append([]string{}, lines[:4]...), lines[5:]...), "")
		if _, err := verifyConflict([]byte(drop), msg("BER")); err == nil || !strings.HasPrefix(err.Error(), "malformed") {
			return fmt.Errorf("a-opening dropped: %v", err)
		}
		sw := append([]string{}, lines...)
		sw[4] = "a-opening " + strings.TrimPrefix(lines[6], "b-opening ")
		sw[6] = "b-opening " + strings.TrimPrefix(lines[4], "a-opening ")
		if _, err := verifyConflict([]byte(strings.Join(sw, "")), msg("BER")); err == nil || !strings.HasPrefix(err.Error(), "bad_commitment") {
			return fmt.Errorf("openings swapped: %v", err)
		}
		ord := append([]string{}, lines[:3]...)
		ord = append(ord, "a "+strings.TrimPrefix(lines[5], "b "), "a-opening "+strings.TrimPrefix(lines[6], "b-opening "),
			"b "+strings.TrimPrefix(lines[3], "a "), "b-opening "+strings.TrimPrefix(lines[4], "a-opening "))
		if _, err := verifyConflict([]byte(strings.Join(ord, "")), msg("BER")); err == nil {
			return fmt.Errorf("A and B out of order accepted")
		}
		if _, err := verifyConflict(proof, msg("CRI")); err == nil {
			return fmt.Errorf("verified with CRI's key")
		}
		// §3.3: an opening at seq 1 with a previous id, or at seq 0, is
		// malformed before its commitment is checked.
		cm := g.h.toLine("CRI").commit
		for _, seq := range []uint64{0, 1} {
			op := append(binary.BigEndian.AppendUint64(nil, seq), criOpening[8:]...)
			if _, _, err := checkOpening("CRI", op, cm); err == nil || !strings.HasPrefix(err.Error(), "malformed") {
				return fmt.Errorf("opening at seq %d: %v", seq, err)
			}
		}
		if _, _, err := checkOpening("DOR", criOpening, cm); err == nil || !strings.HasPrefix(err.Error(), "bad_commitment") {
			return fmt.Errorf("CRI's opening as DOR's: %v", err)
		}
		return nil
	})

	// The log: checkpoint, tiles, inclusion proof (§7, §10, C2SP).
	cpBytes := read(t, vectors, "checkpoint.note")
	var root []byte
	var size uint64
	c.check("checkpoint.note: origin hotline/BER, size 4, signed by BER's checkpoint key (tlog-checkpoint)", func() error {
		var err error
		root, size, err = verifyCheckpoint(cpBytes, ps)
		return err
	})
	c.check("checkpoint.note with another root hash or signed by CRI's checkpoint key is refused", func() error {
		lines := strings.SplitAfter(string(cpBytes), "\n")
		bad := append([]string{}, lines...)
		bad[2] = b64.EncodeToString(make([]byte, 32)) + "\n"
		if _, _, err := verifyCheckpoint([]byte(strings.Join(bad, "")), ps); err == nil {
			return fmt.Errorf("another root hash accepted")
		}
		text, _, _ := splitNote(cpBytes)
		k := ps["CRI"].pub["checkpoint"]
		sig := ed25519.Sign(ed25519.NewKeyFromSeed(ps["CRI"].priv["checkpoint"]), text)
		forged := string(text) + "\n\u2014 hotline/BER " + b64.EncodeToString(append(append([]byte{}, k.hash...), sig...)) + "\n"
		if _, _, err := verifyCheckpoint([]byte(forged), ps); err == nil {
			return fmt.Errorf("CRI's checkpoint key signed BER's checkpoint")
		}
		return nil
	})
	c.check("checkpoint.note: cosigned by CRI's then DOR's witness key, cosignature/v1 at 1795770000 = 2026-11-27T09:00:00Z", func() error {
		text, sigs, err := splitNote(cpBytes)
		if err != nil {
			return err
		}
		if len(sigs) != 3 {
			return fmt.Errorf("%d signature lines", len(sigs))
		}
		for i, w := range []string{"CRI", "DOR"} {
			ts, err := verifyCosignature(text, sigs[i+1], ps[w].pub["witness"])
			if err != nil {
				return err
			}
			if ts != 1795770000 || time.Unix(int64(ts), 0).UTC().Format(time.RFC3339) != "2026-11-27T09:00:00Z" {
				return fmt.Errorf("%s's timestamp %d", w, ts)
			}
		}
		// A cosignature does not verify as a plain signature of the text,
		// nor under another witness's key.
		if _, err := verifyCosignature(text, sigs[1], ps["DOR"].pub["witness"]); err == nil {
			return fmt.Errorf("CRI's cosignature verified under DOR's key")
		}
		if ed25519.Verify(ps["CRI"].pub["witness"].pub, text, sigs[1].sig[8:]) {
			return fmt.Errorf("a cosignature verifies over the bare text")
		}
		return nil
	})

	receipt := read(t, vectors, "receipt.note")
	rtext, _, _ := splitNote(receipt)
	receiptID := sum(rtext)
	entry := func(dir byte, id []byte) []byte {
		return sum([]byte("hotline-leaf/v1\nhotline/BER\n"), []byte{dir}, id)
	}
	hexID := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	want := [][]byte{entry(1, hexID(id1)), entry(3, receiptID), entry(1, hexID(id3)), entry(1, hexID(idG))}
	leafHash := func(e []byte) []byte { return sum([]byte{0}, e) }
	node := func(l, r []byte) []byte { return sum([]byte{1}, l, r) }
	c.check("tile-entries-000.p-4: four uint16-length-prefixed 32-byte entries: envelope-1 sent, receipt received, envelope-3 sent, group-v2 sent (§7, tlog-tiles)", func() error {
		b := read(t, vectors, "tile-entries-000.p-4")
		var got [][]byte
		for len(b) > 0 {
			if len(b) < 2 {
				return fmt.Errorf("truncated length")
			}
			n := int(binary.BigEndian.Uint16(b))
			if len(b) < 2+n {
				return fmt.Errorf("truncated entry")
			}
			got = append(got, b[2:2+n])
			b = b[2+n:]
		}
		if len(got) != 4 {
			return fmt.Errorf("%d entries", len(got))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				return fmt.Errorf("entry %d is %x, want %x", i, got[i], want[i])
			}
		}
		return nil
	})
	c.check("tile-entries' first three entries are leaves.txt's hotline/BER lines", func() error {
		var fromFile []string
		for _, l := range strings.Split(string(read(t, vectors, "leaves.txt")), "\n") {
			if f := strings.Split(l, " "); len(f) == 4 && f[0] == "hotline/BER" {
				fromFile = append(fromFile, f[3])
			}
		}
		if len(fromFile) != 3 {
			return fmt.Errorf("%d hotline/BER lines", len(fromFile))
		}
		for i, h := range fromFile {
			if h != hex.EncodeToString(want[i]) {
				return fmt.Errorf("line %d", i)
			}
		}
		return nil
	})
	c.check("tile-0-000.p-4: the four RFC 6962 leaf hashes of the entries; their tree's root is the checkpoint's", func() error {
		b := read(t, vectors, "tile-0-000.p-4")
		if len(b) != 4*32 {
			return fmt.Errorf("%d bytes", len(b))
		}
		for i, e := range want {
			if !bytes.Equal(b[i*32:(i+1)*32], leafHash(e)) {
				return fmt.Errorf("hash %d", i)
			}
		}
		h := func(i int) []byte { return b[i*32 : (i+1)*32] }
		r := node(node(h(0), h(1)), node(h(2), h(3)))
		if size != 4 || !bytes.Equal(r, root) {
			return fmt.Errorf("root %x size %d, checkpoint %x", r, size, root)
		}
		return nil
	})

	c.check("inclusion.tlog-proof: the receipt's entry at index 1 in the cosigned checkpoint (tlog-proof, RFC 6962 §2.1.1)", func() error {
		p := read(t, vectors, "inclusion.tlog-proof")
		i := bytes.Index(p, []byte("\n\n"))
		if i < 0 {
			return fmt.Errorf("no empty line")
		}
		head := strings.Split(string(p[:i]), "\n")
		cp := p[i+2:]
		if head[0] != "c2sp.org/tlog-proof@v1" {
			return fmt.Errorf("first line %q", head[0])
		}
		head = head[1:]
		if len(head) > 0 && strings.HasPrefix(head[0], "extra ") {
			return fmt.Errorf("an extra line: §10 lists none") // see PROTOCOL.md §10
		}
		if len(head) == 0 || !strings.HasPrefix(head[0], "index ") {
			return fmt.Errorf("no index line")
		}
		idx, err := parseNumber(head[0][6:])
		if err != nil || idx != 1 {
			return fmt.Errorf("index %q", head[0])
		}
		var path [][]byte
		for _, l := range head[1:] {
			h, err := canonB64(l, 32)
			if err != nil {
				return err
			}
			path = append(path, h)
		}
		if !bytes.Equal(cp, cpBytes) {
			return fmt.Errorf("the checkpoint is not checkpoint.note verbatim")
		}
		r, sz, err := verifyCheckpoint(cp, ps)
		if err != nil {
			return err
		}
		text, sigs, _ := splitNote(cp)
		for k, w := range []string{"CRI", "DOR"} {
			if _, err := verifyCosignature(text, sigs[k+1], ps[w].pub["witness"]); err != nil {
				return err
			}
		}
		if len(path) != 2 || !bytes.Equal(path[0], leafHash(want[0])) || !bytes.Equal(path[1], node(leafHash(want[2]), leafHash(want[3]))) {
			return fmt.Errorf("the proof hashes are not h0 and the hash of entries 2 and 3")
		}
		got, err := rootFromInclusion(idx, sz, leafHash(entry(3, receiptID)), path)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, r) {
			return fmt.Errorf("root %x, checkpoint %x", got, r)
		}
		if other, _ := rootFromInclusion(idx, sz, leafHash(want[0]), path); bytes.Equal(other, r) {
			return fmt.Errorf("another entry proves too")
		}
		return nil
	})
	t.Logf("%d checks, %d failed", c.n, c.bad)
}

// verifyCheckpoint parses a C2SP tlog-checkpoint of BER's log and checks its
// first signature line, by the log's checkpoint key (§2: named by the
// origin). It returns the root hash and the tree size.
func verifyCheckpoint(b []byte, ps map[string]*party) ([]byte, uint64, error) {
	text, sigs, err := splitNote(b)
	if err != nil {
		return nil, 0, err
	}
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	if len(lines) != 3 {
		return nil, 0, fmt.Errorf("%d lines (no extension lines expected)", len(lines))
	}
	k := ps["BER"].pub["checkpoint"]
	if lines[0] != "hotline/BER" || lines[0] != k.name {
		return nil, 0, fmt.Errorf("origin %q", lines[0])
	}
	size, err := parseNumber(lines[1])
	if err != nil || size != 4 {
		return nil, 0, fmt.Errorf("size %q", lines[1])
	}
	root, err := canonB64(lines[2], 32)
	if err != nil {
		return nil, 0, err
	}
	if len(sigs) == 0 || sigs[0].name != k.name || !bytes.Equal(sigs[0].hash, k.hash) {
		return nil, 0, fmt.Errorf("first signature is not the log's")
	}
	if !ed25519.Verify(k.pub, text, sigs[0].sig) {
		return nil, 0, fmt.Errorf("the log's signature does not verify")
	}
	return root, size, nil
}

// verifyCosignature checks a C2SP tlog-cosignature (cosignature/v1, key type
// 0x04) of the checkpoint text and returns its timestamp.
func verifyCosignature(text []byte, s sigLine, k noteKey) (uint64, error) {
	if k.alg != 0x04 || s.name != k.name || !bytes.Equal(s.hash, k.hash) {
		return 0, fmt.Errorf("cosignature line %s %x is not key %s %x", s.name, s.hash, k.name, k.hash)
	}
	if len(s.sig) != 8+64 {
		return 0, fmt.Errorf("cosignature of %d bytes", len(s.sig))
	}
	ts := binary.BigEndian.Uint64(s.sig[:8])
	if ts > 1<<63-1 {
		return 0, fmt.Errorf("timestamp %d", ts)
	}
	m := append([]byte("cosignature/v1\ntime "+strconv.FormatUint(ts, 10)+"\n"), text...)
	if !ed25519.Verify(k.pub, m, s.sig[8:]) {
		return 0, fmt.Errorf("cosignature by %s does not verify", k.name)
	}
	return ts, nil
}

// rootFromInclusion computes the root from an RFC 6962 inclusion proof
// (RFC 9162 §2.1.3.2).
func rootFromInclusion(index, size uint64, leaf []byte, path [][]byte) ([]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("index %d beyond size %d", index, size)
	}
	fn, sn := index, size-1
	r := leaf
	for _, p := range path {
		if sn == 0 {
			return nil, fmt.Errorf("proof too long")
		}
		if fn&1 == 1 || fn == sn {
			r = sum([]byte{1}, p, r)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = sum([]byte{1}, r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return nil, fmt.Errorf("proof too short")
	}
	return r, nil
}

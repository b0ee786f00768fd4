package evidence

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hotline-net/hotline"
)

// The test vectors: a bundle of ARV about ESK (the story with an ack at
// 2 h) and the genesis it verifies against. HOTLINE_UPDATE_VECTORS=1
// writes them again.
var (
	vectorBundle  = filepath.Join("testdata", "ARV-about-ESK.bundle")
	vectorGenesis = filepath.Join("testdata", "genesis")
)

func TestVectors(t *testing.T) {
	if os.Getenv("HOTLINE_UPDATE_VECTORS") != "" {
		s := newStory(t, 2*h)
		data, err := s.w.bundle("ARV", "ESK", nil).Marshal(s.w.keys["ARV"].Message)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorBundle, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorGenesis, []byte(s.w.pin().Genesis.String()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(vectorBundle)
	if err != nil {
		t.Fatal(err)
	}
	g, err := os.ReadFile(vectorGenesis)
	if err != nil {
		t.Fatal(err)
	}
	genesis, err := hotline.ParseID(string(bytes.TrimSpace(g)))
	if err != nil {
		t.Fatal(err)
	}
	b := mustParse(t, data)
	w := &world{start: newStoryStart}
	rep, err := Verify([]*Bundle{b}, Pin{Genesis: genesis}, w.at(100*h))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Obligations) != 2 || rep.Obligations[0].State != "met_on_time" {
		t.Errorf("the vector's verdicts: %+v", rep.Obligations)
	}
}

// FuzzParse: whatever parses reassembles to its bytes, and its body
// marshals and parses to the same value.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(vectorBundle); err == nil {
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte(Format + "\nparty A\n\n— A x\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		if err != nil {
			return
		}
		if got := reassemble(b); !bytes.Equal(got, data) {
			t.Fatalf("parsed %q, reassembles to %q", data, got)
		}
		body, err := json.Marshal(&b.Body)
		if err != nil {
			t.Fatal(err)
		}
		var again Body
		if err := json.Unmarshal(body, &again); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normal(again), normal(b.Body)) {
			t.Fatal("the body does not survive marshalling")
		}
	})
}

// FuzzParseConsistency: whatever parses marshals to the same bytes.
func FuzzParseConsistency(f *testing.F) {
	f.Add([]byte(ConsistencyTag + "\norigin hotline/ARV\nold 3\nnew 7\n"))
	f.Add((&Consistency{Origin: "hotline/ESK", Old: 1, New: 2, Hashes: [][]byte{make([]byte, 32)}}).Marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConsistency(data)
		if err != nil {
			return
		}
		if got := c.Marshal(); !bytes.Equal(got, data) {
			t.Fatalf("parsed %q, marshals to %q", data, got)
		}
	})
}

// normal returns b with empty lists as nil, as JSON does not tell them
// apart from null.
func normal(b Body) Body {
	v := reflect.ValueOf(&b).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice && f.Len() == 0 {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	for i := range b.Envelopes {
		e := &b.Envelopes[i]
		if len(e.Envelope) == 0 {
			e.Envelope = nil
		}
		if len(e.Inner) == 0 {
			e.Inner = nil
		}
	}
	for _, l := range [][][]byte{b.Receipts, b.RelayReceipts, b.Refusals, b.Checkpoints, b.Inclusion, b.Consistency} {
		for i := range l {
			if len(l[i]) == 0 {
				l[i] = nil
			}
		}
	}
	return b
}

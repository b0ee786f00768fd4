package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/server"
)

// peakRSS reads a process's peak resident set (VmHWM) in bytes.
func peakRSS(tb testing.TB, pid int) int64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb << 10
		}
	}
	tb.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestMemoryUnderHostileUploads (issue 18 finding 5): 32 concurrent
// unsigned 16 MiB POSTs — half with no signature, half with a forged one
// naming a real party — keep the peak RSS of a real node process under 200
// MB, and the node keeps answering a signed peer's heartbeats meanwhile.
func TestMemoryUnderHostileUploads(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read a process's peak RSS")
	}
	netDir := testnet(t, "BER", "CRI")
	cri := start(t, netDir, "CRI")
	ber, err := hotline.LoadKeySet(filepath.Join(netDir, "BER", server.KeysDir))
	if err != nil {
		t.Fatal(err)
	}
	before := peakRSS(t, cri.cmd.Process.Pid)

	const uploads, size = 32, 16 << 20
	hostile := &http.Client{Timeout: 5 * time.Minute}
	var wg sync.WaitGroup
	var refused atomic.Int64
	for i := range uploads {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPost, cri.url+"/v1/envelopes", io.LimitReader(zeros{}, size))
			if err != nil {
				t.Error(err)
				return
			}
			req.ContentLength = size
			if i%2 == 1 {
				sig := make([]byte, 68)
				rand.Read(sig)
				req.Header.Set(fedapi.HeaderFrom, "BER")
				req.Header.Set(fedapi.HeaderTime, hotline.FormatTime(time.Now()))
				req.Header.Set(fedapi.HeaderSignature, base64.StdEncoding.EncodeToString(sig))
			}
			resp, err := hostile.Do(req)
			if err != nil {
				refused.Add(1) // cut off before the whole body was sent
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				t.Errorf("an unsigned upload was answered %d", resp.StatusCode)
			}
			refused.Add(1)
		})
	}

	// A signed peer keeps being served while the uploads run.
	c := &fedapi.Client{Key: ber.Message}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	beats, failed := 0, 0
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		default:
		}
		hb, err := hotline.Sign(&hotline.Heartbeat{From: "BER", To: "CRI", Time: time.Now(), Counter: uint64(time.Now().UnixNano())}, ber.Message)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = c.PostHeartbeat(ctx, "CRI", cri.url, hb)
		cancel()
		beats++
		if err != nil {
			failed++
			t.Logf("heartbeat during the uploads: %v", err)
		}
	}
	peak := peakRSS(t, cri.cmd.Process.Pid)
	t.Logf("peak RSS %d MB before, %d MB after %d uploads of %d MiB (%d refused); %d signed heartbeats, %d failed",
		before>>20, peak>>20, uploads, size>>20, refused.Load(), beats, failed)
	if peak >= 200<<20 {
		t.Errorf("peak RSS %d MB, want under 200 MB", peak>>20)
	}
	if failed > 0 {
		t.Errorf("%d of %d signed heartbeats failed during the uploads", failed, beats)
	}
}

package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hotline-net/hotline/internal/clock"
)

// TestFaultClock: HOTLINE_FAULT_CLOCK_OFFSET moves the node's whole clock
// by a Go duration, with a warning; unset, the node keeps the system
// clock; a value that is no duration stops hotline serve.
func TestFaultClock(t *testing.T) {
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	if c, err := faultClock("", logger); c != nil || err != nil || log.Len() != 0 {
		t.Errorf("unset: %v, %v, log %q", c, err, log.String())
	}
	for _, v := range []string{"-2m", "6m30s"} {
		log.Reset()
		c, err := faultClock(v, logger)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := time.ParseDuration(v)
		if o, ok := c.(clock.Offset); !ok || o.By != want || o.Base != nil {
			t.Errorf("%s: clock %#v", v, c)
		}
		if d := time.Until(c.Now()); d < want-time.Second || d > want+time.Second {
			t.Errorf("%s: the clock is %v from the system's", v, d)
		}
		if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "FAULT INJECTION") || !strings.Contains(log.String(), "offset="+want.String()) {
			t.Errorf("%s: log %q", v, log.String())
		}
	}
	if _, err := faultClock("six minutes", logger); err == nil || !strings.Contains(err.Error(), clockOffsetEnv) {
		t.Errorf("a value that is no duration: %v", err)
	}
}

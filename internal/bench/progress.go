package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress draws one bar per phase on a terminal, redrawn in place five
// times a second by a goroutine it owns. A nil *progress draws nothing.
type progress struct {
	w io.Writer

	mu      sync.Mutex // guards the phase fields and drawing
	label   string
	total   int
	timed   bool // done and total are milliseconds
	began   time.Time
	done    atomic.Int64
	stop    chan struct{}
	stopped sync.WaitGroup
}

const barWidth = 30

func newProgress(w io.Writer) *progress {
	if w == nil {
		return nil
	}
	return &progress{w: w}
}

// start begins a phase of total steps.
func (p *progress) start(label string, total int) { p.begin(label, total, false) }

// startTimed begins a phase that lasts d, however much it does.
func (p *progress) startTimed(label string, d time.Duration) {
	p.begin(label, int(d/time.Millisecond), true)
}

func (p *progress) begin(label string, total int, timed bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.label, p.total, p.timed, p.began = label, total, timed, time.Now()
	p.done.Store(0)
	p.stop = make(chan struct{})
	p.mu.Unlock()
	p.stopped.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw(false)
			}
		}
	})
}

func (p *progress) add(n int) {
	if p != nil {
		p.done.Add(int64(n))
	}
}

func (p *progress) set(n int) {
	if p != nil {
		p.done.Store(int64(n))
	}
}

// finish ends the phase: the drawing goroutine stops and the bar is drawn
// once more, complete, with its line ended.
func (p *progress) finish() {
	if p == nil || p.stop == nil {
		return
	}
	close(p.stop)
	p.stopped.Wait()
	p.draw(true)
	p.stop = nil
}

// close ends a phase left open by an early return.
func (p *progress) close() { p.finish() }

func (p *progress) draw(last bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	done, total := int(p.done.Load()), p.total
	if last && done > total {
		done = total
	}
	filled := 0
	if total > 0 {
		filled = min(barWidth, done*barWidth/total)
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", barWidth-filled)
	el := time.Since(p.began)
	shown := el.Round(100 * time.Millisecond)
	var count string
	switch {
	case p.timed:
		count = shown.String()
	case el > 0:
		count = fmt.Sprintf("%d/%d  %s  %.0f/s", done, total, shown, float64(done)/el.Seconds())
	default:
		count = fmt.Sprintf("%d/%d", done, total)
	}
	end := ""
	if last {
		end = "\n"
	}
	// \x1b[K clears what a longer previous line left.
	fmt.Fprintf(p.w, "\r%-8s [%s] %s\x1b[K%s", p.label, bar, count, end)
}

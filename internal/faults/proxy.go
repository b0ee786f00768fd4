package faults

import (
	"io"
	"net"
	"sync"
	"time"
)

// Network faults a proxy injects.
const (
	faultNone      = ""
	faultDelay     = "delay"     // every new connection waits before it is forwarded
	faultDrop      = "drop"      // new connections are closed at once
	faultReset     = "reset"     // new connections are reset (RST) at once
	faultBlackhole = "blackhole" // new connections are accepted and never answered
)

// proxy stands between a node's peers and the node: the agreement lists
// its address as the node's endpoint, so every request a peer, a witness
// collector or a relay makes to the node passes through it. It forwards
// connections as they are, or injects the fault set.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	fault string
	delay time.Duration
	held  map[net.Conn]bool // blackholed connections, closed when healed
}

func newProxy() (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &proxy{ln: ln, held: map[net.Conn]bool{}}, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// set injects fault on new connections (with delay for faultDelay);
// faultNone heals, closing the connections a blackhole holds.
func (p *proxy) set(fault string, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault, p.delay = fault, delay
	if fault == faultNone {
		for c := range p.held {
			c.Close()
			delete(p.held, c)
		}
	}
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *proxy) close() {
	p.ln.Close()
	p.set(faultNone, 0)
}

func (p *proxy) handle(c net.Conn) {
	p.mu.Lock()
	fault, delay := p.fault, p.delay
	if fault == faultBlackhole {
		p.held[c] = true
	}
	p.mu.Unlock()
	switch fault {
	case faultDrop:
		c.Close()
		return
	case faultReset:
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
		return
	case faultBlackhole:
		io.Copy(io.Discard, c)
		c.Close()
		return
	case faultDelay:
		time.Sleep(delay)
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
	up.Close()
	c.Close()
}

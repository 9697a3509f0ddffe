package bench

import (
	"net"
	"sync"
	"testing"
	"time"
)

// netFault is a TCP proxy between a jit server and its database that the
// test breaks: Kill closes every connection and refuses new ones (a crashed
// middlebox, a firewall sending resets), Blackhole holds every byte in both
// directions while keeping the connections open (a partition: packets
// dropped, TCP retransmitting), Heal undoes either.
type netFault struct {
	t        *testing.T
	upstream string
	addr     string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	gate  chan struct{} // closed while traffic flows; a fresh one while blackholed
}

func startNetFault(t *testing.T, upstream string) *netFault {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := make(chan struct{})
	close(open)
	p := &netFault{t: t, upstream: upstream, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]struct{}{}, gate: open}
	go p.serve(ln)
	t.Cleanup(func() { p.kill() })
	return p
}

// Addr is where the server connects instead of the database.
func (p *netFault) Addr() string { return p.addr }

func (p *netFault) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go p.relay(c)
	}
}

func (p *netFault) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *netFault) relay(c net.Conn) {
	p.wait()
	up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		c.Close()
		up.Close()
		return
	}
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.wait()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}
	go cp(up, c)
	go cp(c, up)
	<-done
	c.Close()
	up.Close()
	<-done
}

// wait blocks while the proxy is blackholed.
func (p *netFault) wait() {
	p.mu.Lock()
	g := p.gate
	p.mu.Unlock()
	<-g
}

// Blackhole holds all traffic until Heal.
func (p *netFault) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default:
	}
}

// Kill closes the listener and every connection: new ones are refused.
func (p *netFault) Kill() { p.kill() }

func (p *netFault) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
	// Held writes go on to their closed connections and fail.
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// Heal lets traffic flow again and, after Kill, listens again on the same
// address.
func (p *netFault) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
	if p.ln == nil {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			p.t.Errorf("listen again on %s: %v", p.addr, err)
			return
		}
		p.ln = ln
		go p.serve(ln)
	}
}

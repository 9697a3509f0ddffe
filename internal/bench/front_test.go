package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
)

// tcpFront is the test's load balancer: it accepts on one address and
// sends each connection to the first backend that takes it, in order from
// a rotating start, so that a dead backend's clients move to the other.
type tcpFront struct {
	ln       net.Listener
	backends []string
	next     atomic.Int64
}

func startFront(t *testing.T, backends ...string) *tcpFront {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &tcpFront{ln: ln, backends: backends}
	t.Cleanup(func() { ln.Close() })
	go f.serve()
	return f
}

func (f *tcpFront) URL() string { return "http://" + f.ln.Addr().String() }

func (f *tcpFront) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.relay(c)
	}
}

func (f *tcpFront) relay(c net.Conn) {
	start := int(f.next.Add(1))
	for i := range f.backends {
		b := f.backends[(start+i)%len(f.backends)]
		up, err := net.DialTimeout("tcp", b, time.Second)
		if err != nil {
			continue
		}
		pipe(c, up)
		return
	}
	c.Close()
}

// pipe copies both ways until either side closes, then closes both.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
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
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
	<-done
}

// replicaProc is a `jit server` process (the real binary) of the test.
type replicaProc struct {
	cmd  *exec.Cmd
	addr string // host:port it listens on
	done chan struct{}
}

// startReplica runs the jit binary's server with the config at path and
// waits until it logs where it listens.
func startReplica(t *testing.T, path, logPath string) *replicaProc {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.JitBinary(t), "server", "--config", path)
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=disabled:", "HOME="+t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &replicaProc{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			fmt.Fprintf(logf, "%s\n", line)
			var rec struct{ Msg, URL string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "jit server listening" {
				select {
				case found <- rec.URL:
				default:
				}
			}
		}
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case u := <-found:
		p.addr = strings.TrimPrefix(u, "http://")
	case <-p.done:
		log, _ := os.ReadFile(logPath)
		t.Fatalf("jit server exited before listening:\n%s", log)
	case <-time.After(60 * time.Second):
		t.Fatal("jit server did not say where it listens within 60s")
	}
	return p
}

// kill ends the process with SIGKILL: no shutdown, no draining.
func (p *replicaProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

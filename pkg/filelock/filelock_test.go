package filelock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a lock-holding process (TestMain).
const helperEnv = "JIT_FILELOCK_HELPER"

// runHelper is the child side of the cross-process tests:
//
//	hold DIR NAME       take the lock, print "locked", wait for stdin to close
//	loop DIR NAME FILE N  N times: take the lock, append "B pid" and "E pid" to FILE
func runHelper(spec string) int {
	args := strings.Split(spec, "\x1f")
	ctx := context.Background()
	l := Locker{Dir: args[1]}
	switch args[0] {
	case "hold":
		release, err := l.Acquire(ctx, args[2], time.Minute)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer release()
		fmt.Println("locked")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		return 0
	case "loop":
		n, _ := strconv.Atoi(args[4])
		for range n {
			release, err := l.Acquire(ctx, args[2], time.Minute)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			for _, mark := range []string{"B", "E"} {
				f, err := os.OpenFile(args[3], os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
				fmt.Fprintf(f, "%s %d\n", mark, os.Getpid())
				_ = f.Close()
			}
			release()
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown helper", args[0])
	return 2
}

func helper(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+strings.Join(args, "\x1f"))
	cmd.Stderr = os.Stderr
	return cmd
}

func TestLockExcludesGoroutines(t *testing.T) {
	l := Locker{Dir: t.TempDir()}
	var inside, total atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				release, err := l.Acquire(context.Background(), "creds-abc-admin", time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if n := inside.Add(1); n != 1 {
					t.Errorf("%d holders at once", n)
				}
				total.Add(1)
				inside.Add(-1)
				release()
			}
		})
	}
	wg.Wait()
	if total.Load() != 160 {
		t.Fatalf("%d critical sections, want 160", total.Load())
	}
}

func TestLockExcludesProcesses(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	var cmds []*exec.Cmd
	for range 3 {
		cmd := helper(t, "loop", dir, "shared", log, "15")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3*15*2 {
		t.Fatalf("%d lines, want 90", len(lines))
	}
	for i := 0; i < len(lines); i += 2 {
		b, e := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if b[0] != "B" || e[0] != "E" || b[1] != e[1] {
			t.Fatalf("critical sections interleaved at line %d: %q then %q", i, lines[i], lines[i+1])
		}
	}
}

func TestLockTimeoutNamesHolderAndDeadHolderFreesIt(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cmd := helper(t, "hold", dir, "creds-abc-admin")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}

	l := Locker{Dir: dir}
	_, err = l.Acquire(ctx, "creds-abc-admin", 50*time.Millisecond)
	var lte *TimeoutError
	if !errors.As(err, &lte) {
		t.Fatalf("err = %v, want a TimeoutError", err)
	}
	want := fmt.Sprintf("held by pid %d (%s) since ", cmd.Process.Pid, filepath.Base(os.Args[0]))
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %q, want it to contain %q", err, want)
	}
	if _, err := l.Acquire(ctx, "creds-abc-admin", 0); !errors.As(err, &lte) {
		t.Fatalf("one try: err = %v", err)
	}

	// The holder dies without releasing: the kernel drops its flock, and the
	// very next single try succeeds.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	release, err := l.Acquire(ctx, "creds-abc-admin", 0)
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	release()
	release() // harmless twice
}

func TestLockWaitEndsWithContext(t *testing.T) {
	l := Locker{Dir: t.TempDir()}
	ctx := context.Background()
	release, err := l.Acquire(ctx, "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cctx, cancel := context.WithCancel(ctx)
	go cancel()
	if _, err := l.Acquire(cctx, "x", time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// A cancelled context does not take even a free lock.
	if _, err := l.Acquire(cctx, "free", 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("free lock, cancelled context: err = %v", err)
	}
}

func TestLockFileNames(t *testing.T) {
	if got := fileName("0123456789ab-creds-prod-admin"); got != "0123456789ab-creds-prod-admin.lock" {
		t.Fatalf("got %q", got)
	}
	if got := fileName("creds-abc_1.x"); got != "creds-abc_1.x.lock" {
		t.Fatalf("got %q", got)
	}
	for _, odd := range []string{"", "../etc/passwd", "a/b", ".hidden", strings.Repeat("a", 65)} {
		got := fileName(odd)
		if strings.ContainsAny(got, `/\`) || strings.HasPrefix(got, ".") || len(got) != 24+len(".lock") {
			t.Fatalf("%q -> %q", odd, got)
		}
	}
}

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(runHelper(h))
	}
	os.Exit(m.Run())
}

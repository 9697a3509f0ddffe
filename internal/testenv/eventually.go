package testenv

import (
	"fmt"
	"testing"
	"time"
)

// pollEvery is how often Eventually checks its condition.
const pollEvery = 10 * time.Millisecond

// Eventually waits until cond holds, checking it every 10ms, and fails the
// test when timeout passes first; what (a format and its arguments) says
// what was awaited. It is for what another goroutine or process does in
// its own time, never for a clock the test owns: move that clock instead.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, what ...any) {
	t.Helper()
	if !waitUntil(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, describe(what))
	}
}

// waitUntil polls cond until it holds (true) or timeout passes (false).
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}

func describe(what []any) string {
	if len(what) == 0 {
		return "the condition"
	}
	if format, ok := what[0].(string); ok {
		return fmt.Sprintf(format, what[1:]...)
	}
	return fmt.Sprint(what...)
}

package testenv

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that records how a helper ended the test.
type recorder struct {
	testing.TB
	failed, skipped string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }
func (r *recorder) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }

func TestInCIFollowsTheCIVariable(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "1": true, "TRUE": true, "": false, "false": false, "0": false, "yes": false} {
		if got := InCI(func(string) string { return v }); got != want {
			t.Errorf("InCI with CI=%q = %t, want %t", v, got, want)
		}
	}
}

func TestMissingPeerFailsUnderCIAndSkipsElsewhere(t *testing.T) {
	const msg = "minio not found: go install github.com/minio/minio@v0"
	t.Setenv("CI", "true")
	ci := &recorder{TB: t}
	MissingPeer(ci, msg)
	if ci.skipped != "" || !strings.Contains(ci.failed, msg) {
		t.Errorf("under CI=true: failed %q, skipped %q; want a failure naming %q", ci.failed, ci.skipped, msg)
	}
	t.Setenv("CI", "")
	local := &recorder{TB: t}
	MissingPeer(local, msg)
	if local.failed != "" || !strings.Contains(local.skipped, msg) {
		t.Errorf("outside CI: failed %q, skipped %q; want a skip naming %q", local.failed, local.skipped, msg)
	}
}

func TestEventuallyWaitsForTheConditionAndFailsAfterTheTimeout(t *testing.T) {
	calls := 0
	ok := &recorder{TB: t}
	Eventually(ok, time.Minute, func() bool { calls++; return calls == 3 }, "the third call")
	if ok.failed != "" || calls != 3 {
		t.Errorf("a condition that holds on the third call: failed %q after %d calls", ok.failed, calls)
	}
	never := &recorder{TB: t}
	Eventually(never, 30*time.Millisecond, func() bool { return false }, "grant %s", "req_1")
	if !strings.Contains(never.failed, "waiting for grant req_1") {
		t.Errorf("a condition that never holds: failed %q, want a timeout naming what was awaited", never.failed)
	}
}

func TestClockMovesOnlyWhenTold(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	c.Add(90 * time.Second)
	if got := c.Now(); !got.Equal(t0.Add(90 * time.Second)) {
		t.Fatalf("after Add(90s): %s", got)
	}
	c.Set(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("after Set(t0): %s", got)
	}
}

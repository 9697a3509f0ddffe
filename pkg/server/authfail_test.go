package server

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestAuthFailuresLimitPerAddressAndSummarisePerWindow(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	a := newAuthFailures(60, 2, time.Minute) // one a second, burst 2
	for range 2 {
		if _, blocked := a.blocked("10.0.0.1", now); blocked {
			t.Fatal("blocked within the burst")
		}
		a.failed("10.0.0.1", "bad token", now)
	}
	wait, blocked := a.blocked("10.0.0.1", now)
	if !blocked || wait != time.Second {
		t.Fatalf("after the burst: blocked %v, wait %s; want 1s", blocked, wait)
	}
	if _, blocked := a.blocked("10.0.0.2", now); blocked {
		t.Fatal("another address is blocked")
	}
	if _, blocked := a.blocked("10.0.0.1", now.Add(time.Second)); blocked {
		t.Fatal("still blocked after the refill")
	}
	if _, ok := a.summary(now.Add(59*time.Second), false); ok {
		t.Fatal("summary before the window ended")
	}
	ev, ok := a.summary(now.Add(time.Minute), false)
	if !ok || ev.Detail["failures"] != "2" || ev.Detail["rate_limited"] != "1" || ev.Detail["addresses"] != "10.0.0.1=3" {
		t.Fatalf("summary %v %+v", ok, ev)
	}
	if _, ok := a.summary(now.Add(2*time.Minute), true); ok {
		t.Fatal("a second summary with nothing new")
	}
}

func TestAuthFailuresBoundMemoryAndListedAddresses(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	a := newAuthFailures(1, 1, time.Minute)
	for i := range maxTrackedAddresses + 5 {
		a.failed(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "x", now)
	}
	if len(a.limiters) > maxTrackedAddresses+1 {
		t.Fatalf("%d limiters kept", len(a.limiters))
	}
	// An address past the cap shares the overflow limiter, which is spent.
	if _, blocked := a.blocked("192.0.2.1", now); !blocked {
		t.Fatal("an untracked address escaped the overflow limiter")
	}
	ev, _ := a.summary(now, true)
	if !strings.HasSuffix(ev.Detail["addresses"], fmt.Sprintf("+%d more", maxTrackedAddresses+6-maxListedAddresses)) {
		t.Fatalf("addresses %q", ev.Detail["addresses"][len(ev.Detail["addresses"])-40:])
	}
}

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
	if len(a.limiters)+len(a.sites) > maxTrackedAddresses+1 {
		t.Fatalf("%d limiters kept", len(a.limiters))
	}
	// An address past the cap shares its site's limiter, which is spent;
	// another site's is not.
	if _, blocked := a.blocked("10.0.39.200", now); !blocked {
		t.Fatal("an untracked address escaped its site's limiter")
	}
	if _, blocked := a.blocked("192.0.2.1", now); blocked {
		t.Fatal("another site is locked out")
	}
	ev, _ := a.summary(now, true)
	// Past the cap, the 5 new addresses and 10.0.39.200 count together as "others".
	if !strings.HasPrefix(ev.Detail["addresses"], "others=6,") ||
		!strings.HasSuffix(ev.Detail["addresses"], fmt.Sprintf("+%d more", maxTrackedAddresses+1-maxListedAddresses)) {
		t.Fatalf("addresses %q … %q", ev.Detail["addresses"][:40], ev.Detail["addresses"][len(ev.Detail["addresses"])-40:])
	}
}

// TestAuthFailuresFromOneIPv6SlashSixtyFourShareALimiter: a host that owns an
// IPv6 /64 (the usual smallest allocation) has 2^64 addresses. Counted per
// address, it was never limited, and it filled the tracked-address table so
// that every new client shared the spent overflow limiter: a lockout of
// everyone by one host. Failures are counted per /64.
func TestAuthFailuresFromOneIPv6SlashSixtyFourShareALimiter(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	a := newAuthFailures(60, 2, time.Minute)
	blocked := 0
	for i := range maxTrackedAddresses + 100 {
		addr := clientKey(fmt.Sprintf("2001:db8:1:2:%x:%x::1", i>>16, i&0xffff))
		if _, b := a.blocked(addr, now); b {
			blocked++
			continue
		}
		a.failed(addr, "junk", now)
	}
	if blocked < maxTrackedAddresses {
		t.Fatalf("one /64 was refused only %d of %d times", blocked, maxTrackedAddresses+100)
	}
	if len(a.limiters) != 1 {
		t.Fatalf("one /64 holds %d limiters", len(a.limiters))
	}
	if _, b := a.blocked(clientKey("2001:db8:9::1"), now); b {
		t.Fatal("another /64 is locked out by the flood")
	}
	if _, b := a.blocked(clientKey("192.0.2.7"), now); b {
		t.Fatal("an IPv4 client is locked out by the flood")
	}
	for _, tc := range [][2]string{
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:DB8:1:2:ffff::9", "2001:db8:1:2::/64"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"192.0.2.1", "192.0.2.1"},
		{"not-an-ip", "not-an-ip"},
	} {
		if got := clientKey(tc[0]); got != tc[1] {
			t.Errorf("clientKey(%s) = %s, want %s", tc[0], got, tc[1])
		}
	}
}

// TestAuthFailuresCountedAddressesBounded: the per-window address counts
// grew with every new address until the summary was written, so a flood
// from many addresses (an IPv6 range, a botnet) grew memory without bound
// for a whole window. Past maxTrackedAddresses, new addresses are counted
// together.
func TestAuthFailuresCountedAddressesBounded(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	a := newAuthFailures(600, 1000, time.Minute)
	n := 3 * maxTrackedAddresses
	for i := range n {
		a.failed(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "x", now)
	}
	if len(a.byAddr) > maxTrackedAddresses+1 {
		t.Fatalf("%d addresses counted in memory for one window", len(a.byAddr))
	}
	ev, _ := a.summary(now, true)
	if ev.Detail["failures"] != fmt.Sprint(n) || !strings.Contains(ev.Reason, fmt.Sprintf("%d failed", n)) {
		t.Fatalf("summary lost failures: %+v", ev)
	}
}

// TestAuthFailureTableFloodFromOneSiteDoesNotLockOutEveryone: once the
// tracked-address table was full, every new address shared one overflow
// limiter, checked before the token. A host with a /48 (65,536 /64s; free
// from tunnel brokers) or a few thousand IPv4 addresses filled the table,
// spent the shared limiter, and every other client — with a valid token —
// got 429. Past the cap, addresses now share a limiter per site (IPv6 /48,
// IPv4 /24), so the flood locks out only its own site.
func TestAuthFailureTableFloodFromOneSiteDoesNotLockOutEveryone(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	a := newAuthFailures(10, 20, time.Minute)
	for i := range maxTrackedAddresses + 100 {
		addr := clientKey(fmt.Sprintf("2001:db8:1:%x::1", i))
		for range 21 {
			if _, b := a.blocked(addr, now); b {
				break
			}
			a.failed(addr, "junk", now)
		}
	}
	if _, b := a.blocked(clientKey("2001:db8:1:ffff::1"), now); !b {
		t.Fatal("a new /64 in the flooding /48 is not limited")
	}
	for _, other := range []string{"2001:db8:2::1", "192.0.2.7", "198.51.100.1"} {
		if _, b := a.blocked(clientKey(other), now); b {
			t.Fatalf("%s (another site) is locked out by the flood", other)
		}
	}
	for i := range maxTrackedAddresses + 100 { // and an IPv4 flood from one /24 … or many
		addr := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		for range 21 {
			if _, b := a.blocked(addr, now); b {
				break
			}
			a.failed(addr, "junk", now)
		}
	}
	if _, b := a.blocked(clientKey("198.51.100.1"), now); b {
		t.Fatal("198.51.100.1 is locked out by a flood from 10.0.0.0/8")
	}
	if n := len(a.limiters) + len(a.sites); n > 2*maxTrackedAddresses+1 {
		t.Fatalf("%d limiters in memory", n)
	}
}

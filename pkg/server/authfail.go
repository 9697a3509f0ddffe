package server

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/jit-access/jit/pkg/audit"
)

// Failed authentication is the one thing anyone on the network can make the
// server do without a credential. So that junk tokens cannot flood the
// hash-chained audit log (and, through it, the webhooks), failures are
// limited per client address and summarised: the log gets one auth.failed
// record per window with the count, the first and last time and the
// addresses, not one record per try. The limit applies to failures only,
// after the token was checked: an address many users share (a load
// balancer, a NAT) is never locked out for its valid tokens.

// maxListedAddresses bounds the addresses named in one summary record.
const maxListedAddresses = 20

// maxTrackedAddresses bounds the per-address limiters kept in memory; past
// it, every new address shares one limiter.
const maxTrackedAddresses = 10000

// authFailures counts failed authentications for one summary window and
// rate-limits them per client address. Times come from the server's clock.
type authFailures struct {
	rate   rate.Limit
	burst  int
	window time.Duration

	mu       sync.Mutex
	limiters map[string]*rate.Limiter // per address (clientKey)
	sites    map[string]*rate.Limiter // per site once limiters is full (siteKey)
	start    time.Time                // first failure of the open window; zero: none
	last     time.Time
	count    int // failures answered 401
	limited  int // failed tries answered 429 (the address is over its limit)
	byAddr   map[string]int
	lastWhy  string
}

func newAuthFailures(perMinute float64, burst int, window time.Duration) *authFailures {
	return &authFailures{rate: rate.Limit(perMinute / 60), burst: burst, window: window,
		limiters: map[string]*rate.Limiter{}, sites: map[string]*rate.Limiter{}, byAddr: map[string]int{}}
}

// clientAddress is the address failures are counted against: the TCP peer
// (jit trusts no forwarding header), an IPv6 peer by its /64 (clientKey).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return clientKey(r.RemoteAddr)
	}
	return clientKey(host)
}

// limiter returns addr's limiter, making it when needed. Past
// maxTrackedAddresses, a new address shares its site's limiter (IPv6 /48,
// IPv4 /24), so a flood from one site, once it fills the table, limits that
// site and not everyone; past as many sites, the rest share one.
func (a *authFailures) limiter(addr string) *rate.Limiter {
	if lim, ok := a.lookup(addr); ok {
		return lim
	}
	lim := rate.NewLimiter(a.rate, a.burst)
	switch {
	case len(a.limiters) < maxTrackedAddresses:
		a.limiters[addr] = lim
	case len(a.sites) < maxTrackedAddresses:
		a.sites[siteKey(addr)] = lim
	default:
		a.sites["*"] = lim
	}
	return lim
}

// lookup finds the limiter that counts addr, if there is one yet.
func (a *authFailures) lookup(addr string) (*rate.Limiter, bool) {
	if lim, ok := a.limiters[addr]; ok || len(a.limiters) < maxTrackedAddresses {
		return lim, ok
	}
	if lim, ok := a.sites[siteKey(addr)]; ok || len(a.sites) < maxTrackedAddresses {
		return lim, ok
	}
	lim, ok := a.sites["*"]
	return lim, ok
}

// blocked reports whether addr has used up its failures at now and, if so,
// counts the try and says how long until the next one is allowed.
func (a *authFailures) blocked(addr string, now time.Time) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	lim, ok := a.lookup(addr)
	if !ok || lim.TokensAt(now) >= 1 {
		return 0, false
	}
	a.note(addr, now)
	a.limited++
	wait := time.Duration(math.Ceil((1 - lim.TokensAt(now)) / float64(a.rate) * float64(time.Second)))
	return wait, true
}

// failed records one failed authentication from addr at now.
func (a *authFailures) failed(addr, why string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.limiter(addr).AllowN(now, 1)
	a.note(addr, now)
	a.count++
	a.lastWhy = why
}

func (a *authFailures) note(addr string, now time.Time) {
	if a.start.IsZero() {
		a.start = now
	}
	if now.After(a.last) {
		a.last = now
	}
	if _, ok := a.byAddr[addr]; !ok && len(a.byAddr) >= maxTrackedAddresses {
		addr = "others" // bounded memory: past the cap, new addresses count together
	}
	a.byAddr[addr]++
}

// summary closes the open window when it is over at now (or always, with
// force) and returns its record; ok is false when there is nothing to write.
func (a *authFailures) summary(now time.Time, force bool) (audit.Event, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// Forget limiters that have refilled: they hold nothing.
	for _, m := range []map[string]*rate.Limiter{a.limiters, a.sites} {
		for addr, lim := range m {
			if lim.TokensAt(now) >= float64(a.burst) {
				delete(m, addr)
			}
		}
	}
	if a.start.IsZero() || (!force && now.Before(a.start.Add(a.window))) {
		return audit.Event{}, false
	}
	addrs := make([]string, 0, len(a.byAddr))
	for addr := range a.byAddr {
		addrs = append(addrs, addr)
	}
	sort.Slice(addrs, func(i, j int) bool {
		if a.byAddr[addrs[i]] != a.byAddr[addrs[j]] {
			return a.byAddr[addrs[i]] > a.byAddr[addrs[j]]
		}
		return addrs[i] < addrs[j]
	})
	listed := make([]string, 0, min(len(addrs), maxListedAddresses))
	for _, addr := range addrs[:min(len(addrs), maxListedAddresses)] {
		listed = append(listed, fmt.Sprintf("%s=%d", addr, a.byAddr[addr]))
	}
	if len(addrs) > maxListedAddresses {
		listed = append(listed, fmt.Sprintf("+%d more", len(addrs)-maxListedAddresses))
	}
	ev := audit.Event{Time: now, Type: audit.TypeAuthFailed, Actor: "anonymous",
		Reason: fmt.Sprintf("%d failed authentication(s) from %d address(es)", a.count+a.limited, len(addrs)),
		Detail: map[string]string{
			"summary":      "true",
			"failures":     strconv.Itoa(a.count),
			"rate_limited": strconv.Itoa(a.limited),
			"first":        a.start.UTC().Format(time.RFC3339Nano),
			"last":         a.last.UTC().Format(time.RFC3339Nano),
			"addresses":    strings.Join(listed, ","),
			"last_reason":  a.lastWhy,
		}}
	a.start, a.last, a.count, a.limited, a.lastWhy = time.Time{}, time.Time{}, 0, 0, ""
	a.byAddr = map[string]int{}
	return ev, true
}

// FlushAuthFailures writes the summary of failed authentications counted so
// far, whether or not their window is over (shutdown, tests).
func (s *Server) FlushAuthFailures(ctx context.Context) error {
	return s.flushAuthFailures(ctx, true)
}

func (s *Server) flushAuthFailures(ctx context.Context, force bool) error {
	ev, ok := s.authFails.summary(s.now(), force)
	if !ok {
		return nil
	}
	return s.append(ctx, ev)
}

// authFailureLoop writes a summary once a window is over, and the last one
// when ctx ends.
func (s *Server) authFailureLoop(ctx context.Context) error {
	t := time.NewTicker(min(s.opts.AuthFailureWindow, time.Minute) / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := s.flushAuthFailures(fctx, true); err != nil {
				s.log.Warn("write the last failed-authentication summary", "err", err)
			}
			return nil
		case <-t.C:
			if err := s.flushAuthFailures(ctx, false); err != nil && ctx.Err() == nil {
				s.log.Warn("write the failed-authentication summary", "err", err)
			}
		}
	}
}

// siteKey is the site a clientKey belongs to: an IPv6 /48 (a site's usual
// allocation, free from tunnel brokers) or an IPv4 /24.
func siteKey(key string) string {
	ip, _, err := net.ParseCIDR(key)
	if err != nil {
		ip = net.ParseIP(key)
	}
	switch {
	case ip == nil:
		return "*"
	case ip.To4() != nil:
		return (&net.IPNet{IP: ip.To4().Mask(net.CIDRMask(24, 32)), Mask: net.CIDRMask(24, 32)}).String()
	default:
		return (&net.IPNet{IP: ip.Mask(net.CIDRMask(48, 128)), Mask: net.CIDRMask(48, 128)}).String()
	}
}

// clientKey is the unit failures are limited by: an IPv4 address, or an
// IPv6 /64 (one host or site usually holds a whole /64, so counting its
// 2^64 addresses one by one would never limit it, and would fill the
// tracked-address table for everyone).
func clientKey(host string) string {
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// dayKind is what one simulated request is.
type dayKind int

const (
	kindRead        dayKind = iota // readonly, auto-approved
	kindAdminOK                    // prod-admin, approved by an approver
	kindAdminDeny                  // prod-admin, denied
	kindAdminCancel                // prod-admin, cancelled by the requester while pending
	kindBreakGlass                 // oncall, self-activated with a reason
)

var kindNames = map[dayKind]string{kindRead: "auto-approved read", kindAdminOK: "admin, approved", kindAdminDeny: "admin, denied",
	kindAdminCancel: "admin, cancelled while pending", kindBreakGlass: "break-glass"}

type dayPlan struct {
	at       time.Duration
	kind     dayKind
	user     string
	approver string
	dur      time.Duration
	extend   bool          // extend once, mid-grant
	revokeAt time.Duration // >0: revoke this long after activation
	revoker  string
}

type dayCred struct {
	grant string
	c     api.Credentials
}

// daySummary is the simulated day's outcome table.
type daySummary struct {
	wall                        time.Duration
	users, requests             int
	byKind                      map[string]int
	extended, revoked, expired  int
	vended, liveOK, liveFail    int
	refusedNoGrant              int // credentials refused for denied/cancelled requests
	postEndChecks, lingering    int
	finalChecks, finalLingering int
	notFinal                    int // grants the server still showed live after end+grace
	errors                      []string
}

// planDay draws a compressed day: n requests spread over span from devs
// developers, with a fixed seed so every run replays the same day.
func planDay(n, devs, apprs int, span time.Duration) []dayPlan {
	rng := rand.New(rand.NewPCG(7, 2026))
	var plans []dayPlan
	for range n {
		p := dayPlan{at: time.Duration(rng.Int64N(int64(span))), user: fmt.Sprintf("dev%02d", rng.IntN(devs)+1),
			approver: fmt.Sprintf("appr%d", rng.IntN(apprs)+1)}
		x := rng.Float64()
		switch {
		case x < 0.45:
			p.kind = kindRead
		case x < 0.70:
			p.kind = kindAdminOK
		case x < 0.80:
			p.kind = kindAdminDeny
		case x < 0.88:
			p.kind = kindAdminCancel
		default:
			p.kind = kindBreakGlass
		}
		p.dur = time.Duration(4+rng.IntN(9)) * time.Second
		if p.kind == kindAdminOK && rng.Float64() < 0.25 {
			p.extend = true
		}
		if (p.kind == kindRead || p.kind == kindAdminOK || p.kind == kindBreakGlass) && !p.extend && rng.Float64() < 0.15 {
			p.revokeAt = time.Duration(rng.Int64N(int64(p.dur) / 2))
			p.revoker = p.approver
			if rng.IntN(2) == 0 {
				p.revoker = p.user // requesters may end their own grant
			}
		}
		plans = append(plans, p)
	}
	sort.Slice(plans, func(i, j int) bool { return plans[i].at < plans[j].at })
	return plans
}

// grace is how long after a grant's end the S3 check runs: MinIO compares
// aws:CurrentTime at whole seconds, and the sweeper runs every second.
const grace = 1500 * time.Millisecond

func (r *rig) runDay(t *testing.T, base string, plans []dayPlan, devs int) *daySummary {
	sum := &daySummary{byKind: map[string]int{}, users: devs, requests: len(plans)}
	var mu sync.Mutex
	var ledger []dayCred
	fail := func(format string, a ...any) {
		mu.Lock()
		if len(sum.errors) < 20 {
			sum.errors = append(sum.errors, fmt.Sprintf(format, a...))
		}
		mu.Unlock()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			time.Sleep(time.Until(start.Add(p.at)))
			in := api.CreateRequest{Role: "readonly", DurationSeconds: int64(p.dur / time.Second)}
			switch p.kind {
			case kindAdminOK, kindAdminDeny, kindAdminCancel:
				in = api.CreateRequest{Role: "prod-admin", Reason: "deploy hotfix", DurationSeconds: int64(p.dur / time.Second)}
			case kindBreakGlass:
				in = api.CreateRequest{Role: "oncall", Reason: "incident: prod down", BreakGlass: true, DurationSeconds: int64(p.dur / time.Second)}
			}
			var req api.Request
			if _, err := r.call(ctx, base, p.user, "POST", "/v1/requests", in, &req); err != nil {
				fail("create: %v", err)
				return
			}
			mu.Lock()
			sum.byKind[kindNames[p.kind]]++
			mu.Unlock()
			id := req.ID
			switch p.kind {
			case kindAdminOK, kindAdminDeny:
				time.Sleep(time.Duration(300+rand.IntN(1500)) * time.Millisecond) // the approver reads the request
				verb := "approve"
				if p.kind == kindAdminDeny {
					verb = "deny"
				}
				if _, err := r.call(ctx, base, p.approver, "POST", "/v1/requests/"+id+"/"+verb, api.DecisionBody{Comment: "sim"}, &req); err != nil {
					fail("%s: %v", verb, err)
					return
				}
			case kindAdminCancel:
				time.Sleep(time.Duration(200+rand.IntN(800)) * time.Millisecond)
				if _, err := r.call(ctx, base, p.user, "POST", "/v1/requests/"+id+"/cancel", api.DecisionBody{Comment: "not needed"}, &req); err != nil {
					fail("cancel: %v", err)
					return
				}
			}
			if !req.State.Granted() {
				// No grant: the server must refuse credentials.
				if code, err := r.call(ctx, base, p.user, "POST", "/v1/requests/"+id+"/credentials", nil, nil); err == nil || code != 409 {
					fail("credentials for %s request %s: HTTP %d", req.State, id, code)
				} else {
					mu.Lock()
					sum.refusedNoGrant++
					mu.Unlock()
				}
				return
			}
			fetch := func() {
				var c api.Credentials
				if _, err := r.call(ctx, base, p.user, "POST", "/v1/requests/"+id+"/credentials", nil, &c); err != nil {
					fail("credentials: %v", err)
					return
				}
				ok := r.s3Works(ctx, c)
				mu.Lock()
				ledger = append(ledger, dayCred{grant: id, c: c})
				sum.vended++
				if ok {
					sum.liveOK++
				} else {
					sum.liveFail++
				}
				mu.Unlock()
			}
			fetch()
			activated := time.Now()
			endAt := req.EndsAt
			want := api.StateExpired
			switch {
			case p.extend:
				time.Sleep(time.Until(req.StartsAt.Add(req.Duration() / 2)))
				if _, err := r.call(ctx, base, p.user, "POST", "/v1/requests/"+id+"/extend", api.ExtendBody{DurationSeconds: 4, Reason: "not done"}, &req); err != nil {
					fail("extend: %v", err)
				} else {
					mu.Lock()
					sum.extended++
					mu.Unlock()
					endAt = req.EndsAt
					fetch() // new credentials bounded by the new end
				}
			case p.revokeAt > 0:
				time.Sleep(time.Until(activated.Add(p.revokeAt)))
				if _, err := r.call(ctx, base, p.revoker, "POST", "/v1/requests/"+id+"/revoke", api.DecisionBody{Comment: "done early"}, &req); err != nil {
					fail("revoke: %v", err)
				} else {
					endAt = time.Now()
					want = api.StateRevoked
				}
			}
			time.Sleep(time.Until(endAt.Add(grace)))
			var g api.Request
			if _, err := r.call(ctx, base, p.user, "GET", "/v1/requests/"+id, nil, &g); err != nil {
				fail("get: %v", err)
			}
			mu.Lock()
			if g.State != want {
				sum.notFinal++
				mu.Unlock()
				fail("grant %s is %s at end+%s, want %s", id, g.State, grace, want)
				mu.Lock()
			}
			if want == api.StateRevoked {
				sum.revoked++
			} else {
				sum.expired++
			}
			var mine []api.Credentials
			for _, d := range ledger {
				if d.grant == id {
					mine = append(mine, d.c)
				}
			}
			mu.Unlock()
			for _, c := range mine {
				works := r.s3Works(ctx, c)
				mu.Lock()
				sum.postEndChecks++
				if works {
					sum.lingering++
				}
				mu.Unlock()
				if works {
					fail("LINGERING: credentials %s of grant %s work after its end", c.AccessKeyID, id)
				}
			}
		}()
	}
	wg.Wait()
	// Once more at the end of the day: every credential ever vended.
	for _, d := range ledger {
		sum.finalChecks++
		if r.s3Works(context.Background(), d.c) {
			sum.finalLingering++
		}
	}
	sum.wall = time.Since(start)
	return sum
}

package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

const testPolicy = `
admins: {users: [root@example.com], groups: [jit-admins]}
roles:
  - name: prod-admin
    arn: arn:aws:iam::123456789012:role/jit-prod-admin
    eligible: {groups: [developers], users: [alice@example.com]}
    default_duration: 1h
    max_duration: 4h
    reason_required: true
    ticket_pattern: '^[A-Z]+-[0-9]+$'
    approvers: {groups: [approvers], users: [boss@example.com]}
    approvals_required: 2
    auto_approve: {groups: [sre], max_duration: 30m}
    break_glass: {allowed: true, groups: [oncall], max_duration: 1h}
    pending_timeout: 30m
    max_extensions: 2
    max_total_duration: 6h
  - name: dev
    arn: arn:aws:iam::123456789012:role/dev
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
`

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Parse("policy.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

var (
	alice     = api.User{Subject: "a1", Email: "alice@example.com", Username: "alice@example.com"}
	dev       = api.User{Subject: "d1", Email: "dev@example.com", Username: "dev@example.com", Groups: []string{"developers"}}
	sre       = api.User{Subject: "s1", Email: "sre@example.com", Username: "sre@example.com", Groups: []string{"developers", "sre"}}
	oncall    = api.User{Subject: "o1", Email: "oncall@example.com", Username: "oncall@example.com", Groups: []string{"developers", "oncall"}}
	approver  = api.User{Subject: "p1", Email: "appr@example.com", Username: "appr@example.com", Groups: []string{"approvers"}}
	approver2 = api.User{Subject: "p2", Email: "appr2@example.com", Username: "appr2@example.com", Groups: []string{"approvers"}}
	devAppr   = api.User{Subject: "p3", Email: "devappr@example.com", Username: "devappr@example.com", Groups: []string{"developers", "approvers"}}
	boss      = api.User{Subject: "b1", Email: "BOSS@example.com", Username: "BOSS@example.com"}
	admin     = api.User{Subject: "r1", Email: "root@example.com", Username: "root@example.com"}
	admin2    = api.User{Subject: "r2", Groups: []string{"jit-admins"}}
	stranger  = api.User{Subject: "x1", Email: "x@example.com", Username: "x@example.com", Groups: []string{"marketing"}}
	// noEmail's token has no email; its subject merely looks like alice's.
	noEmail = api.User{Subject: "alice@example.com"}
)

func TestEligibleByUserAndGroup(t *testing.T) {
	p := mustParse(t, testPolicy)
	tests := []struct {
		name string
		u    api.User
		want []string
	}{
		{"user listed by email", alice, []string{"prod-admin"}},
		{"subject that looks like a listed email is not that user", noEmail, nil},
		{"group member", dev, []string{"prod-admin", "dev"}},
		{"nobody", stranger, nil},
		{"approver only is not eligible", approver, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range p.Eligible(tt.u) {
				got = append(got, r.Name)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Eligible = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckRequest(t *testing.T) {
	p := mustParse(t, testPolicy)
	ok := api.CreateRequest{Role: "prod-admin", Reason: "deploy", Ticket: "OPS-1"}
	with := func(f func(*api.CreateRequest)) api.CreateRequest { c := ok; f(&c); return c }
	tests := []struct {
		name    string
		u       api.User
		in      api.CreateRequest
		want    Outcome
		wantDur time.Duration
		denied  string // substring of a *DeniedError
		invalid string // field of an *InvalidError
		msg     string // substring of the error
	}{
		{name: "default duration filled in", u: dev, in: ok, want: Outcome{ApprovalsNeeded: 2, Rule: "roles[prod-admin].approvers"}, wantDur: time.Hour},
		{name: "explicit duration kept", u: dev, in: with(func(c *api.CreateRequest) { c.DurationSeconds = 7200 }), want: Outcome{ApprovalsNeeded: 2, Rule: "roles[prod-admin].approvers"}, wantDur: 2 * time.Hour},
		{name: "at max", u: dev, in: with(func(c *api.CreateRequest) { c.DurationSeconds = 4 * 3600 }), want: Outcome{ApprovalsNeeded: 2, Rule: "roles[prod-admin].approvers"}, wantDur: 4 * time.Hour},
		{name: "over max", u: dev, in: with(func(c *api.CreateRequest) { c.DurationSeconds = 4*3600 + 1 }), invalid: "duration", msg: "max for prod-admin is 4h (ask for --for 4h or less)"},
		{name: "huge duration does not overflow", u: dev, in: with(func(c *api.CreateRequest) { c.DurationSeconds = 1 << 62 }), invalid: "duration", msg: "max for prod-admin is 4h"},
		{name: "negative duration", u: dev, in: with(func(c *api.CreateRequest) { c.DurationSeconds = -5 }), invalid: "duration"},
		{name: "unknown role", u: dev, in: api.CreateRequest{Role: "nope"}, invalid: "role", msg: "jit roles"},
		{name: "not eligible", u: stranger, in: ok, denied: "not eligible for prod-admin"},
		{name: "reason missing", u: dev, in: with(func(c *api.CreateRequest) { c.Reason = "  " }), invalid: "reason", msg: "--reason"},
		{name: "reason not required on dev", u: dev, in: api.CreateRequest{Role: "dev"}, want: Outcome{ApprovalsNeeded: 1, Rule: "roles[dev].approvers"}, wantDur: time.Hour},
		{name: "reason too long", u: dev, in: with(func(c *api.CreateRequest) { c.Reason = strings.Repeat("x", MaxReasonLength+1) }), invalid: "reason"},
		{name: "ticket missing", u: dev, in: with(func(c *api.CreateRequest) { c.Ticket = "" }), invalid: "ticket", msg: "requires a ticket matching ^[A-Z]+-[0-9]+$"},
		{name: "ticket not matching", u: dev, in: with(func(c *api.CreateRequest) { c.Ticket = "ops-1" }), invalid: "ticket", msg: `"ops-1" does not match`},
		{name: "auto-approve by group within its max", u: sre, in: with(func(c *api.CreateRequest) { c.DurationSeconds = 1800 }), want: Outcome{AutoApproved: true, Rule: "roles[prod-admin].auto_approve"}, wantDur: 30 * time.Minute},
		{name: "auto-approve group above its max needs approvers", u: sre, in: with(func(c *api.CreateRequest) { c.DurationSeconds = 1801 }), want: Outcome{ApprovalsNeeded: 2, Rule: "roles[prod-admin].approvers"}, wantDur: 1801 * time.Second},
		{name: "auto-approve group with default over its max", u: sre, in: ok, want: Outcome{ApprovalsNeeded: 2, Rule: "roles[prod-admin].approvers"}, wantDur: time.Hour},
		{name: "auto-approve still needs reason", u: sre, in: with(func(c *api.CreateRequest) { c.Reason = ""; c.DurationSeconds = 600 }), invalid: "reason"},
		{name: "break-glass by oncall", u: oncall, in: api.CreateRequest{Role: "prod-admin", Reason: "outage", BreakGlass: true}, want: Outcome{BreakGlass: true, Rule: "roles[prod-admin].break_glass"}, wantDur: time.Hour},
		{name: "break-glass needs reason", u: oncall, in: api.CreateRequest{Role: "prod-admin", BreakGlass: true}, invalid: "reason", msg: "break-glass needs a reason"},
		{name: "break-glass needs break-glass group", u: dev, in: with(func(c *api.CreateRequest) { c.BreakGlass = true }), denied: "may not break glass"},
		{name: "break-glass needs eligibility", u: api.User{Email: "o@x", Username: "o@x", Groups: []string{"oncall"}}, in: with(func(c *api.CreateRequest) { c.BreakGlass = true }), denied: "not eligible"},
		{name: "break-glass over its max", u: oncall, in: with(func(c *api.CreateRequest) { c.BreakGlass = true; c.DurationSeconds = 7200 }), invalid: "duration", msg: "max break-glass for prod-admin is 1h"},
		{name: "break-glass not allowed on role", u: dev, in: api.CreateRequest{Role: "dev", Reason: "x", BreakGlass: true}, denied: "does not allow break-glass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, d, err := p.CheckRequest(tt.u, tt.in)
			var de *DeniedError
			var ie *InvalidError
			switch {
			case tt.denied != "":
				if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.denied) {
					t.Fatalf("err = %v, want DeniedError containing %q", err, tt.denied)
				}
			case tt.invalid != "":
				if !errors.As(err, &ie) || ie.Field != tt.invalid {
					t.Fatalf("err = %#v, want InvalidError on %s", err, tt.invalid)
				}
			case err != nil:
				t.Fatalf("err = %v", err)
			}
			if err != nil && RuleOf(err) == "" {
				t.Errorf("refusal %v names no rule", err)
			}
			if tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg)) {
				t.Errorf("err = %v, want it to contain %q", err, tt.msg)
			}
			if err != nil {
				return
			}
			if d != tt.wantDur {
				t.Errorf("duration = %s, want %s", d, tt.wantDur)
			}
			out.Why = ""
			if out != tt.want {
				t.Errorf("outcome = %+v, want %+v", out, tt.want)
			}
		})
	}
}

func pending(requester string) *api.Request {
	return &api.Request{ID: "r1", Requester: requester, Role: "prod-admin", State: api.StatePending, ApprovalsNeeded: 2}
}

func TestCanApproveAndDeny(t *testing.T) {
	p := mustParse(t, testPolicy)
	approvedBy := func(who string) *api.Request {
		r := pending(dev.ID())
		r.Approvals = []api.Decision{{By: who, Approve: true}}
		return r
	}
	active := pending(dev.ID())
	active.State = api.StateActive
	tests := []struct {
		name string
		u    api.User
		req  *api.Request
		kind string // "", "denied", "conflict"
		msg  string
	}{
		{"approver by group", approver, pending(dev.ID()), "", ""},
		{"approver by user, case-insensitive", boss, pending(dev.ID()), "", ""},
		{"self-approval refused even for an approver", devAppr, pending(devAppr.ID()), "denied", "a requester never approves their own request"},
		{"not an approver", dev, pending(alice.ID()), "denied", "not an approver for prod-admin"},
		{"admin is not an approver", admin, pending(dev.ID()), "denied", "not an approver"},
		{"second distinct approver may approve", approver2, approvedBy(approver.ID()), "", ""},
		{"same approver twice refused", approver, approvedBy(approver.ID()), "conflict", "already approved"},
		{"not pending", approver, active, "conflict", "is active, not pending"},
		{"role gone", approver, &api.Request{ID: "r2", Requester: "x", Role: "gone", State: api.StatePending}, "denied", "no longer in the policy"},
	}
	for _, tt := range tests {
		for verb, f := range map[string]func(api.User, *api.Request) error{"approve": p.CanApprove, "deny": p.CanDeny} {
			t.Run(verb+"/"+tt.name, func(t *testing.T) {
				err := f(tt.u, tt.req)
				checkKind(t, err, tt.kind)
				if verb == "approve" && tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("err = %v, want %q", err, tt.msg)
				}
			})
		}
	}
}

func checkKind(t *testing.T, err error, kind string) {
	t.Helper()
	var de *DeniedError
	var ce *ConflictError
	switch kind {
	case "":
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
	case "denied":
		if !errors.As(err, &de) {
			t.Fatalf("err = %v, want *DeniedError", err)
		}
	case "conflict":
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v, want *ConflictError", err)
		}
	case "invalid":
		var ie *InvalidError
		if !errors.As(err, &ie) {
			t.Fatalf("err = %v, want *InvalidError", err)
		}
	}
}

// TestNDistinctApproversReachQuorum walks a request through approvals the
// way the server does: each approver once, the requester never.
func TestNDistinctApproversReachQuorum(t *testing.T) {
	p := mustParse(t, testPolicy)
	req := pending(dev.ID())
	var ok []string
	for _, u := range []api.User{approver, approver, dev, boss, approver2} {
		if p.CanApprove(u, req) == nil {
			req.Approvals = append(req.Approvals, api.Decision{By: u.ID(), Approve: true})
			ok = append(ok, u.ID())
		}
	}
	if want := "appr@example.com,BOSS@example.com,appr2@example.com"; strings.Join(ok, ",") != want {
		t.Errorf("approvals = %v, want %s", ok, want)
	}
	if len(req.Approvals) < req.ApprovalsNeeded {
		t.Errorf("quorum of %d not reached", req.ApprovalsNeeded)
	}
}

func TestRevokeCancelView(t *testing.T) {
	p := mustParse(t, testPolicy)
	live := pending(dev.ID())
	live.State = api.StateApproved
	tests := []struct {
		name           string
		u              api.User
		req            *api.Request
		revoke, cancel string
		view           bool
	}{
		{"requester on live grant", dev, live, "", "conflict", true},
		{"requester on pending", dev, pending(dev.ID()), "conflict", "", true},
		{"approver on live grant", approver, live, "", "denied", true},
		{"admin by user", admin, live, "", "conflict", true},
		{"admin by group cancels pending", admin2, pending(dev.ID()), "conflict", "", true},
		{"stranger", stranger, live, "denied", "denied", false},
		{"other eligible user", sre, live, "denied", "denied", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkKind(t, p.CanRevoke(tt.u, tt.req), tt.revoke)
			checkKind(t, p.CanCancel(tt.u, tt.req), tt.cancel)
			if got := p.CanView(tt.u, tt.req); got != tt.view {
				t.Errorf("CanView = %t, want %t", got, tt.view)
			}
		})
	}
}

func TestCheckExtend(t *testing.T) {
	p := mustParse(t, testPolicy)
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	grant := func(ext int, total time.Duration) *api.Request {
		r := pending(dev.ID())
		r.State = api.StateActive
		r.DurationSeconds = 3600
		r.StartsAt, r.EndsAt, r.Extensions = start, start.Add(total), ext
		return r
	}
	devGrant := grant(0, time.Hour)
	devGrant.Role = "dev"
	tests := []struct {
		name string
		u    api.User
		req  *api.Request
		by   time.Duration
		kind string
		msg  string
	}{
		{"first extension", dev, grant(0, time.Hour), time.Hour, "", ""},
		{"up to the total cap", dev, grant(1, 4*time.Hour), 2 * time.Hour, "", ""},
		{"over the total cap", dev, grant(1, 4*time.Hour), 3 * time.Hour, "invalid", "ask for --by 2h or less"},
		{"cap already reached", dev, grant(1, 6*time.Hour), time.Minute, "denied", "total max of 6h"},
		{"no extensions left", dev, grant(2, 2*time.Hour), time.Hour, "denied", "used all 2 extension(s)"},
		{"role allows none", dev, devGrant, time.Minute, "denied", "allows no extensions"},
		{"not the requester", approver, grant(0, time.Hour), time.Hour, "denied", "only the requester"},
		{"admin is not the requester", admin, grant(0, time.Hour), time.Hour, "denied", ""},
		{"not live", dev, pending(dev.ID()), time.Hour, "conflict", ""},
		{"zero", dev, grant(0, time.Hour), 0, "invalid", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.CheckExtend(tt.u, tt.req, tt.by)
			checkKind(t, err, tt.kind)
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want %q", err, tt.msg)
			}
		})
	}
}

func TestAdminsAndLookups(t *testing.T) {
	p := mustParse(t, testPolicy)
	for _, u := range []api.User{admin, admin2} {
		if !p.IsAdmin(u) {
			t.Errorf("IsAdmin(%s) = false", u.ID())
		}
	}
	if p.IsAdmin(approver) {
		t.Error("approver is admin")
	}
	if got := p.PendingTimeout("prod-admin"); got != 30*time.Minute {
		t.Errorf("PendingTimeout = %s", got)
	}
	if got := p.PendingTimeout("dev"); got != DefaultPendingTimeout {
		t.Errorf("PendingTimeout default = %s", got)
	}
	if got := p.Approvers("dev").String(); got != "groups approvers" {
		t.Errorf("Approvers = %s", got)
	}
	if !p.Approvers("nope").Empty() {
		t.Error("unknown role has approvers")
	}
	r, _ := p.Role("dev")
	if r.MaxDuration != time.Hour || r.DefaultDuration != time.Hour || r.MaxTotalDuration != time.Hour || r.ApprovalsRequired != 1 || r.MaxSessionDuration != time.Hour || r.Account != "123456789012" {
		t.Errorf("defaults not applied: %+v", r)
	}
}

func TestAPIRole(t *testing.T) {
	p := mustParse(t, `
roles:
  - name: fast
    arn: arn:aws:iam::123456789012:role/fast
    eligible: {groups: [developers, sre]}
    approvers: {groups: [approvers]}
    default_duration: 15m
    max_duration: 2h
    ticket_pattern: '^T-\d+$'
    auto_approve: {groups: [sre], max_duration: 30m}
    break_glass: {allowed: true}
`)
	r, _ := p.Role("fast")
	got := p.APIRole(r, sre)
	want := api.Role{Name: "fast", Account: "123456789012", ARN: "arn:aws:iam::123456789012:role/fast", DefaultDuration: 900, MaxDuration: 7200,
		TicketRequired: true, TicketPattern: `^T-\d+$`, ApprovalsRequired: 1, AutoApproved: true, BreakGlass: true, AgentNeedsApproval: true}
	if got != want {
		t.Errorf("APIRole(sre) =\n %+v, want\n %+v", got, want)
	}
	if got := p.APIRole(r, dev); got.AutoApproved || !got.BreakGlass {
		t.Errorf("APIRole(dev) = %+v: want not auto-approved, break-glass (empty list = every eligible user)", got)
	}
	if got := p.APIRole(r, stranger); got.AutoApproved || got.BreakGlass {
		t.Errorf("APIRole(stranger) = %+v", got)
	}
}

func TestExplain(t *testing.T) {
	p := mustParse(t, testPolicy)
	e := p.Explain(sre, "prod-admin")
	if !e.Eligible || e.AutoApproved || e.AutoApproveMax != 30*time.Minute || e.BreakGlass || e.CanApprove {
		t.Errorf("Explain(sre) = %+v", e)
	}
	s := e.String()
	for _, want := range []string{"eligible:  yes", "auto-approved up to 30m (the default 1h is longer); else 2 of groups approvers; users boss@example.com", "needs:     a reason and a ticket matching", "break-glass: no"} {
		if !strings.Contains(s, want) {
			t.Errorf("Explain(sre).String() lacks %q:\n%s", want, s)
		}
	}
	if s := p.Explain(approver, "prod-admin").String(); !strings.Contains(s, "eligible:  no") || !strings.Contains(s, "approves:  yes") {
		t.Errorf("Explain(approver):\n%s", s)
	}
	if s := p.Explain(oncall, "prod-admin").String(); !strings.Contains(s, "break-glass: allowed up to 1h") {
		t.Errorf("Explain(oncall):\n%s", s)
	}
	if s := p.Explain(dev, "nope").String(); !strings.Contains(s, "nope does not exist") {
		t.Errorf("Explain(nope):\n%s", s)
	}
}

// TestUnverifiedEmailMatchesNoUserEntryAndSaysWhy: boss's token carries his
// email unverified (no username); he is not boss@example.com to the policy,
// and the refusal says which claim is missing.
func TestUnverifiedEmailMatchesNoUserEntryAndSaysWhy(t *testing.T) {
	p := mustParse(t, testPolicy)
	unverified := api.User{Subject: "b1", UsernameMissing: `the token has no "email_verified" claim`}
	req := &api.Request{ID: "r1", Requester: "dev@example.com", RequesterIssuer: "i", RequesterSubject: "d1", Role: "prod-admin", State: api.StatePending}
	var denied *DeniedError
	if err := p.CanApprove(unverified, req); !errors.As(err, &denied) || !strings.Contains(denied.Hint, `no "email_verified" claim`) {
		t.Fatalf("CanApprove = %v", err)
	}
	if _, _, err := p.CheckRequest(api.User{Subject: "a1", UsernameMissing: "the token has no \"email\" claim"}, api.CreateRequest{Role: "prod-admin", Reason: "x", Ticket: "A-1"}); !errors.As(err, &denied) || !strings.Contains(denied.Hint, `"email" claim`) {
		t.Fatalf("CheckRequest = %v", err)
	}
}

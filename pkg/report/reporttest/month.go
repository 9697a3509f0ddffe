// Package reporttest holds the seeded month of grants that the access
// report's and the policy replay's tests share, so both are checked on the
// same history.
package reporttest

import (
	"slices"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
)

// Month bounds the seeded month: April 2026, UTC.
func Month() (since, until time.Time) {
	return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
}

// Groups are the groups the seeded month's people's tokens carried.
func Groups() map[string][]string {
	return map[string][]string{
		"alice@example.com": {"developers"},
		"dave@example.com":  {"developers"},
		"erin@example.com":  {"developers", "oncall"},
		"bob@example.com":   {"approvers"},
		"carol@example.com": {"approvers", "admins"},
	}
}

// SeededMonth is April 2026 at a small company: prod-admin used only to
// read S3, a break-glass grant still unreviewed and one reviewed, unused
// grants, and one grant from March that the report leaves out.
func SeededMonth() []api.Request {
	day := func(d, h int) time.Time { return time.Date(2026, 4, d, h, 0, 0, 0, time.UTC) }
	act := func(last time.Time, actions ...api.ActionCount) *api.Activity {
		a := &api.Activity{FirstUse: last.Add(-10 * time.Minute), LastUse: last, Actions: actions}
		for _, x := range actions {
			a.Calls += x.Calls
		}
		return a
	}
	approved := func(by string, at time.Time) []api.Decision {
		return []api.Decision{{By: by, Approve: true, At: at}}
	}
	g := func(id, who, role string, start time.Time, asked time.Duration, st api.State) api.Request {
		return api.Request{ID: id, Requester: who, Role: role, State: st, DurationSeconds: int64(asked / time.Second),
			CreatedAt: start.Add(-5 * time.Minute), StartsAt: start, EndsAt: start.Add(asked), UpdatedAt: start.Add(asked)}
	}
	var out []api.Request
	r := g("req_01", "alice@example.com", "prod-admin", day(2, 9), time.Hour, api.StateExpired)
	r.Approvals, r.ApprovalsNeeded = approved("bob@example.com", day(2, 9)), 1
	r.Activity = act(day(2, 9).Add(40*time.Minute), api.ActionCount{Action: "s3:GetObject", Calls: 120}, api.ActionCount{Action: "s3:ListBucket", Calls: 14})
	out = append(out, r)

	r = g("req_02", "alice@example.com", "prod-admin", day(9, 14), 2*time.Hour, api.StateRevoked)
	r.Approvals, r.ApprovalsNeeded = approved("carol@example.com", day(9, 14)), 1
	r.UpdatedAt = day(9, 14).Add(25 * time.Minute) // revoked early
	r.Activity = act(day(9, 14).Add(20*time.Minute), api.ActionCount{Action: "s3:GetObject", Calls: 8})
	out = append(out, r)

	r = g("req_03", "dave@example.com", "prod-admin", day(15, 10), time.Hour, api.StateExpired)
	r.Approvals, r.ApprovalsNeeded = approved("bob@example.com", day(15, 10)), 1
	out = append(out, r) // never used

	r = g("req_04", "dave@example.com", "readonly", day(3, 8), 30*time.Minute, api.StateExpired)
	r.AutoApproved = true
	r.Activity = act(day(3, 8).Add(5*time.Minute), api.ActionCount{Action: "s3:ListBucket", Calls: 3},
		api.ActionCount{Action: "cloudwatch:GetMetricData", Calls: 40}, api.ActionCount{Action: "logs:FilterLogEvents", Calls: 12},
		api.ActionCount{Action: "ec2:DescribeInstances", Calls: 6}, api.ActionCount{Action: "s3:GetObject", Calls: 9},
		api.ActionCount{Action: "rds:DescribeDBInstances", Calls: 2})
	out = append(out, r)

	r = g("req_05", "erin@example.com", "oncall", day(20, 3), 30*time.Minute, api.StateExpired)
	r.BreakGlass, r.ReviewRequired, r.Reason = true, true, "web tier instances stuck"
	r.Activity = act(day(20, 3).Add(12*time.Minute), api.ActionCount{Action: "ec2:RebootInstances", Calls: 2}, api.ActionCount{Action: "ec2:DescribeInstances", Calls: 5})
	out = append(out, r)

	r = g("req_06", "alice@example.com", "oncall", day(27, 22), 30*time.Minute, api.StateRevoked)
	r.BreakGlass, r.ReviewRequired, r.Reason = true, true, "checking an alarm"
	r.UpdatedAt = day(27, 22).Add(21 * time.Minute) // idle timeout
	r.EndedBy, r.EndReason = "sweeper", "idle: no activity for 20m"
	r.Review = &api.Review{By: "bob@example.com", Verdict: api.VerdictConcern, Note: "no incident ticket", At: day(28, 9)}
	out = append(out, r) // never used

	r = g("req_07", "erin@example.com", "prod-admin", day(30, 23), 2*time.Hour, api.StateActive)
	r.Approvals, r.ApprovalsNeeded = approved("carol@example.com", day(30, 23)), 1
	r.Activity = act(day(30, 23).Add(30*time.Minute), api.ActionCount{Action: "s3:GetObject", Calls: 1})
	out = append(out, r) // still live at the report's end: used until then

	out = append(out, g("req_00", "alice@example.com", "prod-admin", time.Date(2026, 3, 30, 9, 0, 0, 0, time.UTC), time.Hour, api.StateExpired))
	return out
}

// Person is a seeded person as their token showed them.
func Person(name string) api.User {
	return api.User{Issuer: "https://idp.example.com", Subject: "sub-" + strings.TrimSuffix(name, "@example.com"),
		Email: name, Username: name, Groups: Groups()[name]}
}

// AuditLog is the audit log the seeded month's requests wrote, made
// by the same lifecycle functions the server uses. req_02 is written as a
// record from before jit recorded groups.
func AuditLog() ([]*api.Request, [][]audit.Event, error) {
	var reqs []*api.Request
	var logs [][]audit.Event
	for _, q := range SeededMonth() {
		in := lifecycle.NewInput{ID: q.ID, Requester: q.Requester, Create: api.CreateRequest{Role: q.Role, Reason: q.Reason},
			Duration: q.Duration(), ApprovalsNeeded: q.ApprovalsNeeded, AutoApproved: q.AutoApproved, BreakGlass: q.BreakGlass,
			PendingTimeout: time.Hour, RequesterUser: Person(q.Requester)}
		r, evs := lifecycle.New(in, q.CreatedAt)
		for _, a := range q.Approvals {
			more, err := lifecycle.Approve(r, Person(a.By), "", q.StartsAt)
			if err != nil {
				return nil, nil, err
			}
			evs = append(evs, more...)
		}
		var more []audit.Event
		var err error
		switch {
		case r.State == api.StatePending: // req_00, from March, left as it was
		case q.State == api.StateExpired:
			more, err = lifecycle.Sweep(r, r.EndsAt)
		case q.State == api.StateRevoked:
			more, err = lifecycle.Revoke(r, q.Requester, q.EndReason, q.UpdatedAt)
		}
		if err != nil {
			return nil, nil, err
		}
		evs = append(evs, more...)
		if q.ID == "req_02" {
			delete(evs[0].Detail, lifecycle.DetailRequesterGroups)
		}
		reqs, logs = append(reqs, r), append(logs, evs)
	}
	return reqs, logs, nil
}

// Export is AuditLog as `jit audit export` writes it: every record in time
// order, numbered from 1 (unhashed: replay does not verify the chain).
func Export() ([]api.AuditEvent, error) {
	_, logs, err := AuditLog()
	if err != nil {
		return nil, err
	}
	var out []api.AuditEvent
	for _, evs := range logs {
		for _, e := range evs {
			out = append(out, api.AuditEvent{Time: e.Time, Type: e.Type, Actor: e.Actor, Subject: e.Subject, Role: e.Role,
				RequestID: e.RequestID, Reason: e.Reason, Detail: e.Detail})
		}
	}
	slices.SortStableFunc(out, func(a, b api.AuditEvent) int { return a.Time.Compare(b.Time) })
	for i := range out {
		out[i].Seq = int64(i + 1)
	}
	return out, nil
}

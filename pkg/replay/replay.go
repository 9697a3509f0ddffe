package replay

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
)

// Changes a request may show under the proposed policy.
const (
	ChangeRefused        = "refused"         // was allowed, now refused
	ChangeAutoInstead    = "auto_instead"    // waited for approvers, now approved at once
	ChangeWaitsInstead   = "waits_instead"   // was approved at once, now waits for approvers
	ChangeOtherApprovers = "other_approvers" // waits as before, for another number or other people
	ChangeShorter        = "shorter"         // the grant would have been shorter
	ChangeNotReplayable  = "not_replayable"  // the record lacks the requester's groups
	changeNone           = ""
)

// Row is one request's replay.
type Row struct {
	ID        string    `json:"id"`
	At        time.Time `json:"at"`
	Requester string    `json:"requester"`
	Role      string    `json:"role"`
	// Was is what happened; Now is what the proposed policy answers:
	// auto_approved, break_glass, needs_approval, refused.
	Was string `json:"was"`
	Now string `json:"now"`
	// ApprovalsWas and ApprovalsNow count the approvals needed.
	ApprovalsWas int `json:"approvals_was"`
	ApprovalsNow int `json:"approvals_now"`
	// GrantedWas and GrantedNow are grant lengths in seconds (with
	// extensions; 0 when not granted).
	GrantedWas int64 `json:"granted_was_seconds"`
	GrantedNow int64 `json:"granted_now_seconds"`
	// Changes are the kinds of change, empty when none.
	Changes []string `json:"changes"`
	// Rule is the proposed policy's key that decided; Why says why.
	Rule string `json:"rule,omitempty"`
	Why  string `json:"why,omitempty"`
}

// RoleCount sums a role's rows.
type RoleCount struct {
	Role           string `json:"role"`
	Requests       int    `json:"requests"`
	Unchanged      int    `json:"unchanged"`
	Refused        int    `json:"refused"`
	AutoInstead    int    `json:"auto_instead"`
	WaitsInstead   int    `json:"waits_instead"`
	OtherApprovers int    `json:"other_approvers"`
	Shorter        int    `json:"shorter"`
	NotReplayable  int    `json:"not_replayable"`
}

// Result is a replay of a period.
type Result struct {
	Since time.Time   `json:"since"`
	Until time.Time   `json:"until"`
	Total RoleCount   `json:"total"`
	Roles []RoleCount `json:"roles"`
	Rows  []Row       `json:"requests"`
}

// Run replays the records created in [since, until) through p.
func Run(p *policy.Policy, records []Record, since, until time.Time) Result {
	res := Result{Since: since.UTC(), Until: until.UTC(), Total: RoleCount{Role: "all"}, Roles: []RoleCount{}, Rows: []Row{}}
	roles := map[string]*RoleCount{}
	for _, rec := range records {
		if rec.At.Before(since) || !rec.At.Before(until) {
			continue
		}
		row := replayOne(p, rec)
		res.Rows = append(res.Rows, row)
		rc := roles[rec.Role]
		if rc == nil {
			rc = &RoleCount{Role: rec.Role}
			roles[rec.Role] = rc
		}
		rc.count(row)
		res.Total.count(row)
	}
	for _, rc := range roles {
		res.Roles = append(res.Roles, *rc)
	}
	slices.SortFunc(res.Roles, func(a, b RoleCount) int { return strings.Compare(a.Role, b.Role) })
	return res
}

func (rc *RoleCount) count(row Row) {
	rc.Requests++
	if len(row.Changes) == 0 {
		rc.Unchanged++
	}
	for _, c := range row.Changes {
		switch c {
		case ChangeRefused:
			rc.Refused++
		case ChangeAutoInstead:
			rc.AutoInstead++
		case ChangeWaitsInstead:
			rc.WaitsInstead++
		case ChangeOtherApprovers:
			rc.OtherApprovers++
		case ChangeShorter:
			rc.Shorter++
		case ChangeNotReplayable:
			rc.NotReplayable++
		}
	}
}

// waited reports whether the request went to approvers.
func waited(was string) bool { return was != WasAutoApproved && was != WasBreakGlass }

func replayOne(p *policy.Policy, rec Record) Row {
	row := Row{ID: rec.ID, At: rec.At.UTC(), Requester: rec.Requester.ID(), Role: rec.Role, Was: rec.Was,
		GrantedWas: int64(rec.Granted / time.Second), Changes: []string{}}
	if waited(rec.Was) {
		row.ApprovalsWas = rec.ApprovalsNeeded
	}
	if !rec.GroupsKnown {
		row.Now, row.Changes = "unknown", []string{ChangeNotReplayable}
		row.Why = "the audit record does not carry the requester's groups (recorded before jit wrote them); not replayed"
		return row
	}
	in := api.CreateRequest{Role: rec.Role, DurationSeconds: int64(rec.Duration / time.Second), Reason: rec.Reason,
		Ticket: rec.Ticket, BreakGlass: rec.BreakGlass}
	out, d, err := p.CheckRequest(rec.Requester, in)
	shorter := false
	if cap, ok := durationCap(p, rec, err); ok {
		in.DurationSeconds = int64(cap / time.Second)
		out, d, err = p.CheckRequest(rec.Requester, in)
		shorter = err == nil
	}
	if err != nil {
		row.Now, row.Rule, row.Why = "refused", policy.RuleOf(err), err.Error()
		row.Changes = append(row.Changes, ChangeRefused)
		return row
	}
	if !out.Approved() && p.NeedsManager(rec.Role) {
		if !rec.ManagerKnown {
			row.Now, row.Changes = "unknown", []string{ChangeNotReplayable}
			row.Why = "the proposed policy lets the requester's manager approve, and the audit record does not say who the manager was (the role had no manager rule then); not replayed"
			return row
		}
		if out, err = p.WithManager(out, rec.Role, policy.ManagerAnswer(rec.Requester, "the audit record", rec.Manager, nil)); err != nil {
			row.Now, row.Rule, row.Why = "refused", policy.RuleOf(err), err.Error()
			row.Changes = append(row.Changes, ChangeRefused)
			return row
		}
	}
	row.Rule, row.Why = out.Rule, out.Why
	switch {
	case out.BreakGlass:
		row.Now = WasBreakGlass
	case out.AutoApproved:
		row.Now = WasAutoApproved
	default:
		row.Now, row.ApprovalsNow = "needs_approval", out.ApprovalsNeeded
	}
	switch {
	case waited(rec.Was) && out.Approved():
		row.Changes = append(row.Changes, ChangeAutoInstead)
	case !waited(rec.Was) && !out.Approved():
		row.Changes = append(row.Changes, ChangeWaitsInstead)
	case waited(rec.Was):
		if why := otherApprovers(p, rec, out); why != "" {
			row.Changes = append(row.Changes, ChangeOtherApprovers)
			row.Why = why + "; " + row.Why
		}
	}
	if rec.Granted > 0 {
		now := grantedNow(p, rec, d)
		row.GrantedNow = int64(now / time.Second)
		if shorter || now < rec.Granted {
			row.Changes = append(row.Changes, ChangeShorter)
		}
	}
	return row
}

// durationCap is the longest grant the proposed policy allows rec's path,
// when err refused rec only for its length.
func durationCap(p *policy.Policy, rec Record, err error) (time.Duration, bool) {
	var inv *policy.InvalidError
	if !errors.As(err, &inv) || inv.Field != "duration" {
		return 0, false
	}
	r, ok := p.Role(rec.Role)
	if !ok {
		return 0, false
	}
	if rec.BreakGlass && r.BreakGlass != nil {
		return r.BreakGlass.MaxDuration, true
	}
	return r.MaxDuration, true
}

// grantedNow is how long rec's grant would have lasted: the request's
// (possibly capped) length d plus its extensions, within max_total_duration.
func grantedNow(p *policy.Policy, rec Record, d time.Duration) time.Duration {
	total := d + (rec.Granted - rec.Duration)
	r, ok := p.Role(rec.Role)
	if ok && total > r.MaxTotalDuration {
		total = max(r.MaxTotalDuration, d)
	}
	if rec.Extensions > 0 && ok && r.MaxExtensions == 0 {
		total = d
	}
	return total
}

// otherApprovers says why the approvers rec had would no longer do:
// another number of approvals, or approvers the proposed policy does not
// list. Empty when they would do.
func otherApprovers(p *policy.Policy, rec Record, out policy.Outcome) string {
	if rec.ApprovalsNeeded > 0 && out.ApprovalsNeeded != rec.ApprovalsNeeded {
		return fmt.Sprintf("needs %d approval(s), not %d", out.ApprovalsNeeded, rec.ApprovalsNeeded)
	}
	if !rec.ApproversKnown {
		return ""
	}
	allowed := p.Approvers(rec.Role)
	req := &api.Request{Role: rec.Role, Manager: rec.Manager}
	var gone []string
	for _, a := range rec.Approvers {
		if !p.Approves(a, req) {
			gone = append(gone, a.ID())
		}
	}
	if len(gone) > 0 {
		return fmt.Sprintf("%s would no longer be an approver (approvers are %s)", strings.Join(gone, ", "), allowed)
	}
	return ""
}

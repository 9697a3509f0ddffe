// Package report builds the access report for auditors (jit report): who
// had which role, approved by whom, for how long compared with what was
// asked, which grants went unused, break-glass grants and their reviews,
// and per role the actions actually used — a least-privilege hint. It is
// pure: the server gathers the grants, this package sums and renders them.
package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// HintMaxActions is the most distinct actions a role may have used for the
// report to suggest narrowing it.
const HintMaxActions = 5

// Build sums the grants that started in [since, until]. Grants carry their
// Activity (nil: unused).
func Build(grants []api.Request, since, until time.Time) api.Report {
	rep := api.Report{Since: since.UTC(), Until: until.UTC(), Grants: []api.ReportGrant{}, Roles: []api.ReportRole{},
		People: []api.ReportCount{}, Unused: []string{}}
	sorted := slices.Clone(grants)
	slices.SortFunc(sorted, func(a, b api.Request) int {
		if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	roles := map[string]*api.ReportRole{}
	roleActions := map[string]map[string]int64{}
	people := map[string]int{}
	for _, g := range sorted {
		if g.StartsAt.IsZero() || g.StartsAt.Before(since) || g.StartsAt.After(until) {
			continue
		}
		rg := api.ReportGrant{ID: g.ID, Requester: g.Requester, Role: g.Role, State: g.State, Start: g.StartsAt.UTC(),
			Approvers: approvers(g), Asked: g.DurationSeconds, Used: int64(used(g, until) / time.Second),
			BreakGlass: g.BreakGlass, Review: reviewStatus(g)}
		if g.Activity != nil {
			rg.Calls = g.Activity.Calls
		}
		rep.Grants = append(rep.Grants, rg)
		people[g.Requester]++
		ro := roles[g.Role]
		if ro == nil {
			ro = &api.ReportRole{Role: g.Role}
			roles[g.Role] = ro
			roleActions[g.Role] = map[string]int64{}
		}
		ro.Grants++
		ro.Calls += rg.Calls
		if !g.Activity.Used() {
			ro.Unused++
			rep.Unused = append(rep.Unused, g.ID)
		} else {
			for _, a := range g.Activity.Actions {
				roleActions[g.Role][a.Action] += a.Calls
			}
		}
		if g.BreakGlass {
			rep.Summary.BreakGlass++
		}
		if rg.Review == "pending" {
			rep.Summary.AwaitingReview++
		}
	}
	days := int(until.Sub(since).Round(24*time.Hour) / (24 * time.Hour))
	for _, ro := range roles {
		ro.Actions = sortActions(roleActions[ro.Role])
		if n := len(ro.Actions); n > 0 && n <= HintMaxActions {
			names := make([]string, n)
			for i, a := range ro.Actions {
				names[i] = a.Action
			}
			slices.Sort(names)
			ro.Hint = fmt.Sprintf("%s was used only for %s in %d days", ro.Role, joinAnd(names), days)
		}
		rep.Roles = append(rep.Roles, *ro)
	}
	slices.SortFunc(rep.Roles, func(a, b api.ReportRole) int { return strings.Compare(a.Role, b.Role) })
	for name, n := range people {
		rep.People = append(rep.People, api.ReportCount{Name: name, Grants: n})
	}
	slices.SortFunc(rep.People, func(a, b api.ReportCount) int {
		if a.Grants != b.Grants {
			return b.Grants - a.Grants
		}
		return strings.Compare(a.Name, b.Name)
	})
	rep.Summary.Grants = len(rep.Grants)
	rep.Summary.Unused = len(rep.Unused)
	return rep
}

func approvers(g api.Request) []string {
	switch {
	case g.BreakGlass:
		return []string{"break-glass"}
	case g.AutoApproved:
		return []string{"auto"}
	}
	var out []string
	for _, d := range g.Approvals {
		if d.Approve {
			out = append(out, d.By)
		}
	}
	return out
}

// used is how long the grant lasted: start to its end, revoke, or until.
func used(g api.Request, until time.Time) time.Duration {
	end := g.EndsAt
	if g.State == api.StateRevoked && g.UpdatedAt.Before(end) {
		end = g.UpdatedAt
	}
	if until.Before(end) {
		end = until
	}
	if end.Before(g.StartsAt) {
		return 0
	}
	return end.Sub(g.StartsAt)
}

func reviewStatus(g api.Request) string {
	switch {
	case !g.ReviewRequired:
		return ""
	case g.Review == nil:
		return "pending"
	}
	return string(g.Review.Verdict)
}

func sortActions(m map[string]int64) []api.ActionCount {
	out := make([]api.ActionCount, 0, len(m))
	for k, v := range m {
		out = append(out, api.ActionCount{Action: k, Calls: v})
	}
	slices.SortFunc(out, func(a, b api.ActionCount) int {
		if a.Calls != b.Calls {
			if a.Calls > b.Calls {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Action, b.Action)
	})
	return out
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func dur(sec int64) string { return api.FormatDuration(time.Duration(sec) * time.Second) }

// Table writes the report for people.
func Table(w io.Writer, rep api.Report) error {
	days := int(rep.Until.Sub(rep.Since).Round(24*time.Hour) / (24 * time.Hour))
	fmt.Fprintf(w, "Access report %s to %s (%d days)\n", rep.Since.Format("2006-01-02"), rep.Until.Format("2006-01-02"), days)
	fmt.Fprintf(w, "Grants: %d   break-glass: %d (%d awaiting review)   unused: %d\n\n",
		rep.Summary.Grants, rep.Summary.BreakGlass, rep.Summary.AwaitingReview, rep.Summary.Unused)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tGRANTS\tUNUSED\tCALLS\tACTIONS USED")
	for _, r := range rep.Roles {
		var acts []string
		for _, a := range r.Actions {
			acts = append(acts, fmt.Sprintf("%s (%d)", a.Action, a.Calls))
		}
		if len(acts) == 0 {
			acts = []string{"-"}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", r.Role, r.Grants, r.Unused, r.Calls, strings.Join(acts, ", "))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "PERSON\tGRANTS")
	for _, p := range rep.People {
		fmt.Fprintf(tw, "%s\t%d\n", p.Name, p.Grants)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "GRANT\tREQUESTER\tROLE\tSTART\tASKED\tUSED\tCALLS\tAPPROVED BY\tREVIEW")
	for _, g := range rep.Grants {
		review := g.Review
		if review == "" {
			review = "-"
		}
		appr := strings.Join(g.Approvers, ",")
		if appr == "" {
			appr = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", g.ID, g.Requester, g.Role, g.Start.Format("2006-01-02 15:04"),
			dur(g.Asked), dur(g.Used), g.Calls, appr, review)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var hints []string
	for _, r := range rep.Roles {
		if r.Hint != "" {
			hints = append(hints, "  "+r.Hint)
		}
	}
	if len(hints) > 0 {
		fmt.Fprintf(w, "\nLeast-privilege hints:\n%s\n", strings.Join(hints, "\n"))
	}
	if len(rep.Unused) > 0 {
		fmt.Fprintf(w, "\nUnused grants (no recorded activity): %s\n", strings.Join(rep.Unused, ", "))
	}
	return nil
}

// CSV writes one row per grant, for spreadsheets.
func CSV(w io.Writer, rep api.Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "requester", "role", "state", "start", "asked_seconds", "used_seconds", "calls", "approved_by", "break_glass", "review", "unused"})
	unused := map[string]bool{}
	for _, id := range rep.Unused {
		unused[id] = true
	}
	for _, g := range rep.Grants {
		_ = cw.Write([]string{g.ID, g.Requester, g.Role, string(g.State), g.Start.Format(time.RFC3339),
			strconv.FormatInt(g.Asked, 10), strconv.FormatInt(g.Used, 10), strconv.FormatInt(g.Calls, 10),
			strings.Join(g.Approvers, ";"), strconv.FormatBool(g.BreakGlass), g.Review, strconv.FormatBool(unused[g.ID])})
	}
	cw.Flush()
	return cw.Error()
}

package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	since = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	until = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
)

// seededMonth is April 2026 at a small company: prod-admin used only to
// read S3, a break-glass grant still unreviewed and one reviewed, unused
// grants, and one grant from March that the report leaves out.
func seededMonth() []api.Request {
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
	r.BreakGlass, r.ReviewRequired = true, true
	r.Activity = act(day(20, 3).Add(12*time.Minute), api.ActionCount{Action: "ec2:RebootInstances", Calls: 2}, api.ActionCount{Action: "ec2:DescribeInstances", Calls: 5})
	out = append(out, r)

	r = g("req_06", "alice@example.com", "oncall", day(27, 22), 30*time.Minute, api.StateRevoked)
	r.BreakGlass, r.ReviewRequired = true, true
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

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/report -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (go test ./pkg/report -update):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestSeededMonthReportGolden(t *testing.T) {
	rep := Build(seededMonth(), since, until)
	var table, csv bytes.Buffer
	if err := Table(&table, rep); err != nil {
		t.Fatal(err)
	}
	if err := CSV(&csv, rep); err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "month.txt", table.Bytes())
	golden(t, "month.csv", csv.Bytes())
	golden(t, "month.json", append(js, '\n'))
}

func TestReportFactsOfTheSeededMonth(t *testing.T) {
	rep := Build(seededMonth(), since, until)
	if rep.Summary != (api.ReportSummary{Grants: 7, BreakGlass: 2, AwaitingReview: 1, Unused: 2}) {
		t.Fatalf("summary = %+v", rep.Summary)
	}
	hints := map[string]string{}
	for _, r := range rep.Roles {
		hints[r.Role] = r.Hint
	}
	if want := "prod-admin was used only for s3:GetObject and s3:ListBucket in 30 days"; hints["prod-admin"] != want {
		t.Fatalf("prod-admin hint = %q, want %q", hints["prod-admin"], want)
	}
	if hints["readonly"] != "" {
		t.Fatalf("readonly used 6 actions, over the hint's %d, yet hinted %q", HintMaxActions, hints["readonly"])
	}
	used := map[string]int64{}
	for _, g := range rep.Grants {
		used[g.ID] = g.Used
	}
	if used["req_02"] != 25*60 || used["req_07"] != 60*60 {
		t.Fatalf("used: revoked after 25m = %ds; live grant until the report's end = %ds", used["req_02"], used["req_07"])
	}
	if fmt.Sprint(rep.Unused) != "[req_03 req_06]" {
		t.Fatalf("unused = %v", rep.Unused)
	}
}

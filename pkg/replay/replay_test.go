package replay

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/report/reporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func exported(t *testing.T) []api.AuditEvent {
	t.Helper()
	evs, err := reporttest.Export()
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func mustPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Load(filepath.Join("testdata", "proposed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
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
		t.Fatalf("%v (run go test ./pkg/replay -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (go test ./pkg/replay -update):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func replayExport(t *testing.T) Result {
	t.Helper()
	var jsonl bytes.Buffer
	if err := audit.WriteJSONL(&jsonl, exported(t)); err != nil {
		t.Fatal(err)
	}
	recs, err := Collect(audit.ReadJSONL(&jsonl))
	if err != nil {
		t.Fatal(err)
	}
	since, until := reporttest.Month()
	return Run(mustPolicy(t), recs, since, until)
}

func TestSeededMonthReplayGolden(t *testing.T) {
	res := replayExport(t)
	var table, csv, js bytes.Buffer
	if err := Table(&table, res); err != nil {
		t.Fatal(err)
	}
	if err := CSV(&csv, res); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&js, res); err != nil {
		t.Fatal(err)
	}
	golden(t, "month.txt", table.Bytes())
	golden(t, "month.csv", csv.Bytes())
	golden(t, "month.json", js.Bytes())
}

func TestReplayOfTheSeededMonthFindsEachKindOfChange(t *testing.T) {
	res := replayExport(t)
	changes := map[string][]string{}
	for _, r := range res.Rows {
		changes[r.ID] = r.Changes
	}
	want := map[string][]string{
		"req_01": {},                                    // 1h, bob: as before
		"req_02": {ChangeNotReplayable},                 // no groups recorded
		"req_03": {ChangeAutoInstead},                   // dave is auto-approved now
		"req_04": {ChangeWaitsInstead},                  // 30m is over readonly's 15m at once
		"req_05": {},                                    // erin is oncall, 30m break-glass
		"req_06": {ChangeRefused},                       // alice is not oncall
		"req_07": {ChangeOtherApprovers, ChangeShorter}, // carol no longer approves; 2h → 1h
	}
	for id, w := range want {
		if !slices.Equal(changes[id], w) {
			t.Errorf("%s: changes %v, want %v", id, changes[id], w)
		}
	}
	if _, ok := changes["req_00"]; ok || len(res.Rows) != 7 {
		t.Errorf("rows %d (req_00 is from March and not replayed)", len(res.Rows))
	}
	if res.Total != (RoleCount{Role: "all", Requests: 7, Unchanged: 2, Refused: 1, AutoInstead: 1, WaitsInstead: 1, OtherApprovers: 1, Shorter: 1, NotReplayable: 1}) {
		t.Errorf("total = %+v", res.Total)
	}
	for _, r := range res.Rows {
		if r.ID == "req_06" && (r.Rule != "roles[oncall].break_glass" || !strings.Contains(r.Why, "may not break glass")) {
			t.Errorf("req_06 refusal: %s: %s", r.Rule, r.Why)
		}
		if r.ID == "req_07" && (r.GrantedWas != 7200 || r.GrantedNow != 3600 || !strings.Contains(r.Why, "carol@example.com would no longer be an approver")) {
			t.Errorf("req_07: %+v", r)
		}
	}
}

func TestExportWithABadLineIsAnErrorNamingTheLine(t *testing.T) {
	_, err := Collect(audit.ReadJSONL(strings.NewReader("{\"seq\":1,\"time\":\"2026-04-01T00:00:00Z\",\"type\":\"request.created\",\"actor\":\"a\",\"prev_hash\":\"\",\"hash\":\"\"}\nnot json\n")))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v", err)
	}
}

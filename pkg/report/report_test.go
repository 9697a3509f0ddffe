package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/report/reporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var since, until = reporttest.Month()

// seededMonth is the month the report (and jit server replay's) tests
// share: reporttest.SeededMonth.
func seededMonth() []api.Request { return reporttest.SeededMonth() }

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

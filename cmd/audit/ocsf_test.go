package audit

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/ocsf"
)

func TestNewCmdExportFormat(t *testing.T) {
	ios, _, _, stderr := iostreams.Test()
	var got *ExportOptions
	cmd := NewCmdExport(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *ExportOptions) error { got = o; return nil })
	if cmdtest.Execute(t, cmd, stderr, nil, "") && got.Format != "jsonl" {
		t.Errorf("default format %q, want jsonl", got.Format)
	}
	cmd = NewCmdExport(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *ExportOptions) error { got = o; return nil })
	if cmdtest.Execute(t, cmd, stderr, []string{"--format", "ocsf"}, "") && got.Format != "ocsf" {
		t.Errorf("format %q, want ocsf", got.Format)
	}
	cmd = NewCmdExport(&cmdutil.Factory{IO: ios}, func(context.Context, *ExportOptions) error { return nil })
	cmdtest.Execute(t, cmd, stderr, []string{"--format", "cef"}, `--format must be jsonl or ocsf, not "cef"`)
}

func TestExportRunAsOCSFWritesOneOCSFEventPerRecord(t *testing.T) {
	events := chain(3)
	body := jsonl(t, events)
	sess := sessionOn(t, cmdtest.Routes{"GET /v1/audit/export": func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }})
	ios, _, stdout, _ := iostreams.Test()
	err := ExportRun(t.Context(), &ExportOptions{IO: ios, Session: sess, Now: func() time.Time { return now }, Format: "ocsf"})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != len(events) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(events), stdout)
	}
	for i, l := range lines {
		var e ocsf.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if e.Metadata.Version != ocsf.Version || e.Metadata.EventCode != events[i].Type || e.Metadata.UID != strconv.FormatInt(events[i].Seq, 10) ||
			e.Time != events[i].Time.UnixMilli() || e.ClassUID == 0 {
			t.Errorf("line %d: %+v for %+v", i, e, events[i])
		}
	}
}

func TestExportRunAsOCSFFailsOnAnExportThatIsNotJSONLines(t *testing.T) {
	sess := sessionOn(t, cmdtest.Routes{"GET /v1/audit/export": func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>proxy error</html>\n")) }})
	ios, _, _, _ := iostreams.Test()
	err := ExportRun(t.Context(), &ExportOptions{IO: ios, Session: sess, Now: func() time.Time { return now }, Format: "ocsf"})
	if err == nil || !strings.Contains(err.Error(), "audit export line 1") {
		t.Fatalf("err = %v, want the bad line named", err)
	}
}

package shared

import (
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

func TestActivityLinesSayUnusedOrSummarise(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	if l := ActivityLines(nil, now); len(l) != 1 || !strings.Contains(l[0][1], "unused") {
		t.Fatalf("no activity: %v", l)
	}
	l := ActivityLines(&api.Activity{Calls: 5, Errors: 1, FirstUse: now.Add(-time.Hour), LastUse: now.Add(-2 * time.Minute),
		Actions: []api.ActionCount{{Action: "s3:GetObject", Calls: 4}, {Action: "iam:CreateUser", Calls: 1}}, OtherCalls: 0}, now)
	got := map[string]string{}
	for _, x := range l {
		got[x[0]] = x[1]
	}
	if got["activity"] != "5 calls, 1 failed" || !strings.Contains(got["last use"], "(2m0s ago)") ||
		got["actions"] != "s3:GetObject ×4, iam:CreateUser ×1" || got["services"] != "s3, iam" {
		t.Fatalf("lines = %v", got)
	}
}

package requests

import (
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

func TestDurReadsLikeAPerson(t *testing.T) {
	for sec, want := range map[int64]string{1800: "30m", 3600: "1h", 5400: "1h30m", 45: "45s", 900: "15m", 36000: "10h", 600: "10m"} {
		if got := dur(sec); got != want {
			t.Errorf("dur(%d) = %q, want %q", sec, got, want)
		}
	}
}

func TestUnusedKeepsGrantsWithoutActivity(t *testing.T) {
	start := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	reqs := []api.Request{
		{ID: "used", StartsAt: start, Activity: &api.Activity{Calls: 2}},
		{ID: "unused", StartsAt: start},
		{ID: "zero", StartsAt: start, Activity: &api.Activity{}},
		{ID: "pending"}, // never granted: not "unused"
	}
	var ids []string
	for _, r := range unused(reqs) {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, ",") != "unused,zero" {
		t.Fatalf("unused = %v", ids)
	}
}

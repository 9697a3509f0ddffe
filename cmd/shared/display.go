package shared

import (
	"fmt"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// ActivityLines renders a grant's activity as label/value rows for
// `jit show` and `jit review`.
func ActivityLines(a *api.Activity, now time.Time) [][2]string {
	if !a.Used() {
		return [][2]string{{"activity", "none recorded (unused)"}}
	}
	calls := fmt.Sprintf("%d calls", a.Calls)
	if a.Errors > 0 {
		calls += fmt.Sprintf(", %d failed", a.Errors)
	}
	out := [][2]string{{"activity", calls}}
	out = append(out, [2]string{"first use", a.FirstUse.Local().Format(time.DateTime)})
	out = append(out, [2]string{"last use", fmt.Sprintf("%s (%s ago)", a.LastUse.Local().Format(time.DateTime), now.Sub(a.LastUse).Truncate(time.Second))})
	var acts []string
	for _, ac := range a.Actions {
		acts = append(acts, fmt.Sprintf("%s ×%d", ac.Action, ac.Calls))
	}
	if a.OtherCalls > 0 {
		acts = append(acts, fmt.Sprintf("other ×%d", a.OtherCalls))
	}
	out = append(out, [2]string{"actions", strings.Join(acts, ", ")})
	out = append(out, [2]string{"services", strings.Join(a.Services(), ", ")})
	return out
}

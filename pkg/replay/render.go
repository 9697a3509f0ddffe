package replay

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// Table writes the counts per role, then one line per request that would
// change (unchanged requests are only counted).
func Table(w io.Writer, res Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Replay of %s to %s: %d request(s), %d would change\n\n", res.Since.Format(time.DateOnly), res.Until.Format(time.DateOnly),
		res.Total.Requests, res.Total.Requests-res.Total.Unchanged)
	fmt.Fprintln(tw, "ROLE\tREQUESTS\tUNCHANGED\tREFUSED\tAUTO INSTEAD\tWAITS INSTEAD\tOTHER APPROVERS\tSHORTER\tNOT REPLAYABLE")
	for _, rc := range append(res.Roles, res.Total) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", rc.Role, rc.Requests, rc.Unchanged, rc.Refused, rc.AutoInstead,
			rc.WaitsInstead, rc.OtherApprovers, rc.Shorter, rc.NotReplayable)
	}
	changed := false
	for _, r := range res.Rows {
		if len(r.Changes) == 0 {
			continue
		}
		if !changed {
			fmt.Fprintln(tw, "\nREQUEST\tCREATED\tREQUESTER\tROLE\tWAS\tNOW\tCHANGE\tRULE")
			changed = true
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.At.Format("2006-01-02 15:04"), r.Requester, r.Role,
			was(r), now(r), strings.Join(r.Changes, ","), r.Rule)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range res.Rows {
		if len(r.Changes) > 0 {
			if _, err := fmt.Fprintf(w, "  %s: %s\n", r.ID, r.Why); err != nil {
				return err
			}
		}
	}
	return nil
}

func was(r Row) string {
	s := r.Was
	if r.ApprovalsWas > 0 {
		s += fmt.Sprintf(" (%d)", r.ApprovalsWas)
	}
	if r.GrantedWas > 0 {
		s += " " + api.FormatDuration(time.Duration(r.GrantedWas)*time.Second)
	}
	return s
}

func now(r Row) string {
	s := r.Now
	if r.ApprovalsNow > 0 {
		s += fmt.Sprintf(" (%d)", r.ApprovalsNow)
	}
	if r.GrantedNow > 0 {
		s += " " + api.FormatDuration(time.Duration(r.GrantedNow)*time.Second)
	}
	return s
}

// CSV writes one row per request, changed or not.
func CSV(w io.Writer, res Result) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "created", "requester", "role", "was", "approvals_was", "granted_was_seconds", "now",
		"approvals_now", "granted_now_seconds", "changes", "rule", "why"})
	for _, r := range res.Rows {
		cw.Write([]string{r.ID, r.At.Format(time.RFC3339), r.Requester, r.Role, r.Was, strconv.Itoa(r.ApprovalsWas),
			strconv.FormatInt(r.GrantedWas, 10), r.Now, strconv.Itoa(r.ApprovalsNow), strconv.FormatInt(r.GrantedNow, 10),
			strings.Join(r.Changes, ","), r.Rule, r.Why})
	}
	cw.Flush()
	return cw.Error()
}

// JSON writes the whole result, indented.
func JSON(w io.Writer, res Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(res)
}

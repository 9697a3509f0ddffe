package lifecycle

import (
	"fmt"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
)

// MaxReviewNote bounds a review's note.
const MaxReviewNote = 2000

// Review records a reviewer's verdict on a grant that needed one. Who may
// review is the policy's business (policy.CanReview); here: the verdict is
// ok or concern, a concern says why, and a grant is reviewed once.
func Review(r *api.Request, by string, verdict api.Verdict, note string, now time.Time) ([]audit.Event, error) {
	note = strings.TrimSpace(note)
	switch {
	case verdict != api.VerdictOK && verdict != api.VerdictConcern:
		return nil, fmt.Errorf("verdict must be ok or concern, not %q", verdict)
	case verdict == api.VerdictConcern && note == "":
		return nil, fmt.Errorf("a concern needs a note saying what is wrong")
	case len(note) > MaxReviewNote:
		return nil, fmt.Errorf("the note is %d characters; at most %d", len(note), MaxReviewNote)
	case !r.ReviewRequired:
		return nil, &TransitionError{r.ID, "review", r.State}
	case r.Review != nil:
		return nil, fmt.Errorf("request %s was already reviewed by %s", r.ID, r.Review.By)
	case r.StartsAt.IsZero():
		return nil, &TransitionError{r.ID, "review", r.State}
	}
	r.Review = &api.Review{By: by, Verdict: verdict, Note: note, At: now}
	// UpdatedAt is left alone: for an ended grant it is when it ended, which
	// the report reads; the review has its own time.
	return []audit.Event{event(r, audit.TypeReviewed, by, note, now, map[string]string{
		"verdict": string(verdict), "break_glass": fmt.Sprint(r.BreakGlass), "state": string(r.State),
	})}, nil
}

// AwaitsReview reports whether r waits for a post-hoc review.
func AwaitsReview(r *api.Request) bool { return r.AwaitsReview() }

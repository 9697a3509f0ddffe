package webapp_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// used vends the grant's credentials and reports calls with them the way
// MinIO's audit webhook does.
func (e *env) used(username, id string, apis ...string) {
	e.t.Helper()
	c, err := e.client(username).Credentials(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var entries []map[string]any
	for i, name := range apis {
		entries = append(entries, map[string]any{"deploymentid": "d", "requestID": id + string(rune('a'+i)), "accessKey": c.AccessKeyID,
			"time": e.clock.Now().UTC().Format(time.RFC3339Nano), "api": map[string]any{"name": name, "statusCode": 200}})
	}
	body, _ := json.Marshal(entries)
	req, _ := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.url+"/v1/activity/minio", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+activitySecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("activity delivery: HTTP %d", resp.StatusCode)
	}
}

func TestApproverReviewsABreakGlassGrantOnThePage(t *testing.T) {
	e := newEnv(t)
	bg, err := e.client("alice").Create(t.Context(), api.CreateRequest{Role: "oncall", Reason: "pager", BreakGlass: true})
	if err != nil {
		t.Fatal(err)
	}
	e.used("alice", bg.ID, "GetObject", "GetObject", "ListObjectsV2")

	b := newBrowser(t)
	p := b.signIn(e.url+"/approve/", "bob")
	if !strings.Contains(p.body, `id="reviews"`) || !strings.Contains(p.body, `href="/approve/`+bg.ID+`"`) {
		t.Fatalf("the queue lacks the grant waiting for review:\n%s", p.body)
	}
	p = b.get(e.url + "/approve/" + bg.ID)
	for _, want := range []string{`id="activity"`, "3 calls", "<code>s3:GetObject</code> × 2", "waiting for a reviewer", `id="review-form"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("request page lacks %q", want)
		}
	}
	// A concern without a note is refused; with one it is recorded.
	p = b.post(e.url+"/approve/"+bg.ID, url.Values{"csrf": {csrfOf(t, p)}, "action": {"review-concern"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="error"`) {
		t.Fatalf("concern without a note: HTTP %d", p.status)
	}
	p = b.post(e.url+"/approve/"+bg.ID, url.Values{"csrf": {csrfOf(t, p)}, "action": {"review-concern"}, "comment": {"no incident ticket"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "concern by bob@example.com") || strings.Contains(p.body, `id="review-form"`) {
		t.Fatalf("after the verdict: HTTP %d\n%s", p.status, p.body)
	}
	if p = b.get(e.url + "/approve/"); strings.Contains(p.body, `href="/approve/`+bg.ID+`"`) {
		t.Fatal("the reviewed grant is still in the queue")
	}
}

func TestRequesterGetsNoReviewFormForOwnBreakGlassGrant(t *testing.T) {
	e := newEnv(t)
	bg, err := e.client("bob").Create(t.Context(), api.CreateRequest{Role: "oncall", Reason: "pager", BreakGlass: true})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	p := b.signIn(e.url+"/approve/"+bg.ID, "bob")
	if strings.Contains(p.body, `id="review-form"`) {
		t.Fatal("bob is offered a review of his own grant")
	}
	// A forged form post is refused by the API all the same.
	p = b.post(e.url+"/approve/"+bg.ID, url.Values{"csrf": {csrfOf(t, p)}, "action": {"review-ok"}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "own") {
		t.Fatalf("self-review through the page: HTTP %d", p.status)
	}
}

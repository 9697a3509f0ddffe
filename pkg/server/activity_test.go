package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/vend"
)

const activitySecret = "activity-secret-0123456789abcdef"

// activityPolicy: "idle" ends grants unused for 20m; "reviewed" needs a
// review; "oncall" allows break-glass (always reviewed).
var activityPolicy = testenv.Policy(
	testenv.ReadOnly.Without("default_duration").With("max_duration", "2h"),
	testenv.Idle.With("max_duration", "2h").With("default_duration", "2h").With("idle_timeout", "20m"),
	testenv.NewRole("reviewed", "max_duration", "1h", "auto_approve", "{groups: [developers]}", "review", "required"),
	testenv.OnCall.With("break_glass", "{allowed: true}"))

func newActivityEnv(t *testing.T) *env {
	t.Helper()
	pol, err := policy.Parse("activity.yaml", []byte(activityPolicy))
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, func(o *server.Options) {
		o.Policy = pol
		o.Activity = server.ActivityOptions{Secret: activitySecret, Window: 15 * time.Minute}
		o.SweepInterval = time.Hour // the tests sweep themselves (SweepOnce): no background sweep racing them
	})
}

// grant makes an auto-approved grant for user and fetches its credentials.
func (e *env) grant(user string, in api.CreateRequest) (*api.Request, api.Credentials) {
	e.t.Helper()
	r := e.create(user, in)
	var c api.Credentials
	if code := e.call(user, "POST", "/v1/requests/"+r.ID+"/credentials", nil, &c); code != http.StatusOK {
		e.t.Fatalf("credentials for %s: HTTP %d", r.ID, code)
	}
	return r, c
}

// deliver posts an activity body with the given headers.
func (e *env) deliver(source string, body []byte, header map[string]string) (int, api.IngestResult, string) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", e.url+"/v1/activity/"+source, bytes.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var res api.IngestResult
	_ = json.Unmarshal(data, &res)
	return resp.StatusCode, res, string(data)
}

func bearer() map[string]string {
	return map[string]string{"Authorization": "Bearer " + activitySecret}
}

// minioEntry is one MinIO audit entry as its webhook posts it.
func minioEntry(key, api string, status int, at time.Time, reqID string) map[string]any {
	return map[string]any{
		"version": "1", "deploymentid": "dep-1", "time": at.UTC().Format(time.RFC3339Nano), "event": "", "trigger": "incoming",
		"api":       map[string]any{"name": api, "bucket": "logs", "status": http.StatusText(status), "statusCode": status},
		"requestID": reqID, "accessKey": key, "parentUser": "jituser1",
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stored reads a request from the store (the clock may be past the test
// users' token lifetimes).
func (e *env) stored(id string) *api.Request {
	e.t.Helper()
	r, err := e.store.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) get(user, id string) api.Request {
	e.t.Helper()
	var r api.Request
	if code := e.call(user, "GET", "/v1/requests/"+id, nil, &r); code != http.StatusOK {
		e.t.Fatalf("get %s: HTTP %d", id, code)
	}
	return r
}

func TestMinIOAuditEntriesBecomeGrantActivity(t *testing.T) {
	e := newActivityEnv(t)
	r, c := e.grant("alice", api.CreateRequest{Role: "readonly", Reason: "logs"})
	now := e.clock.Now()
	entries := []any{
		minioEntry(c.AccessKeyID, "ListObjectsV2", 200, now.Add(time.Second), "R1"),
		minioEntry(c.AccessKeyID, "GetObject", 200, now.Add(2*time.Second), "R2"),
		minioEntry(c.AccessKeyID, "GetObject", 403, now.Add(3*time.Second), "R3"),
		minioEntry("jituser1", "AssumeRole", 200, now, "R4"), // the server's own STS call: not a grant's
	}
	for _, en := range entries { // MinIO posts one entry per call
		if code, _, body := e.deliver("minio", mustJSON(t, en), bearer()); code != http.StatusOK {
			t.Fatalf("deliver: HTTP %d %s", code, body)
		}
	}
	got := e.get("alice", r.ID).Activity
	if got == nil || got.Calls != 3 || got.Errors != 1 || !got.LastUse.Equal(now.Add(3*time.Second).UTC()) {
		t.Fatalf("activity = %+v; want 3 calls, 1 error, last use at the third call", got)
	}
	if len(got.Actions) != 2 || got.Actions[0] != (api.ActionCount{Action: "s3:GetObject", Calls: 2}) {
		t.Fatalf("actions = %+v", got.Actions)
	}
	// The approver sees it in the list too; a grant without calls has none.
	other, _ := e.grant("alice", api.CreateRequest{Role: "reviewed", Reason: "x"})
	var list api.RequestList
	e.call("alice", "GET", "/v1/requests", nil, &list)
	for _, x := range list.Requests {
		if x.ID == r.ID && x.Activity.Calls != 3 || x.ID == other.ID && x.Activity != nil {
			t.Fatalf("list: %s activity %+v", x.ID, x.Activity)
		}
	}
}

func TestForgedActivityWithoutTheSecretIsRefusedAndAudited(t *testing.T) {
	e := newActivityEnv(t)
	r, c := e.grant("alice", api.CreateRequest{Role: "readonly", Reason: "logs"})
	body := mustJSON(t, minioEntry(c.AccessKeyID, "GetObject", 200, e.clock.Now(), "F1"))
	for name, h := range map[string]map[string]string{
		"none":          nil,
		"wrong bearer":  {"Authorization": "Bearer " + strings.Repeat("x", len(activitySecret))},
		"prefix only":   {"Authorization": "Bearer " + activitySecret[:10]},
		"bad signature": {"X-Jit-Signature": "sha256=" + strings.Repeat("00", 32)},
		"user token":    {"Authorization": "Bearer " + e.tokens["alice"]},
	} {
		if code, _, _ := e.deliver("minio", body, h); code != http.StatusUnauthorized {
			t.Errorf("%s: HTTP %d, want 401", name, code)
		}
	}
	if a := e.get("alice", r.ID).Activity; a != nil {
		t.Fatalf("forged deliveries were recorded: %+v", a)
	}
	if err := e.srv.FlushAuthFailures(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs, _ := e.store.Audit(context.Background(), store.AuditFilter{Type: audit.TypeAuthFailed})
	if len(evs) != 1 || evs[0].Detail["failures"] != "5" || !strings.HasPrefix(evs[0].Detail["last_reason"], "activity:minio: ") {
		t.Fatalf("audit has %d auth.failed records (want one summary of 5): %+v", len(evs), evs)
	}
	// A correct HMAC signature over the body is accepted.
	mac := hmac.New(sha256.New, []byte(activitySecret))
	mac.Write(body)
	if code, res, b := e.deliver("minio", body, map[string]string{"X-Jit-Signature": "sha256=" + hex.EncodeToString(mac.Sum(nil))}); code != 200 || res.Recorded != 1 {
		t.Fatalf("signed delivery: HTTP %d %s", code, b)
	}
}

func TestActivityIngestionIsOffWithoutASecret(t *testing.T) {
	e := newEnv(t)
	if code, _, _ := e.deliver("minio", []byte(`{}`), map[string]string{"Authorization": "Bearer "}); code != http.StatusNotFound {
		t.Fatalf("HTTP %d, want 404 when activity.secret is unset", code)
	}
}

func TestRedeliveredMinIOEntryCountsOnce(t *testing.T) {
	e := newActivityEnv(t)
	r, c := e.grant("alice", api.CreateRequest{Role: "readonly", Reason: "logs"})
	body := mustJSON(t, minioEntry(c.AccessKeyID, "GetObject", 200, e.clock.Now(), "SAME"))
	for i, want := range []int{1, 0, 0} {
		code, res, _ := e.deliver("minio", body, bearer())
		if code != 200 || res.Recorded != want {
			t.Fatalf("delivery %d: HTTP %d recorded %d, want %d", i, code, res.Recorded, want)
		}
	}
	if a := e.get("alice", r.ID).Activity; a.Calls != 1 {
		t.Fatalf("calls = %d after 3 deliveries of one entry", a.Calls)
	}
}

func TestOversizedActivityDeliveriesAreRefused(t *testing.T) {
	e := newActivityEnv(t)
	huge := bytes.Repeat([]byte(" "), 2<<20)
	if code, _, _ := e.deliver("minio", huge, bearer()); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB body: HTTP %d, want 413", code)
	}
	var many []any
	for i := range 1001 {
		many = append(many, map[string]any{"requestID": fmt.Sprint(i)})
	}
	if code, _, _ := e.deliver("minio", mustJSON(t, many), bearer()); code != http.StatusBadRequest {
		t.Fatalf("1001 events: HTTP %d, want 400", code)
	}
}

// sample reads a CloudTrail sample event (testdata, AWS's documented shape)
// and fills its placeholders.
func sample(t *testing.T, at time.Time, name string, vars map[string]string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/cloudtrail-sample-" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	s = strings.ReplaceAll(s, "${EVENT_TIME}", at.UTC().Format(time.RFC3339))
	for k, v := range vars {
		s = strings.ReplaceAll(s, "${"+k+"}", v)
	}
	return []byte(s)
}

func TestCloudTrailSampleEventsMapToTheGrant(t *testing.T) {
	e := newActivityEnv(t)
	at := e.clock.Now().Add(time.Minute)
	r := e.create("alice", api.CreateRequest{Role: "oncall", Reason: "pager", BreakGlass: true})
	si := vend.SourceIdentity("alice@example.com")

	// By the vended key.
	var c api.Credentials
	e.call("alice", "POST", "/v1/requests/"+r.ID+"/credentials", nil, &c)
	code, res, body := e.deliver("cloudtrail", sample(t, at, "s3-getobject", map[string]string{"ACCESS_KEY_ID": c.AccessKeyID, "SOURCE_IDENTITY": si, "EVENT_ID": "ev-1"}), bearer())
	if code != 200 || res.Recorded != 1 {
		t.Fatalf("by key: HTTP %d %s", code, body)
	}
	// An AssumeRole record tagged with the request id teaches a key that
	// jit's store did not know (another region's vend, say); it is not a use.
	code, res, body = e.deliver("cloudtrail", sample(t, at, "assumerole", map[string]string{"ACCESS_KEY_ID": "ASIALEARNED", "SOURCE_IDENTITY": si,
		"REQUEST_ID": r.ID, "EVENT_ID": "ev-2"}), bearer())
	if code != 200 || res.Recorded != 0 || res.Unmatched != 0 {
		t.Fatalf("assume role: HTTP %d %s", code, body)
	}
	code, res, body = e.deliver("cloudtrail", sample(t, at, "denied", map[string]string{"ACCESS_KEY_ID": "ASIALEARNED", "SOURCE_IDENTITY": si, "EVENT_ID": "ev-3"}), bearer())
	if code != 200 || res.Recorded != 1 {
		t.Fatalf("by learned key: HTTP %d %s", code, body)
	}
	// An unknown key falls back to source identity + role + time.
	code, res, body = e.deliver("cloudtrail", sample(t, at, "s3-getobject", map[string]string{"ACCESS_KEY_ID": "ASIAUNKNOWN", "SOURCE_IDENTITY": si, "EVENT_ID": "ev-4"}), bearer())
	if code != 200 || res.Recorded != 1 {
		t.Fatalf("by source identity: HTTP %d %s", code, body)
	}
	a := e.get("alice", r.ID).Activity
	if a == nil || a.Calls != 3 || a.Errors != 1 || strings.Join(a.Services(), ",") != "s3,iam" {
		t.Fatalf("activity = %+v", a)
	}
}

func TestForgedSessionTagDoesNotMapAKeyToSomeoneElsesGrant(t *testing.T) {
	e := newActivityEnv(t)
	at := e.clock.Now().Add(time.Minute)
	r := e.create("alice", api.CreateRequest{Role: "oncall", Reason: "pager", BreakGlass: true})
	// dave tags his own session with alice's request id.
	e.deliver("cloudtrail", sample(t, at, "assumerole", map[string]string{"ACCESS_KEY_ID": "ASIADAVE", "SOURCE_IDENTITY": vend.SourceIdentity("dave@example.com"),
		"REQUEST_ID": r.ID, "EVENT_ID": "ev-1"}), bearer())
	_, res, _ := e.deliver("cloudtrail", sample(t, at, "s3-getobject", map[string]string{"ACCESS_KEY_ID": "ASIADAVE", "SOURCE_IDENTITY": vend.SourceIdentity("dave@example.com"), "EVENT_ID": "ev-2"}), bearer())
	if res.Recorded != 0 || res.Unmatched != 1 {
		t.Fatalf("dave's call was attributed: %+v", res)
	}
	if a := e.get("alice", r.ID).Activity; a != nil {
		t.Fatalf("alice's grant got dave's activity: %+v", a)
	}
}

func TestGrantActivityIsAuditedPerWindowNotPerCall(t *testing.T) {
	e := newActivityEnv(t)
	r, c := e.grant("alice", api.CreateRequest{Role: "readonly", Reason: "logs", DurationSeconds: 3600})
	var batch []any
	for i := range 50 {
		batch = append(batch, minioEntry(c.AccessKeyID, "GetObject", 200, e.clock.Now(), fmt.Sprint("W", i)))
	}
	e.deliver("minio", mustJSON(t, batch), bearer())
	count := func() []api.AuditEvent {
		evs, _ := e.store.Audit(context.Background(), store.AuditFilter{Type: audit.TypeActivity})
		return evs
	}
	e.srv.SweepOnce(context.Background())
	if n := len(count()); n != 0 {
		t.Fatalf("%d grant.activity records before the window closed", n)
	}
	e.clock.Add(16 * time.Minute)
	e.srv.SweepOnce(context.Background())
	evs := count()
	if len(evs) != 1 || evs[0].RequestID != r.ID || evs[0].Detail["calls"] != "50" || evs[0].Detail["actions"] != "s3:GetObject=50" {
		t.Fatalf("grant.activity = %+v; want one record of 50 calls", evs)
	}
	// The grant's end writes the rest at once.
	e.deliver("minio", mustJSON(t, minioEntry(c.AccessKeyID, "PutObject", 200, e.clock.Now(), "LAST")), bearer())
	e.call("alice", "POST", "/v1/requests/"+r.ID+"/revoke", api.DecisionBody{Comment: "done"}, nil)
	if evs := count(); len(evs) != 2 || evs[1].Detail["calls"] != "1" {
		t.Fatalf("after revoke: %+v", evs)
	}
}

func TestIdleGrantIsRevokedAfterItsIdleTimeout(t *testing.T) {
	e := newActivityEnv(t)
	r, c := e.grant("alice", api.CreateRequest{Role: "idle", Reason: "debug"})
	ctx := context.Background()
	e.clock.Add(19 * time.Minute)
	e.srv.SweepOnce(ctx)
	if st := e.stored(r.ID).State; st != api.StateActive {
		t.Fatalf("at 19m: %s", st)
	}
	// A call at 19m restarts the idle clock.
	e.deliver("minio", mustJSON(t, minioEntry(c.AccessKeyID, "GetObject", 200, e.clock.Now(), "I1")), bearer())
	e.clock.Add(19 * time.Minute) // 38m: 19m after the last call
	e.srv.SweepOnce(ctx)
	if st := e.stored(r.ID).State; st != api.StateActive {
		t.Fatalf("19m after the last call: %s", st)
	}
	e.clock.Add(time.Minute + time.Second)
	if n, err := e.srv.SweepOnce(ctx); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v", n, err)
	}
	got := *e.stored(r.ID)
	if got.State != api.StateRevoked || got.EndedBy != "sweeper" || !strings.Contains(got.EndReason, "idle") {
		t.Fatalf("after 20m idle: %s by %q (%q)", got.State, got.EndedBy, got.EndReason)
	}
	evs, _ := e.store.Audit(ctx, store.AuditFilter{RequestID: r.ID, Type: audit.TypeRevoked})
	if len(evs) != 1 || evs[0].Detail["cause"] != audit.ReasonIdle || evs[0].Detail["idle_timeout"] != "20m0s" {
		t.Fatalf("grant.revoked = %+v", evs)
	}
	// A role without idle_timeout is never idle-revoked.
	r2, _ := e.grant("alice", api.CreateRequest{Role: "readonly", Reason: "x", DurationSeconds: 7200})
	e.clock.Add(time.Hour)
	e.srv.SweepOnce(ctx)
	if st := e.stored(r2.ID).State; st != api.StateActive {
		t.Fatalf("readonly after an idle hour: %s", st)
	}
}

func TestBreakGlassGrantWaitsForReviewUntilAVerdict(t *testing.T) {
	e := newActivityEnv(t)
	bg := e.create("alice", api.CreateRequest{Role: "oncall", Reason: "outage", BreakGlass: true})
	plain := e.create("alice", api.CreateRequest{Role: "readonly", Reason: "logs"})
	rev := e.create("alice", api.CreateRequest{Role: "reviewed", Reason: "audit"})
	if !bg.ReviewRequired || !rev.ReviewRequired || plain.ReviewRequired {
		t.Fatalf("review_required: break-glass %v, reviewed %v, readonly %v", bg.ReviewRequired, rev.ReviewRequired, plain.ReviewRequired)
	}
	queue := func(user string) []string {
		var l api.RequestList
		if code := e.call(user, "GET", "/v1/reviews", nil, &l); code != 200 {
			t.Fatalf("reviews: HTTP %d", code)
		}
		var ids []string
		for _, r := range l.Requests {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if q := queue("bob"); len(q) != 2 || !contains(strings.Join(q, ","), bg.ID) {
		t.Fatalf("bob's queue = %v; want the break-glass and the reviewed grant", q)
	}
	if q := queue("alice"); len(q) != 0 {
		t.Fatalf("alice (no approver) sees %v", q)
	}
	var tl api.Timeline
	if code := e.call("bob", "GET", "/v1/requests/"+bg.ID+"/timeline", nil, &tl); code != 200 || len(tl.Events) < 2 ||
		tl.Events[0].Type != audit.TypeRequestCreated || tl.Events[1].Type != audit.TypeBreakGlass {
		t.Fatalf("timeline: HTTP %d %+v", code, tl.Events)
	}
	// A concern needs a note; a bad verdict is refused.
	if code, _ := e.errorOf("bob", "POST", "/v1/requests/"+bg.ID+"/review", api.ReviewBody{Verdict: api.VerdictConcern}); code != 400 {
		t.Fatalf("concern without note: HTTP %d", code)
	}
	if code, _ := e.errorOf("bob", "POST", "/v1/requests/"+bg.ID+"/review", api.ReviewBody{Verdict: "fine"}); code != 400 {
		t.Fatalf("bad verdict: HTTP %d", code)
	}
	var done api.Request
	if code := e.call("bob", "POST", "/v1/requests/"+bg.ID+"/review", api.ReviewBody{Verdict: api.VerdictConcern, Note: "no ticket"}, &done); code != 200 ||
		done.Review == nil || done.Review.By != "bob@example.com" || done.Review.Verdict != api.VerdictConcern {
		t.Fatalf("review: HTTP %d %+v", code, done.Review)
	}
	if q := queue("bob"); len(q) != 1 || q[0] != rev.ID {
		t.Fatalf("after the verdict bob's queue = %v", q)
	}
	if code, _ := e.errorOf("carol", "POST", "/v1/requests/"+bg.ID+"/review", api.ReviewBody{Verdict: api.VerdictOK}); code != http.StatusConflict {
		t.Fatalf("second review: HTTP %d, want 409", code)
	}
	if code, _ := e.errorOf("bob", "POST", "/v1/requests/"+plain.ID+"/review", api.ReviewBody{Verdict: api.VerdictOK}); code != http.StatusConflict {
		t.Fatalf("review of a grant that needs none: HTTP %d, want 409", code)
	}
	evs, _ := e.store.Audit(context.Background(), store.AuditFilter{RequestID: bg.ID, Type: audit.TypeReviewed})
	if len(evs) != 1 || evs[0].Actor != "bob@example.com" || evs[0].Detail["verdict"] != "concern" || evs[0].Reason != "no ticket" {
		t.Fatalf("grant.reviewed = %+v", evs)
	}
}

func TestRequesterCannotReviewOwnBreakGlassGrant(t *testing.T) {
	e := newActivityEnv(t)
	bg := e.create("bob", api.CreateRequest{Role: "oncall", Reason: "outage", BreakGlass: true}) // bob approves oncall
	if code, ae := e.errorOf("bob", "POST", "/v1/requests/"+bg.ID+"/review", api.ReviewBody{Verdict: api.VerdictOK}); code != http.StatusForbidden || !contains(ae.Message, "own") {
		t.Fatalf("self-review: HTTP %d %+v", code, ae)
	}
	var l api.RequestList
	e.call("bob", "GET", "/v1/reviews", nil, &l)
	if len(l.Requests) != 0 {
		t.Fatalf("bob's queue holds his own grant: %+v", l.Requests)
	}
	// dave (developer, no approver) may not review alice's either.
	a := e.create("alice", api.CreateRequest{Role: "oncall", Reason: "outage", BreakGlass: true})
	if code, _ := e.errorOf("dave", "POST", "/v1/requests/"+a.ID+"/review", api.ReviewBody{Verdict: api.VerdictOK}); code != http.StatusNotFound && code != http.StatusForbidden {
		t.Fatalf("non-approver review: HTTP %d", code)
	}
}

func TestReportIsForAdminsAndHintsLeastPrivilege(t *testing.T) {
	e := newActivityEnv(t)
	r, c := e.grant("alice", api.CreateRequest{Role: "readonly", Reason: "logs"})
	e.create("alice", api.CreateRequest{Role: "oncall", Reason: "outage", BreakGlass: true})
	var batch []any
	for i, a := range []string{"GetObject", "GetObject", "ListObjectsV2"} {
		batch = append(batch, minioEntry(c.AccessKeyID, a, 200, e.clock.Now(), fmt.Sprint("P", i)))
	}
	e.deliver("minio", mustJSON(t, batch), bearer())
	if code, _ := e.errorOf("alice", "GET", "/v1/report", nil); code != http.StatusForbidden {
		t.Fatalf("report as a developer: HTTP %d", code)
	}
	var rep api.Report
	if code := e.call("carol", "GET", "/v1/report", nil, &rep); code != 200 {
		t.Fatalf("report: HTTP %d", code)
	}
	if rep.Summary.Grants != 2 || rep.Summary.BreakGlass != 1 || rep.Summary.AwaitingReview != 1 || rep.Summary.Unused != 1 {
		t.Fatalf("summary = %+v", rep.Summary)
	}
	var hint string
	for _, ro := range rep.Roles {
		if ro.Role == "readonly" {
			hint = ro.Hint
		}
	}
	if hint != "readonly was used only for s3:GetObject and s3:ListObjectsV2 in 30 days" {
		t.Fatalf("hint = %q (grant %s)", hint, r.ID)
	}
}

// A CloudTrail record without eventTime was stored as a call in year 1
// (the grant's first use two thousand years before it began); it counts
// at the time it was received.
func TestCloudTrailRecordWithoutEventTimeIsNotStoredAsYearOne(t *testing.T) {
	e := newActivityEnv(t)
	r := e.create("alice", api.CreateRequest{Role: "oncall", Reason: "pager", BreakGlass: true})
	var c api.Credentials
	e.call("alice", "POST", "/v1/requests/"+r.ID+"/credentials", nil, &c)
	body := sample(t, e.clock.Now(), "s3-getobject", map[string]string{"ACCESS_KEY_ID": c.AccessKeyID, "SOURCE_IDENTITY": vend.SourceIdentity("alice@example.com"), "EVENT_ID": "ev-1"})
	body = bytes.Replace(body, []byte(`"eventTime": "`+e.clock.Now().UTC().Format(time.RFC3339)+`",`), nil, 1)
	if bytes.Contains(body, []byte("eventTime")) {
		t.Fatal("the sample still has its eventTime")
	}
	if code, res, b := e.deliver("cloudtrail", body, bearer()); code != 200 || res.Recorded != 1 {
		t.Fatalf("HTTP %d %s", code, b)
	}
	a := e.get("alice", r.ID).Activity
	if a == nil || a.FirstUse.Year() < 2000 || a.LastUse.Before(r.CreatedAt) {
		t.Fatalf("activity %+v: a call without eventTime is dated %v", a, a.FirstUse)
	}
}

// Events for keys jit never vended are "counted as unmatched", but the
// count was only in the reply to the sender: it is a metric too.
func TestUnmatchedActivityIsCountedInTheMetrics(t *testing.T) {
	e := newActivityEnv(t)
	body := mustJSON(t, []any{minioEntry("AKIANOTVENDED", "GetObject", 200, e.clock.Now(), "U1"), minioEntry("AKIANOTVENDED", "GetObject", 200, e.clock.Now(), "U2")})
	if code, res, b := e.deliver("minio", body, bearer()); code != 200 || res.Unmatched != 2 {
		t.Fatalf("HTTP %d %s", code, b)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.url+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(m), `jit_activity_unmatched_total{source="minio"} 2`) {
		t.Fatalf("no unmatched count in /metrics:\n%s", m)
	}
}

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// showJSON reads a request as the CLI shows it.
func (u *user) showJSON(id string) api.Request {
	u.w.t.Helper()
	var r api.Request
	if err := json.Unmarshal([]byte(u.must("show", id, "-o", "json")), &r); err != nil {
		u.w.t.Fatalf("jit show -o json: %v", err)
	}
	return r
}

// requestID creates a request and returns its id (jit request prints it on stdout).
func (u *user) requestID(args ...string) string {
	u.w.t.Helper()
	out := u.must(append([]string{"request"}, args...)...)
	id := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	if !strings.HasPrefix(id, "req_") {
		u.w.t.Fatalf("jit request %v printed %q", args, out)
	}
	return id
}

// TestGrantActivityIdleEndAndReviewWithMinIO is the activity loop against
// MinIO's real audit webhook: alice's grant is used by the AWS CLI and jit
// show reports the calls; a break-glass grant waits in bob's review queue
// until his verdict; a grant left idle past its idle_timeout is revoked and
// MinIO refuses its credentials from then on.
func TestGrantActivityIdleEndAndReviewWithMinIO(t *testing.T) {
	needAWSCLI(t)
	w := newWorldWith(t, worldOptions{revokeByDisablingParent: true})
	alice, bob := w.user("alice"), w.user("bob")
	alice.login()
	bob.login()
	alice.must("configure", "aws")
	aws := func(profile string, args ...string) (string, string, int) {
		return alice.run(append([]string{awsCLI, "--profile", profile, "--endpoint-url", w.minio.Endpoint(), "--region", w.minio.Region()}, args...)...)
	}

	// 1. Activity: the AWS CLI's calls reach jit show.
	id := alice.requestID("readonly", "--reason", "read logs")
	if a := alice.showJSON(id).Activity; a != nil {
		t.Fatalf("activity before any call: %+v", a)
	}
	for _, args := range [][]string{{"s3", "ls", "s3://" + w.bucket}, {"s3api", "list-objects-v2", "--bucket", w.bucket}} {
		if out, errOut, code := aws("readonly", args...); code != 0 {
			t.Fatalf("aws %v: exit %d %s %s", args, code, out, errOut)
		}
	}
	var act *api.Activity
	deadline := time.Now().Add(30 * time.Second)
	for act = alice.showJSON(id).Activity; act == nil || act.Calls < 2; act = alice.showJSON(id).Activity {
		if time.Now().After(deadline) {
			t.Fatalf("30s after two AWS CLI calls, jit show reports %+v", act)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if act.Actions[0].Action != "s3:ListObjectsV2" || act.LastUse.IsZero() || time.Since(act.LastUse) > time.Minute {
		t.Fatalf("activity = %+v; want s3:ListObjectsV2 and a recent last use", act)
	}
	text := alice.must("show", id)
	for _, want := range []string{"activity", "2 calls", "s3:ListObjectsV2 ×2", "last use"} {
		if !strings.Contains(text, want) {
			t.Fatalf("jit show lacks %q:\n%s", want, text)
		}
	}
	if out := alice.must("requests", "--unused"); strings.Contains(out, id) {
		t.Fatalf("jit requests --unused lists the used grant:\n%s", out)
	}

	// 2. Review: a break-glass grant waits for bob, not for alice herself.
	bg := alice.requestID("oncall", "--break-glass", "--reason", "pager: bucket errors")
	if out := alice.must("requests", "--unused"); !strings.Contains(out, bg) {
		t.Fatalf("jit requests --unused lacks the unused break-glass grant %s:\n%s", bg, out)
	}
	if out := bob.must("review"); !strings.Contains(out, bg) || !strings.Contains(out, "break-glass") {
		t.Fatalf("bob's review queue lacks %s:\n%s", bg, out)
	}
	if _, errOut, code := alice.run("review", bg, "--ok"); code == 0 || !strings.Contains(errOut, "own") {
		t.Fatalf("alice reviewed her own grant: exit %d %s", code, errOut)
	}
	tl := bob.must("review", bg)
	for _, want := range []string{"request.created", "request.break_glass", "none recorded", "waiting"} {
		if !strings.Contains(tl, want) {
			t.Fatalf("timeline lacks %q:\n%s", want, tl)
		}
	}
	if out := bob.must("review", bg, "--ok", "--note", "pager incident INC-7"); !strings.Contains(out, "reviewed: ok") {
		t.Fatalf("verdict: %s", out)
	}
	if out, _, _ := bob.run("review"); strings.Contains(out, bg) {
		t.Fatalf("the reviewed grant is still queued:\n%s", out)
	}

	// 3. Idle end: one call, then nothing for the role's 1m idle_timeout.
	idle := alice.requestID("idle", "--reason", "one look")
	credJSON := alice.must("credential-process", "--role", "idle")
	var creds struct{ AccessKeyID, SecretAccessKey, SessionToken string }
	if err := json.Unmarshal([]byte(credJSON), &creds); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := aws("idle", "s3", "ls", "s3://"+w.bucket); code != 0 {
		t.Fatalf("aws with the idle grant: exit %d %s %s", code, out, errOut)
	}
	static := func() (string, int) {
		_, errOut, code := alice.run("/usr/bin/env", "AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
			"AWS_SESSION_TOKEN="+creds.SessionToken, "AWS_CONFIG_FILE=/dev/null", awsCLI, "--endpoint-url", w.minio.Endpoint(),
			"--region", w.minio.Region(), "s3", "ls", "s3://"+w.bucket)
		return errOut, code
	}
	if errOut, code := static(); code != 0 {
		t.Fatalf("the grant's own keys before the idle end: exit %d %s", code, errOut)
	}
	deadline = time.Now().Add(2 * time.Minute)
	var r api.Request
	for r = alice.showJSON(idle); r.State != api.StateRevoked; r = alice.showJSON(idle) {
		if time.Now().After(deadline) {
			t.Fatalf("2m after the last call the 1m-idle grant is %s", r.State)
		}
		time.Sleep(time.Second)
	}
	// Measured on the server's clock: MinIO's time of the last call (as
	// recorded) to the revoke.
	if r.Activity == nil || r.Activity.Calls < 2 {
		t.Fatalf("the idle grant's activity = %+v; want its 2 calls", r.Activity)
	}
	lag := r.UpdatedAt.Sub(r.Activity.LastUse)
	t.Logf("last call → idle revoke: %s (idle_timeout 1m, sweep every 1s)", lag.Round(time.Millisecond))
	if lag < time.Minute || lag > time.Minute+10*time.Second {
		t.Fatalf("revoked %s after the last call; want just past its 1m idle_timeout", lag)
	}
	if !strings.Contains(r.EndReason, "idle") || r.EndedBy != "sweeper" {
		t.Fatalf("revoked by %q: %q", r.EndedBy, r.EndReason)
	}
	if errOut, code := static(); code == 0 {
		t.Fatal("MinIO still accepts the idle-revoked grant's credentials")
	} else if !strings.Contains(errOut, "InvalidAccessKeyId") && !strings.Contains(errOut, "AccessDenied") && !strings.Contains(errOut, "InvalidToken") {
		t.Fatalf("after the idle end: exit %d %s", code, errOut)
	}
	// The CLI wipes the revoked grant's cached credentials as for any revoke.
	alice.must("status")
	if alice.hasCachedCredentials(t, "idle") {
		t.Fatal("the keyring still holds the idle-revoked grant's credentials")
	}
}

package webapp_test

import (
	"context"

	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/chromedp"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/vend"
)

// minioEnv is newEnv with MinIO as STS: grants vend real, expiring
// credentials, and the fake federation endpoint accepts only keys that
// MinIO accepts (it lists the bucket with them, as AWS's checks the
// session before it signs in).
func minioEnv(t *testing.T) *env {
	t.Helper()
	m := testenv.MinIO(t)
	m.CreateBucket(t, "jit-data")
	u := m.AddUser(t, "readwrite")
	v, err := vend.NewSTS(vend.STSConfig{Region: m.Region(), Endpoint: m.Endpoint(), Credentials: u.Provider(),
		DenyActions: []string{"s3:*"}})
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, envOptions{vendor: v, realTime: true, checkCreds: func(ctx context.Context, c api.Credentials) error {
		s3c := m.S3Client(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken))
		_, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("jit-data")})
		return err
	}})
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// signInAt opens target in the browser and signs in at the IdP's form.
func signInAt(t *testing.T, browser context.Context, target, username, waitFor string) {
	t.Helper()
	u, _ := ids.idp.User(username)
	step(t, browser, "sign in as "+username+" at "+target,
		chromedp.Navigate(target),
		chromedp.WaitVisible(css("#username")),
		chromedp.SendKeys(css("#username"), username),
		chromedp.SendKeys(css("#password"), u.Password),
		chromedp.Click(css("#sign-in")),
		chromedp.WaitVisible(css(waitFor)),
	)
}

func text(t *testing.T, browser context.Context, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// shoot saves a screenshot of the page when JIT_WEB_SCREENSHOTS names a
// folder (make screenshots: docs/img); otherwise it does nothing.
func shoot(t *testing.T, browser context.Context, name string) {
	t.Helper()
	dir := os.Getenv("JIT_WEB_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(browser, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "web-"+name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestChromiumRequestApproveWatchLiveOpenConsoleAndRevoke is the web app's
// whole path in a real browser against the real IdP and MinIO: alice
// requests through the form, bob approves in a second browser context,
// alice's page shows it without a reload, the console button lands on a
// sign-in made from working MinIO keys (through the named fake federation
// endpoint), and alice revokes.
func TestChromiumRequestApproveWatchLiveOpenConsoleAndRevoke(t *testing.T) {
	e := minioEnv(t) // first: its server stops after the browsers close
	alice := headless(t.Context(), t)
	bob := headless(t.Context(), t)
	step(t, alice, "a phone-sized window", chromedp.EmulateViewport(360, 800))

	signInAt(t, alice, e.url+"/web/", "alice", "#roles")
	shoot(t, alice, "home")
	step(t, alice, "open prod-admin and send the form empty",
		chromedp.Click(css(`a[href="/web/roles/prod-admin"]`)),
		chromedp.WaitVisible(css("#request-form")),
		chromedp.Click(css("#submit")),
		chromedp.WaitVisible(css("#reason-error")),
	)
	if got := text(t, alice, "#reason-error"); !strings.Contains(got, "requires a reason") {
		t.Errorf("the reason's error says %q", got)
	}
	shoot(t, alice, "form-error")
	// By keyboard only: focus the reason, type, tab to the button, Enter.
	step(t, alice, "fill the form by keyboard",
		chromedp.Focus(css("#reason")),
		chromedp.KeyEvent("rotate the TLS key"),
		chromedp.Focus(css("#submit")),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(css("#state.state-pending")),
	)
	loc, _ := chromedp.Run(alice, chromedp.Location())
	id := loc[strings.LastIndex(loc, "/")+1:]
	if !strings.HasPrefix(id, "req_") {
		t.Fatalf("after the form the browser is at %s", loc)
	}
	wide, err := chromedp.Run(alice, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
	if err != nil || wide > 360 {
		t.Errorf("the request page is %d px wide in a 360 px window (%v)", wide, err)
	}
	// A mark on the page's window: a reload would wipe it.
	step(t, alice, "mark the page", chromedp.Evaluate[chromedp.Void]("window.jitMark = 'still here'"))
	shoot(t, alice, "request-pending")

	signInAt(t, bob, e.url+"/approve/"+id, "bob", "#decision")
	shoot(t, bob, "approve")
	step(t, bob, "approve", chromedp.SendKeys(css("#comment"), "ok from the browser"), chromedp.Click(css("#approve")),
		chromedp.WaitVisible(css("#state.state-approved")))

	step(t, alice, "alice's page shows the grant without a reload", chromedp.WaitVisible(css("#state.state-approved")),
		chromedp.WaitVisible(css("#console")))
	if mark, err := chromedp.Run(alice, chromedp.Evaluate[string]("window.jitMark")); err != nil || mark != "still here" {
		t.Errorf("the page was reloaded (mark %q, %v)", mark, err)
	}
	if got := text(t, alice, "#approval-list"); !strings.Contains(got, "bob@example.com") || !strings.Contains(got, "ok from the browser") {
		t.Errorf("the live approvals say %q", got)
	}
	if got := text(t, alice, "#cli"); got != "jit exec prod-admin -- aws sts get-caller-identity" {
		t.Errorf("the CLI line is %q", got)
	}
	shoot(t, alice, "grant")

	step(t, alice, "open the console", chromedp.Click(css("#console")), chromedp.WaitVisible(css("#fake-console")))
	calls := e.fed.calls()
	if len(calls) != 1 {
		t.Fatalf("federation calls: %d", len(calls))
	}
	if got := text(t, alice, "#fake-console"); got != "FAKE AWS console, session "+calls[0].AccessKeyID {
		t.Errorf("the console says %q", got)
	}
	e.wantVia(id, "credentials.vended", "web")

	step(t, alice, "revoke", chromedp.Navigate(e.url+"/web/requests/"+id), chromedp.WaitVisible(css("#revoke")),
		chromedp.Click(css("#revoke")), chromedp.WaitVisible(css("#state.state-revoked")))
	if got := e.state(id); got != api.StateRevoked {
		t.Errorf("after revoking in the browser the request is %s", got)
	}
	e.wantVia(id, "grant.revoked", "web")
}

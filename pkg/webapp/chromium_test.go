package webapp_test

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
)

// chromium finds Debian's chromium (make deps installs it). Without it the
// test fails under CI and is skipped elsewhere (testenv.MissingPeer).
func chromium(t *testing.T) string {
	t.Helper()
	testenv.SkipPeerInShortMode(t, "chromium")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.MissingPeer(t, "chromium is not installed; run: make deps (apt package chromium)")
	return ""
}

// chrome is the package's one headless Chromium, started by the first
// test that needs it and stopped by TestMain; each test gets its own
// browser context (its own cookies, like a private window).
var chrome struct {
	once     sync.Once
	ctx      context.Context
	cancel   func()
	startErr error
}

// headless gives the test a fresh browser context (a new private window
// of the shared Chromium); it closes when the test ends.
func headless(_ context.Context, t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	chrome.once.Do(func() {
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox, // CI runs as root
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-dev-shm-usage", true),
			// No internet here: without these Chromium floods refused connections.
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-default-apps", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.Flag("metrics-recording-only", true),
			chromedp.Flag("no-pings", true),
		)
		browser, cancelBrowser := chromedp.NewContext(alloc)
		chrome.ctx, chrome.cancel = browser, func() { cancelBrowser(); cancelAlloc() }
		// The first run starts the browser, which lives as long as its
		// context: no deadline on this one; steps get their own (see step).
		chrome.startErr = chromedp.Do(browser, chromedp.Navigate("about:blank"))
	})
	if chrome.startErr != nil {
		t.Fatalf("start chromium: %v", chrome.startErr)
	}
	tab, cancel := chromedp.NewContext(chrome.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("open a browser context: %v", err)
	}
	return tab
}

// stopChromium ends the shared browser (TestMain).
func stopChromium() {
	if chrome.cancel != nil {
		chrome.cancel()
	}
}

// step runs browser actions with a deadline and shows the page on failure.
func step(t *testing.T, browser context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		dump, cancelDump := context.WithTimeout(browser, 5*time.Second)
		defer cancelDump()
		loc, _ := chromedp.Run(dump, chromedp.Location())
		body, _ := chromedp.Run(dump, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
}

func TestChromiumApproverApprovesAndTheWaitingClientGetsCredentials(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	browser := headless(t.Context(), t)
	e := newEnv(t) // its clock stands at the real time: cookies and auth_time agree
	alice := e.client("alice")
	req, err := alice.Create(ctx, api.CreateRequest{Role: "prod-admin", Reason: "rotate the TLS key"})
	if err != nil {
		t.Fatal(err)
	}

	// alice waits for the decision, as `jit request` does.
	type result struct {
		req *api.Request
		err error
	}
	waited := make(chan result, 1)
	go func() {
		r, err := alice.Wait(ctx, req, nil)
		waited <- result{r, err}
	}()

	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	// bob opens the link (as from Slack), signs in at the IdP's form, approves.
	step(t, browser, "sign in as bob and open the request",
		chromedp.Navigate(e.url+"/approve/"+req.ID),
		chromedp.WaitVisible(css("#username")),
		chromedp.SendKeys(css("#username"), "bob"),
		chromedp.SendKeys(css("#password"), "bob-password"),
		chromedp.Click(css("#sign-in")),
		chromedp.WaitVisible(css("#decision")),
	)
	requester, err := chromedp.Run(browser, chromedp.Text(css("#requester")))
	if err != nil || requester != "alice@example.com" {
		t.Fatalf("requester on the page = %q (%v)", requester, err)
	}
	step(t, browser, "approve",
		chromedp.SendKeys(css("#comment"), "approved from Chromium"),
		chromedp.Click(css("#approve")),
		chromedp.WaitVisible(css("#state.state-approved")),
	)

	select {
	case r := <-waited:
		if r.err != nil {
			t.Fatalf("alice's wait: %v", r.err)
		}
		if r.req.State != api.StateApproved || len(r.req.Approvals) != 1 || r.req.Approvals[0].By != "bob@example.com" ||
			r.req.Approvals[0].Comment != "approved from Chromium" {
			t.Fatalf("alice's wait returned %+v", r.req)
		}
	case <-ctx.Done():
		t.Fatal("alice's wait did not return after the approval")
	}
	creds, err := alice.Credentials(ctx, req.ID)
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	if !strings.HasPrefix(creds.AccessKeyID, "ASIAFAKE") || creds.RequestID != req.ID {
		t.Errorf("credentials = %s", creds)
	}

	// A forged CSRF token is refused, and nothing is decided.
	second, err := alice.Create(ctx, api.CreateRequest{Role: "prod-admin", Reason: "second"})
	if err != nil {
		t.Fatal(err)
	}
	step(t, browser, "approve with a forged CSRF token",
		chromedp.Navigate(e.url+"/approve/"+second.ID),
		chromedp.WaitVisible(css("#decision")),
		chromedp.SetAttributeValue(css(`#decision input[name="csrf"]`), "value", "forged-token"),
		chromedp.Click(css("#approve")),
		chromedp.WaitVisible(css("#message")),
	)
	msg, _ := chromedp.Run(browser, chromedp.Text(css("#message")))
	if !strings.Contains(msg, "not from this server") {
		t.Errorf("refusal page says %q", msg)
	}
	if got := e.state(second.ID); got != api.StatePending {
		t.Errorf("after a forged CSRF token the request is %s, want pending", got)
	}
}

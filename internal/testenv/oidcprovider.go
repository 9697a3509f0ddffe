package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// OIDCProviderUser is a person at the oidc-provider IdP. Claims go into the
// ID token exactly as given: the test decides the shape (groups as a list or
// one string, email_verified missing, false or true, upn, …). Claims["sub"]
// is the subject; it defaults to "sub-<username>".
type OIDCProviderUser struct {
	Username string
	// Password defaults to "<username>-password".
	Password string
	Claims   map[string]any
}

// OIDCProviderClient is a public client; ExtraAudiences are added to its ID
// tokens' aud (then azp names the client), as Entra and Okta do for tokens
// minted for one app that name another.
type OIDCProviderClient struct {
	ID             string
	ExtraAudiences []string
}

// OIDCProviderOptions configure OIDCProvider.
type OIDCProviderOptions struct {
	Users []OIDCProviderUser
	// Clients default to one client "jit-cli".
	Clients []OIDCProviderClient
	// IDTokenTTL defaults to 1h.
	IDTokenTTL time.Duration
	// Workloads are the jobs this provider issues workload tokens for
	// (WorkloadToken), by profile name, with their claims: see
	// GitHubActionsClaims and KubernetesClaims.
	Workloads map[string]map[string]any
}

// OIDCProviderIdP is panva's oidc-provider (npm, OpenID-certified) running
// as a separate Node.js process on 127.0.0.1: a second, independent IdP
// next to pkg/devidp (zitadel), so jit is not tested against one
// implementation's habits only.
type OIDCProviderIdP struct {
	issuer   string
	clientID string
	users    map[string]OIDCProviderUser
	stderr   *lockedBuffer
}

// RefreshGrants is how many refresh-token grants the provider has answered
// successfully so far, waiting up to 5s for at least atLeast of them (the
// provider reports each on its stderr, which reaches the test a little
// after the token response).
func (p *OIDCProviderIdP) RefreshGrants(atLeast int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := strings.Count(p.stderr.String(), "jit-testidp: refresh_token grant")
		if n >= atLeast || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// OIDCProviderDir is where the Node script and its package-lock.json live.
func OIDCProviderDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "internal", "testidp", "oidcprovider")
}

const oidcProviderInstall = "run scripts/deps.sh, or: cd internal/testidp/oidcprovider && npm ci"

// findOIDCProvider returns node's path, or an error naming the install
// command when node or the npm packages in dir are missing.
func findOIDCProvider(lookPath func(string) (string, error), dir string) (string, error) {
	node, err := lookPath("node")
	if err != nil {
		return "", fmt.Errorf("node not found on PATH: install Node.js 20+ (apt-get install nodejs npm), then %s", oidcProviderInstall)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		return "", fmt.Errorf("npm package oidc-provider missing in %s: %s", dir, oidcProviderInstall)
	}
	return node, nil
}

// OIDCProvider starts internal/testidp/oidcprovider/server.js with node and
// stops it when the test ends. Missing node or npm packages are a missing
// peer (see MissingPeer), named with the install command.
func OIDCProvider(t testing.TB, o OIDCProviderOptions) *OIDCProviderIdP {
	t.Helper()
	SkipPeerInShortMode(t, "node's oidc-provider")
	dir := OIDCProviderDir()
	node, err := findOIDCProvider(exec.LookPath, dir)
	if err != nil {
		MissingPeer(t, "testenv: "+err.Error())
	}
	if len(o.Clients) == 0 {
		o.Clients = []OIDCProviderClient{{ID: "jit-cli"}}
	}
	if o.IDTokenTTL == 0 {
		o.IDTokenTTL = time.Hour
	}
	idp := &OIDCProviderIdP{clientID: o.Clients[0].ID, users: map[string]OIDCProviderUser{}}
	cfgPath := writeOIDCProviderConfig(t, o, idp)
	startOIDCProvider(t, node, dir, cfgPath, idp)
	return idp
}

// writeOIDCProviderConfig writes server.js's configuration (users with
// their claims, clients, token lifetime) to a temporary file, records the
// users in idp and returns the file's path.
func writeOIDCProviderConfig(t testing.TB, o OIDCProviderOptions, idp *OIDCProviderIdP) string {
	t.Helper()
	type jsonUser struct {
		Username string         `json:"username"`
		Password string         `json:"password"`
		Claims   map[string]any `json:"claims"`
	}
	type jsonClient struct {
		ID             string   `json:"client_id"`
		ExtraAudiences []string `json:"extra_audiences,omitempty"`
		RedirectURIs   []string `json:"redirect_uris"`
	}
	cfg := struct {
		Users      []jsonUser                `json:"users"`
		Clients    []jsonClient              `json:"clients"`
		IDTokenTTL int                       `json:"id_token_ttl"`
		Workloads  map[string]map[string]any `json:"workloads,omitempty"`
	}{IDTokenTTL: int(o.IDTokenTTL / time.Second), Workloads: o.Workloads}
	for _, u := range o.Users {
		claims := map[string]any{"sub": "sub-" + u.Username}
		for k, v := range u.Claims {
			claims[k] = v
		}
		u.Claims = claims
		if u.Password == "" {
			u.Password = u.Username + "-password"
		}
		idp.users[u.Username] = u
		cfg.Users = append(cfg.Users, jsonUser{Username: u.Username, Password: u.Password, Claims: claims})
	}
	for _, c := range o.Clients {
		cfg.Clients = append(cfg.Clients, jsonClient{ID: c.ID, ExtraAudiences: c.ExtraAudiences,
			RedirectURIs: []string{"http://127.0.0.1/approve/callback"}})
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "oidc-provider.json")
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath
}

// startOIDCProvider runs server.js with the configuration at cfgPath,
// waits for the issuer it prints on its first stdout line and stops it
// when the test ends.
func startOIDCProvider(t testing.TB, node, dir, cfgPath string, idp *OIDCProviderIdP) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "server.js"), cfgPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_ENV=test")
	stdin, err := cmd.StdinPipe() // closed when the test process dies: node exits
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	idp.stderr = stderr
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("testenv: start oidc-provider: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stdin.Close()
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("oidc-provider stderr:\n%s", stderr.String())
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-line:
		var ready struct{ Issuer string }
		if !ok || json.Unmarshal([]byte(l), &ready) != nil || ready.Issuer == "" {
			<-exited
			t.Fatalf("testenv: oidc-provider did not start (%s); stderr:\n%s", oidcProviderInstall, stderr.String())
		}
		idp.issuer = ready.Issuer
	case <-time.After(30 * time.Second):
		t.Fatalf("testenv: oidc-provider printed no issuer within 30s; stderr:\n%s", stderr.String())
	}
}

// Issuer is the provider's issuer URL (http://127.0.0.1:PORT).
func (p *OIDCProviderIdP) Issuer() string { return p.issuer }

// ClientID is the first client's id.
func (p *OIDCProviderIdP) ClientID() string { return p.clientID }

// OAuth2Config is a device-grant config for client (the first when "").
func (p *OIDCProviderIdP) OAuth2Config(client string) *oauth2.Config {
	if client == "" {
		client = p.clientID
	}
	return &oauth2.Config{ClientID: client, Scopes: []string{"openid", "email", "profile", "groups", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: p.issuer + "/auth", TokenURL: p.issuer + "/token",
			DeviceAuthURL: p.issuer + "/device/auth", AuthStyle: oauth2.AuthStyleInParams}}
}

// CompleteDevice plays the user's browser over plain HTTP: it opens
// verificationURIComplete and submits the forms it is shown (the user-code
// confirmation, the development login form as username) until the
// provider's "Sign-in Success" page.
// A wrong password is refused by the provider (401).
func (p *OIDCProviderIdP) CompleteDevice(ctx context.Context, verificationURIComplete, username string) error {
	u, ok := p.users[username]
	if !ok {
		return fmt.Errorf("oidc-provider: no user %q", username)
	}
	return p.CompleteDeviceWithPassword(ctx, verificationURIComplete, username, u.Password)
}

// CompleteDeviceWithPassword is CompleteDevice with the password typed.
func (p *OIDCProviderIdP) CompleteDeviceWithPassword(ctx context.Context, verificationURIComplete, username, password string) error {
	if !strings.HasPrefix(verificationURIComplete, p.issuer+"/") {
		return fmt.Errorf("oidc-provider: verification uri %q does not belong to %s", verificationURIComplete, p.issuer)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	page, at, err := browse(ctx, client, http.MethodGet, verificationURIComplete, nil)
	for step := 0; err == nil && step < 8; step++ {
		if strings.Contains(page, "<title>Sign-in Success</title>") {
			return nil
		}
		f, ok := firstForm(page)
		if !ok {
			return fmt.Errorf("oidc-provider: page at %s has no form and no success:\n%s", at, page)
		}
		if _, ok := f.values["login"]; ok || f.values.Get("prompt") == "login" {
			f.values.Set("login", username)
			f.values.Set("password", password)
		}
		target, perr := at.Parse(f.action)
		if perr != nil {
			return perr
		}
		page, at, err = browse(ctx, client, http.MethodPost, target.String(), f.values)
	}
	if err != nil {
		return fmt.Errorf("oidc-provider: sign in as %s: %w", username, err)
	}
	return errors.New("oidc-provider: no success page after 8 forms")
}

// DeviceToken runs a whole device grant for username with client ("" for
// the first) and returns the token (with the "id_token" extra).
func (p *OIDCProviderIdP) DeviceToken(t testing.TB, client, username string) *oauth2.Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cfg := p.OAuth2Config(client)
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("testenv: device authorization at %s: %v", p.issuer, err)
	}
	done := make(chan error, 1)
	go func() { done <- p.CompleteDevice(ctx, da.VerificationURIComplete, username) }()
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if cerr := <-done; cerr != nil {
		t.Fatalf("testenv: %v", cerr)
	}
	if err != nil {
		t.Fatalf("testenv: device token for %s: %v", username, err)
	}
	if raw, _ := tok.Extra("id_token").(string); raw == "" {
		t.Fatalf("testenv: device token for %s has no id_token", username)
	}
	return tok
}

type form struct {
	action string
	values url.Values
}

var (
	formRE  = regexp.MustCompile(`(?s)<form\b([^>]*)>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?s)<input\b([^>]*)>`)
	attrRE  = regexp.MustCompile(`([a-zA-Z_-]+)="([^"]*)"`)
)

// firstForm reads the first HTML form of a page: its action and inputs.
func firstForm(page string) (form, bool) {
	m := formRE.FindStringSubmatch(page)
	if m == nil {
		return form{}, false
	}
	f := form{values: url.Values{}}
	for _, a := range attrRE.FindAllStringSubmatch(m[1], -1) {
		if a[1] == "action" {
			f.action = html.UnescapeString(a[2])
		}
	}
	for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
		var name, value string
		for _, a := range attrRE.FindAllStringSubmatch(in[1], -1) {
			switch a[1] {
			case "name":
				name = a[2]
			case "value":
				value = html.UnescapeString(a[2])
			}
		}
		if name != "" {
			f.values.Set(name, value)
		}
	}
	return f, true
}

func browse(ctx context.Context, client *http.Client, method, target string, vals url.Values) (string, *url.URL, error) {
	var body io.Reader
	if vals != nil {
		body = strings.NewReader(vals.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return "", nil, err
	}
	if vals != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("%s %s: %s: %s", method, target, resp.Status, b)
	}
	return string(b), resp.Request.URL, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

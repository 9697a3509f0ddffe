// Package devidp runs a small OpenID Connect provider with the device grant
// for jit's tests and for `jit dev`: zitadel/oidc issues, signs and discovers
// the tokens; this package supplies the users, the claims, one public client
// (device grant for the CLI; authorization code with PKCE for the server's
// approver page) and the browser sign-in pages. It listens on loopback only and must
// never face real users.
//
// It builds on zitadel's op package and its example storage, not on the
// exampleop server: exampleop fixes the poll interval at 5 s and the token
// encryption key at sha256("test"), replaces slog's default logger and calls
// log.Fatal, and its device pages store the username as the subject. Here
// the op.Config is ours (1 s polling, a random key per start) and so are the
// pages (subject = the user's stable ID, demo users listed for `jit dev`).
//
// Clients use the device endpoint with client_id in the form and no secret
// (oauth2.AuthStyleInParams; see Provider.OAuth2Config) and request
// DefaultScopes. zitadel logs protocol errors through slog's default logger.
package devidp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"
	"golang.org/x/text/language"
)

// User is a person who can sign in at the provider.
type User struct {
	// ID is the stable subject (the "sub" claim). Start derives one from
	// Username when it is empty, so relying parties cannot get away with
	// keying on the username.
	ID       string
	Username string
	Password string
	Email    string
	Name     string
	// Groups become the ID token's "groups" claim.
	Groups []string
	// Claims replace or add ID-token claims for this user, for tests that
	// need tokens shaped like another IdP's: a string "groups", an
	// "email_verified" that is the string "false". A nil value removes
	// the claim (no email_verified at all). Claims zitadel itself sets
	// from the token request (iss, sub, aud, azp, iat, exp) cannot be
	// replaced here; see Options for lifetimes and audiences.
	Claims map[string]any
}

// Options configure Start. Zero values select the defaults.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0". It must be a
	// loopback address: the provider shows demo passwords on its pages.
	Addr string
	// Users who may sign in; default DefaultUsers().
	Users []User
	// ClientID of the public device client; default "jit-cli".
	ClientID string
	// RedirectURIs the public client may use with the authorization code
	// grant (PKCE required); default DefaultRedirectURIs(), the jit server's
	// approver page on loopback. A loopback http URI matches any port
	// (RFC 8252 §7.3), so a server on a kernel-chosen port needs no entry.
	RedirectURIs []string
	// IDTokenLifetime defaults to 1h.
	IDTokenLifetime time.Duration
	// AccessTokenLifetime is the access token's expires_in; default 1h.
	// (The example storage's userinfo endpoint still honours an access
	// token for 5 minutes only.)
	AccessTokenLifetime time.Duration
	// PollInterval is the device grant's polling interval announced to
	// clients, in whole seconds; default 1s (zitadel's example uses 5s).
	PollInterval time.Duration
	// DeviceCodeLifetime defaults to 5 minutes.
	DeviceCodeLifetime time.Duration
	// IDTokenClockSkew is the client's clock skew as zitadel applies it:
	// iat is moved back and exp forward by it. A negative value issues
	// tokens from the future (tests of jit's iat check); default 0.
	IDTokenClockSkew time.Duration
	// OtherClientID, when set, registers a second public device client,
	// as another application at the same IdP would have.
	OtherClientID string
	// ExtraAudiences adds audiences to the ID tokens issued to a client
	// (by client id): tokens with several audiences, with azp the client
	// that asked.
	ExtraAudiences map[string][]string
	// Logger receives one line per sign-in decision; default discards.
	// (zitadel itself logs through slog's default logger.)
	Logger *slog.Logger
}

// Provider is a running OIDC provider. Close stops it.
type Provider struct {
	issuer   string
	clientID string
	users    []User
	store    *deviceStorage
	srv      *http.Server
	served   chan error
	logger   *slog.Logger

	closeOnce sync.Once
	closeErr  error

	otherClientID string
}

// DefaultUsers returns the demo users used by tests and `jit dev`:
// alice is a developer, bob a developer and approver, carol an admin and
// approver. Their passwords are "<name>-password".
func DefaultUsers() []User {
	return []User{
		{Username: "alice", Password: "alice-password", Email: "alice@example.com", Name: "Alice Anders", Groups: []string{"developers"}},
		{Username: "bob", Password: "bob-password", Email: "bob@example.com", Name: "Bob Brown", Groups: []string{"developers", "approvers"}},
		{Username: "carol", Password: "carol-password", Email: "carol@example.com", Name: "Carol Chen", Groups: []string{"admins", "approvers"}},
	}
}

// DefaultScopes are the scopes a client should request to get a refresh
// token and an ID token with email, name and groups.
func DefaultScopes() []string {
	return []string{"openid", "profile", "email", "offline_access"}
}

// DefaultRedirectURIs are the jit server's approver-page callbacks on
// loopback, any port.
func DefaultRedirectURIs() []string {
	return []string{"http://127.0.0.1/approve/callback", "http://localhost/approve/callback"}
}

// SubjectFor derives the stable subject Start gives a user without an ID.
func SubjectFor(username string) string {
	sum := sha256.Sum256([]byte("jit-devidp-user:" + username))
	return "u-" + hex.EncodeToString(sum[:8])
}

// Start listens on opts.Addr and serves the provider until Close. ctx bounds
// only the start-up.
func Start(ctx context.Context, opts Options) (*Provider, error) {
	opts = withDefaults(opts)
	users, err := normaliseUsers(opts.Users)
	if err != nil {
		return nil, err
	}
	if opts.PollInterval < time.Second || opts.PollInterval%time.Second != 0 {
		return nil, fmt.Errorf("devidp: poll interval %s is not a whole number of seconds", opts.PollInterval)
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("devidp: listen on %s: %w", opts.Addr, err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	if !addr.IP.IsLoopback() {
		_ = ln.Close()
		return nil, fmt.Errorf("devidp: refusing non-loopback address %s", addr)
	}
	issuer := "http://" + addr.String()

	store := newDeviceStorage(users, opts)
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("devidp: crypto key: %w", err)
	}
	config := &op.Config{
		CryptoKey:             cryptoKey,
		CryptoKeyId:           "devidp",
		GrantTypeRefreshToken: true,
		SupportedUILocales:    []language.Tag{language.English},
		SupportedClaims:       append(append([]string(nil), op.DefaultSupportedClaims...), "groups"),
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime:     opts.DeviceCodeLifetime,
			PollInterval: opts.PollInterval,
			UserFormPath: devicePath,
			UserCode:     op.UserCodeBase20,
		},
	}
	oidcProvider, err := op.NewProvider(config, store, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("devidp: new provider: %w", err)
	}

	p := &Provider{
		issuer:   issuer,
		clientID: opts.ClientID,
		users:    users,
		store:    store,
		served:   make(chan error, 1),
		logger:   opts.Logger,
	}
	p.otherClientID = opts.OtherClientID
	ui := &deviceUI{store: store, users: users, logger: opts.Logger}
	mux := http.NewServeMux()
	ui.register(mux)
	login := &loginUI{store: store, callback: issuer + "/authorize/callback", logger: opts.Logger}
	login.register(mux)
	mux.Handle("/", oidcProvider)
	p.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	go func() {
		err := p.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		p.served <- err
	}()
	return p, nil
}

func withDefaults(opts Options) Options {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if len(opts.Users) == 0 {
		opts.Users = DefaultUsers()
	}
	if opts.ClientID == "" {
		opts.ClientID = "jit-cli"
	}
	if len(opts.RedirectURIs) == 0 {
		opts.RedirectURIs = DefaultRedirectURIs()
	}
	if opts.IDTokenLifetime <= 0 {
		opts.IDTokenLifetime = time.Hour
	}
	if opts.AccessTokenLifetime <= 0 {
		opts.AccessTokenLifetime = time.Hour
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Second
	}
	if opts.DeviceCodeLifetime <= 0 {
		opts.DeviceCodeLifetime = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return opts
}

func normaliseUsers(in []User) ([]User, error) {
	out := make([]User, 0, len(in))
	seenName := map[string]bool{}
	seenID := map[string]bool{}
	for _, u := range in {
		if u.Username == "" || u.Password == "" {
			return nil, errors.New("devidp: every user needs a username and a password")
		}
		if u.ID == "" {
			u.ID = SubjectFor(u.Username)
		}
		if seenName[u.Username] || seenID[u.ID] {
			return nil, fmt.Errorf("devidp: duplicate user %q", u.Username)
		}
		seenName[u.Username], seenID[u.ID] = true, true
		u.Groups = append([]string(nil), u.Groups...)
		out = append(out, u)
	}
	return out, nil
}

// Issuer is the provider's issuer URL, http://127.0.0.1:PORT.
func (p *Provider) Issuer() string { return p.issuer }

// ClientID is the public device client's id (the ID token's audience).
func (p *Provider) ClientID() string { return p.clientID }

// Users returns the users who may sign in, with their IDs filled in.
func (p *Provider) Users() []User {
	out := make([]User, len(p.users))
	for i, u := range p.users {
		u.Groups = append([]string(nil), u.Groups...)
		out[i] = u
	}
	return out
}

// User returns the user with that username.
func (p *Provider) User(username string) (User, bool) {
	for _, u := range p.Users() {
		if u.Username == username {
			return u, true
		}
	}
	return User{}, false
}

// Endpoint is the provider's OAuth2 endpoint for golang.org/x/oauth2. The
// client is public, so credentials go in the form (client_id, no secret).
// It matches the provider's discovery document.
func (p *Provider) Endpoint() oauth2.Endpoint {
	return oauth2.Endpoint{
		AuthURL:       p.issuer + "/authorize",
		DeviceAuthURL: p.issuer + "/device_authorization",
		TokenURL:      p.issuer + "/oauth/token",
		AuthStyle:     oauth2.AuthStyleInParams,
	}
}

// OAuth2Config is a ready oauth2.Config for the device client with
// DefaultScopes.
func (p *Provider) OAuth2Config() *oauth2.Config {
	return &oauth2.Config{ClientID: p.clientID, Endpoint: p.Endpoint(), Scopes: DefaultScopes()}
}

// OtherClientID is the second client's id (Options.OtherClientID), or "".
func (p *Provider) OtherClientID() string { return p.otherClientID }

// Close stops the provider, letting requests in flight finish for up to
// five seconds.
func (p *Provider) Close() error {
	p.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := p.srv.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, p.srv.Close())
		}
		if serveErr := <-p.served; serveErr != nil {
			err = errors.Join(err, serveErr)
		}
		if err != nil {
			p.closeErr = fmt.Errorf("devidp: close: %w", err)
		}
	})
	return p.closeErr
}

func splitName(name string) (first, last string) {
	name = strings.TrimSpace(name)
	if i := strings.LastIndexByte(name, ' '); i > 0 {
		return name[:i], name[i+1:]
	}
	return name, ""
}

var _ storage.UserStore = userStore{}

// Package doctor holds `jit doctor`'s checks: the server answers, the login
// is valid (and for how long), the keyring works (and how fast), the clock
// agrees with the server's, and the AWS profiles match the roles. Each check
// is a function of injected dependencies; cmd/doctor wires and prints them.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/awsconfig"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/session"
)

// Check is one line of the report.
type Check struct {
	Name string
	OK   bool
	Msg  string
	// Warn marks an OK check worth acting on.
	Warn bool
}

// Keyring is what the checks need of the credential cache.
type Keyring interface {
	Backend() string
	GetTokens(ctx context.Context, server string) (credcache.Tokens, bool, error)
}

// Deps are the checks' dependencies.
type Deps struct {
	Server     func() (string, error)
	Keyring    func() (Keyring, error)
	HTTPClient func() *http.Client
	Session    func() (*session.Session, error)
	Env        func(string) string
	// Now reads the clock: for timings, the token's time left and the skew.
	Now        func() time.Time
	Executable func() (string, error)
	// GOOS and Compiled name the platform and the keyring backends built in.
	GOOS     string
	Compiled []string
}

func check(name string, ok bool, format string, args ...any) Check {
	return Check{Name: name, OK: ok, Msg: fmt.Sprintf(format, args...)}
}

// Run runs the checks in order; a failed step the later ones depend on ends
// the report there.
func Run(ctx context.Context, d Deps) []Check {
	server, err := d.Server()
	if err != nil {
		return []Check{check("server", false, "%v", err)}
	}
	kr, krErr := d.Keyring()
	inUse := ""
	if krErr == nil {
		inUse = kr.Backend()
	}
	out := KeyringBuild(d.GOOS, d.Compiled, inUse, d.Env("JIT_FILE_PASSPHRASE") != "")
	if krErr != nil {
		out = append(out, check("keyring", false, "%v", krErr))
		kr = nil
	} else {
		out = append(out, KeyringRead(ctx, kr, server, d.Now))
	}
	client, err := apiclient.New(server, d.HTTPClient(), nil)
	if err != nil {
		return append(out, check("server", false, "%v", err))
	}
	checks, ok := ServerAndClock(ctx, client, server, d.Now)
	out = append(out, checks...)
	if !ok {
		return out
	}
	s, err := d.Session()
	if err != nil {
		return append(out, check("login", false, "%v", err))
	}
	if kr != nil {
		if c, ok := Token(ctx, kr, server, d.Now()); ok {
			out = append(out, c)
		}
	}
	roles, checks, ok := LoginAndRoles(ctx, s)
	out = append(out, checks...)
	if !ok {
		return out
	}
	return append(out, AWSProfiles(d.Env, d.Executable, server, roles)...)
}

// KeyringRead times one read of the server's tokens.
func KeyringRead(ctx context.Context, kr Keyring, server string, now func() time.Time) Check {
	start := now()
	_, _, err := kr.GetTokens(ctx, server)
	took := now().Sub(start)
	if err != nil {
		return check("keyring", false, "backend %s: %v", kr.Backend(), err)
	}
	return check("keyring", true, "backend %s; one read took %s", kr.Backend(), took.Round(time.Microsecond))
}

// ServerAndClock asks the server's discovery document and compares its
// clock with ours, corrected by half the round trip; ok is false when the
// server did not answer.
func ServerAndClock(ctx context.Context, client *apiclient.Client, server string, now func() time.Time) (checks []Check, ok bool) {
	sent := now()
	d, err := client.Discovery(ctx)
	rtt := now().Sub(sent)
	if err != nil {
		return []Check{check("server", false, "%v", err)}, false
	}
	skew := now().Add(-rtt / 2).Sub(d.ServerTime)
	return []Check{
		check("server", true, "%s answers in %s (version %s; issuer %s)", server, rtt.Round(time.Millisecond), d.ServerVersion, d.Issuer),
		check("clock", skew.Abs() < 30*time.Second, "%s off the server's clock (tokens tolerate the server's clock_skew)", skew.Round(time.Millisecond)),
	}, true
}

// Token says how long the cached ID token is valid (ok false: none cached).
func Token(ctx context.Context, kr Keyring, server string, now time.Time) (Check, bool) {
	t, ok, _ := kr.GetTokens(ctx, server)
	if !ok {
		return Check{}, false
	}
	return check("token", true, "ID token for %s valid for %s (refresh token: %t)", t.Email, t.Expiry.Sub(now).Round(time.Second), t.RefreshToken != ""), true
}

// LoginAndRoles asks who the server sees and which roles they may request;
// ok is false when either call failed.
func LoginAndRoles(ctx context.Context, s *session.Session) (roles []api.Role, checks []Check, ok bool) {
	client, err := s.API()
	if err != nil {
		return nil, []Check{check("login", false, "%v", err)}, false
	}
	me, err := client.WhoAmI(ctx)
	if err != nil {
		return nil, []Check{check("login", false, "%v (run jit login)", err)}, false
	}
	checks = append(checks, check("login", true, "the server sees you as %s, groups %v", me.ID(), me.Groups))
	roles, err = client.Roles(ctx)
	if err != nil {
		return nil, append(checks, check("roles", false, "%v", err)), false
	}
	return roles, append(checks, check("roles", len(roles) > 0, "you may request %d role(s)", len(roles))), true
}

// AWSProfiles checks the AWS config has a jit profile per role, each
// running the credential_process program beside this jit.
func AWSProfiles(env func(string) string, executable func() (string, error), server string, roles []api.Role) []Check {
	path, err := awsconfig.DefaultPath(env)
	if err != nil {
		return []Check{check("aws", false, "%v", err)}
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return []Check{check("aws", false, "read %s: %v", path, err)}
	}
	exe, _ := executable()
	exe, direct := awsconfig.Locate(exe)
	profiles := make([]awsconfig.Profile, 0, len(roles))
	for _, r := range roles {
		profiles = append(profiles, awsconfig.Profile{Name: r.Name, Role: r.Name, Region: r.Region, Server: server, CredentialProcess: exe, Direct: direct})
	}
	var out []Check
	if stale := StaleProfiles(data, exe); stale != "" {
		out = append(out, check("aws-path", false, "%s: %s (run jit configure aws)", path, stale))
	}
	if _, changed, err := awsconfig.Plan(data, profiles); err != nil || changed {
		return append(out, check("aws", false, "%s does not match your roles (run jit configure aws --dry-run to see how)", path))
	}
	return append(out, check("aws", true, "%s has a profile for each of your roles", path))
}

// KeyringBuild says which keyring backend is in use and which this binary
// has, warns when the platform's own store (the Keychain on darwin, the
// Credential Manager on windows, Secret Service or keyctl on linux) was not
// compiled in, and fails a file backend that credential_process could not
// unlock (it never prompts, so the passphrase must come from the environment).
func KeyringBuild(goos string, compiled []string, inUse string, passphraseInEnv bool) []Check {
	var out []Check
	shown := inUse
	if shown == "" {
		shown = "none opened"
	}
	c := Check{Name: "backends", OK: true, Msg: fmt.Sprintf("in use: %s; compiled in: %s", shown, strings.Join(compiled, ", "))}
	if credcache.MissingNative(goos, compiled) {
		c.Warn = true
		c.Msg += fmt.Sprintf("; this build lacks %s's own store (%s), so jit falls back to %s: install a release build for %s",
			goos, strings.Join(credcache.NativeBackends(goos), " or "), shown, goos)
	}
	out = append(out, c)
	if inUse == credcache.BackendFile && !passphraseInEnv {
		out = append(out, Check{Name: "passphrase", OK: false, Msg: fmt.Sprintf(
			"the file keyring's passphrase has no non-interactive source, so credential_process (which never prompts) fails: "+
				"set JIT_FILE_PASSPHRASE where the AWS CLI runs, or pick the OS store with `keyring: %s` in the jit config, "+
				"JIT_KEYRING_BACKEND or --keyring", firstOr(credcache.NativeBackends(goos), credcache.BackendPass))})
	}
	return out
}

func firstOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return s[0]
}

// StaleProfiles names the jit profiles whose credential_process program is
// missing, not executable, or not the one beside this jit ("" when none).
func StaleProfiles(data []byte, want string) string {
	programs, err := awsconfig.Programs(data)
	if err != nil {
		return ""
	}
	names := make([]string, 0, len(programs))
	for name := range programs {
		names = append(names, name)
	}
	slices.Sort(names)
	var msgs []string
	for _, name := range names {
		if msg := awsconfig.StaleProgram(programs[name], want); msg != "" {
			msgs = append(msgs, "profile "+name+" "+msg)
		}
	}
	return strings.Join(msgs, "; ")
}

// Package doctor is `jit doctor`: checks that the server answers, the login
// is valid (and for how long), the keyring works (and how fast), the clock
// agrees with the server's, and the AWS profiles match the roles.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/approval"
	"github.com/jit-access/jit/pkg/awsconfig"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/credcache"
)

type check struct {
	name string
	ok   bool
	msg  string
	warn bool // ok, but worth acting on
}

// NewCmdDoctor builds `jit doctor`.
func NewCmdDoctor(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "doctor",
		Short:   "Check the server, your login, the keyring, the clock and your AWS profiles",
		GroupID: "admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			checks := run(cmd.Context(), f)
			failed := 0
			for _, c := range checks {
				mark := "ok  "
				switch {
				case !c.ok:
					mark = "FAIL"
					failed++
				case c.warn:
					mark = "WARN"
				}
				fmt.Fprintf(f.IO.Out, "%s %-10s %s\n", mark, c.name, c.msg)
			}
			if failed > 0 {
				return &cmdutil.StatusError{Code: cmdutil.ExitError}
			}
			return nil
		},
	}
}

func run(ctx context.Context, f *cmdutil.Factory) []check {
	var out []check
	add := func(name string, ok bool, format string, args ...any) {
		out = append(out, check{name: name, ok: ok, msg: fmt.Sprintf(format, args...)})
	}
	server, err := f.ServerURL()
	if err != nil {
		add("server", false, "%v", err)
		return out
	}
	cache, err := f.Cache()
	inUse := ""
	if err == nil {
		inUse = cache.Backend()
	}
	out = append(out, keyringBuildChecks(runtime.GOOS, credcache.CompiledBackends(), inUse, f.Env("JIT_FILE_PASSPHRASE") != "")...)
	if err != nil {
		add("keyring", false, "%v", err)
	} else {
		start := time.Now()
		_, _, err := cache.GetTokens(ctx, server)
		took := time.Since(start)
		if err != nil {
			add("keyring", false, "backend %s: %v", cache.Backend(), err)
		} else {
			add("keyring", true, "backend %s; one read took %s", cache.Backend(), took.Round(time.Microsecond))
		}
	}
	client, err := approval.New(server, f.HTTPClient(), nil)
	if err != nil {
		add("server", false, "%v", err)
		return out
	}
	sent := time.Now()
	d, err := client.Discovery(ctx)
	rtt := time.Since(sent)
	if err != nil {
		add("server", false, "%v", err)
		return out
	}
	add("server", true, "%s answers in %s (version %s; issuer %s)", server, rtt.Round(time.Millisecond), d.ServerVersion, d.Issuer)
	skew := f.Now().Add(-rtt / 2).Sub(d.ServerTime)
	add("clock", skew.Abs() < 30*time.Second, "%s off the server's clock (tokens tolerate the server's clock_skew)", skew.Round(time.Millisecond))

	s, err := f.Session()
	if err != nil {
		add("login", false, "%v", err)
		return out
	}
	if t, ok, _ := cache.GetTokens(ctx, server); ok {
		left := t.Expiry.Sub(f.Now())
		add("token", true, "ID token for %s valid for %s (refresh token: %t)", t.Email, left.Round(time.Second), t.RefreshToken != "")
	}
	api, err := s.API()
	if err != nil {
		add("login", false, "%v", err)
		return out
	}
	me, err := api.WhoAmI(ctx)
	if err != nil {
		add("login", false, "%v (run jit login)", err)
		return out
	}
	add("login", true, "the server sees you as %s, groups %v", me.ID(), me.Groups)
	roles, err := api.Roles(ctx)
	if err != nil {
		add("roles", false, "%v", err)
		return out
	}
	add("roles", len(roles) > 0, "you may request %d role(s)", len(roles))
	path, err := awsconfig.DefaultPath(f.Env)
	if err != nil {
		add("aws", false, "%v", err)
		return out
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		add("aws", false, "read %s: %v", path, err)
		return out
	}
	exe, _ := f.Executable()
	exe, direct := awsconfig.Locate(exe)
	profiles := make([]awsconfig.Profile, 0, len(roles))
	for _, r := range roles {
		profiles = append(profiles, awsconfig.Profile{Name: r.Name, Role: r.Name, Region: r.Region, Server: server, CredentialProcess: exe, Direct: direct})
	}
	if stale := staleProfiles(data, exe); stale != "" {
		add("aws-path", false, "%s: %s (run jit configure aws)", path, stale)
	}
	if _, changed, err := awsconfig.Plan(data, profiles); err != nil || changed {
		add("aws", false, "%s does not match your roles (run jit configure aws --dry-run to see how)", path)
	} else {
		add("aws", true, "%s has a profile for each of your roles", path)
	}
	return out
}

// keyringBuildChecks says which keyring backend is in use and which this
// binary has, warns when the platform's own store (the Keychain on darwin,
// the Credential Manager on windows, Secret Service or keyctl on linux) was
// not compiled in, and fails a file backend that credential_process could not
// unlock (it never prompts, so the passphrase must come from the environment).
func keyringBuildChecks(goos string, compiled []string, inUse string, passphraseInEnv bool) []check {
	var out []check
	shown := inUse
	if shown == "" {
		shown = "none opened"
	}
	c := check{name: "backends", ok: true, msg: fmt.Sprintf("in use: %s; compiled in: %s", shown, strings.Join(compiled, ", "))}
	if credcache.MissingNative(goos, compiled) {
		c.warn = true
		c.msg += fmt.Sprintf("; this build lacks %s's own store (%s), so jit falls back to %s: install a release build for %s",
			goos, strings.Join(credcache.NativeBackends(goos), " or "), shown, goos)
	}
	out = append(out, c)
	if inUse == credcache.BackendFile && !passphraseInEnv {
		out = append(out, check{name: "passphrase", ok: false, msg: fmt.Sprintf(
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

// staleProfiles names the jit profiles whose credential_process program is
// missing, not executable, or not the one beside this jit ("" when none).
func staleProfiles(data []byte, want string) string {
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

// Package tour is `jit dev --tour`: a scripted, narrated end-to-end run of
// the real jit binary as alice, bob and carol against the local sandbox
// (pkg/devenv). The steps are a table (steps.go); this file holds what they
// share: each person's isolated CLI environment, running jit, and narrating.
package tour

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/99designs/keyring"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/jit-access/jit/pkg/clienv"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/devenv"
)

// DefaultAWSCLI is Debian's AWS CLI v2; a pyenv v1 shim may come first on
// PATH, so the tour names it by path.
const DefaultAWSCLI = "/usr/bin/aws"

// Options configure Run. Zero values select the defaults.
type Options struct {
	// Jit is the jit binary the tour runs as each user (required; `jit dev`
	// passes its own executable).
	Jit string
	// AWSCLI is the AWS CLI [DefaultAWSCLI when it exists]; "-" uses no
	// CLI: the tour then calls credential-process and S3 itself.
	AWSCLI string
	// Out receives the narration.
	Out io.Writer
	// WorkDir holds each user's home, CLI config, keyring and AWS config
	// [StateDir/tour, emptied first].
	WorkDir string
	// ShortGrant is the length of the grant the tour watches end [20s].
	ShortGrant time.Duration
	// Now is the clock used to wait for the short grant's end [time.Now].
	Now func() time.Time
}

// Run is the scripted, narrated end-to-end run of `jit dev --tour` against
// sb: it drives the real jit binary as alice, bob and carol (each with an
// isolated CLI config, file keyring and AWS config) through login, an
// auto-approved grant used by the AWS CLI, an approval, a grant that ends and
// is refused, and the audit chain. It needs MinIO and returns the first
// failed step.
func Run(ctx context.Context, sb *devenv.Sandbox, opts Options) error {
	if sb.MinIOEndpoint == "" {
		return fmt.Errorf("the tour needs MinIO as STS and S3: %w", sb.MinIOMissing)
	}
	if opts.Jit == "" {
		return errors.New("tour: no jit binary given")
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.AWSCLI == "" {
		if _, err := os.Stat(DefaultAWSCLI); err == nil {
			opts.AWSCLI = DefaultAWSCLI
		}
	}
	if opts.AWSCLI == "-" {
		opts.AWSCLI = ""
	}
	if opts.WorkDir == "" {
		opts.WorkDir = filepath.Join(sb.StateDir, "tour")
		if err := os.RemoveAll(opts.WorkDir); err != nil {
			return fmt.Errorf("empty %s: %w", opts.WorkDir, err)
		}
	}
	if opts.ShortGrant <= 0 {
		opts.ShortGrant = 20 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// Cancelling on return ends any command still running in the
	// background (a `jit wait` after a failed step).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := &tour{sb: sb, opts: opts, out: opts.Out}
	return t.run(ctx)
}

type tour struct {
	sb   *devenv.Sandbox
	opts Options
	out  io.Writer

	// What the steps hand on to later steps.
	alice, bob, carol *tourUser
	readonlyID        string // alice's first readonly grant
	adminID           string // alice's admin request, approved by bob
	waiter            *background
	short             processCredentials // the short grant's credentials
}

// tourUser is one person's isolated CLI environment.
type tourUser struct {
	name string
	home string
	env  []string
}

func (t *tour) user(name string) (*tourUser, error) {
	home := filepath.Join(t.opts.WorkDir, name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("home for %s: %w", name, err)
	}
	// A throwaway keyring for a sandbox; no pager or colour in the narration.
	env := clienv.Env(home, t.sb.ServerURL, "jit-dev-tour-"+name, "AWS_PAGER=", "NO_COLOR=1")
	for _, k := range []string{"TZ", "LANG", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return &tourUser{name: name, home: home, env: env}, nil
}

func (t *tour) step(format string, args ...any) {
	fmt.Fprintf(t.out, "\n==> "+format+"\n", args...)
}

func (t *tour) say(format string, args ...any) {
	fmt.Fprintf(t.out, "    "+format+"\n", args...)
}

// show prints a command line and its trimmed output.
func (t *tour) show(u *tourUser, args []string, output string) {
	prog := "jit"
	if filepath.IsAbs(args[0]) {
		prog, args = args[0], args[1:]
	}
	fmt.Fprintf(t.out, "    [%s]$ %s\n", u.name, shellLine(prog, args))
	for _, line := range trimOutput(output, 14) {
		fmt.Fprintf(t.out, "      %s\n", line)
	}
}

// shellLine quotes the arguments that need it, so a command can be pasted.
func shellLine(prog string, args []string) string {
	parts := []string{prog}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$`\\*?;&|<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]")

// trimOutput keeps the first max non-empty lines, each at most 160
// characters, without terminal escapes.
func trimOutput(s string, max int) []string {
	s = ansi.ReplaceAllString(s, "")
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if i := strings.LastIndexByte(line, '\r'); i >= 0 {
			line = line[i+1:]
		}
		line = strings.TrimRight(line, " \t")
		if line == "" {
			continue
		}
		if len(out) == max {
			out = append(out, "…")
			break
		}
		if len(line) > 160 {
			line = line[:157] + "…"
		}
		out = append(out, line)
	}
	return out
}

// result is one finished command.
type result struct {
	stdout, stderr string
	code           int
}

// output is what a person would see: jit's messages (stderr) come before
// its data (stdout) in time, so they are shown first.
func (r result) output() string { return r.stderr + r.stdout }

// exec runs args (jit's unless args[0] is absolute) as u and shows it.
func (t *tour) exec(ctx context.Context, u *tourUser, args ...string) (result, error) {
	cmd := t.command(ctx, u, args)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	case err != nil:
		return r, fmt.Errorf("run %s: %w", cmd.Path, err)
	}
	return r, nil
}

// must runs and shows args and fails unless they exit 0.
func (t *tour) must(ctx context.Context, u *tourUser, args ...string) (result, error) {
	r, err := t.exec(ctx, u, args...)
	if err != nil {
		return r, err
	}
	t.show(u, args, r.output())
	if r.code != 0 {
		return r, fmt.Errorf("%s: `%s` exited %d", u.name, strings.Join(args, " "), r.code)
	}
	return r, nil
}

func (t *tour) command(ctx context.Context, u *tourUser, args []string) *exec.Cmd {
	bin := t.opts.Jit
	if filepath.IsAbs(args[0]) {
		bin, args = args[0], args[1:]
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = u.env
	cmd.Dir = u.home
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// background is a command running while the tour goes on.
type background struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
}

// start runs args as u and returns once a line of its stderr matches
// pattern (with the submatches), or fails when it exits first.
func (t *tour) start(ctx context.Context, u *tourUser, pattern *regexp.Regexp, args ...string) (*background, []string, error) {
	b := &background{cmd: t.command(ctx, u, args), done: make(chan struct{})}
	b.cmd.Stdout = &b.stdout
	pipe, err := b.cmd.StderrPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := b.cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("run %s: %w", b.cmd.Path, err)
	}
	matched := make(chan []string, 1)
	go func() {
		defer close(b.done)
		sc := bufio.NewScanner(pipe)
		sent := false
		for sc.Scan() {
			b.mu.Lock()
			b.stderr.WriteString(sc.Text() + "\n")
			b.mu.Unlock()
			if m := pattern.FindStringSubmatch(sc.Text()); m != nil && !sent {
				matched <- m
				sent = true
			}
		}
	}()
	select {
	case m := <-matched:
		return b, m, nil
	case <-b.done:
		_, _ = b.wait()
		return nil, nil, fmt.Errorf("%s: `jit %s` ended before printing %q:\n%s", u.name, strings.Join(args, " "), pattern, b.errText())
	case <-ctx.Done():
		_, _ = b.wait()
		return nil, nil, ctx.Err()
	}
}

func (b *background) errText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stderr.String()
}

func (b *background) wait() (result, error) {
	<-b.done
	err := b.cmd.Wait()
	r := result{stdout: b.stdout.String(), stderr: b.errText()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	case err != nil:
		return r, err
	}
	return r, nil
}

// login runs `jit login --no-browser` as u and signs in at the dev IdP the
// way a person would: it reads the URL the CLI printed and completes the
// provider's sign-in and consent pages (clienv.Login).
func (t *tour) login(ctx context.Context, u *tourUser) error {
	who, ok := t.sb.User(u.name)
	if !ok {
		return fmt.Errorf("no demo user %s", u.name)
	}
	args := []string{"login", "--no-browser"}
	res, err := clienv.Login(ctx, t.command(ctx, u, args), func(ctx context.Context, url string) error {
		if err := t.sb.IdP.CompleteDevice(ctx, url, who.Username, who.Password, true); err != nil {
			return fmt.Errorf("as %s at the dev IdP: %w", u.name, err)
		}
		return nil
	})
	if res.URL != "" {
		t.show(u, args, res.Stderr+res.Stdout)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", u.name, err)
	}
	t.say("(the tour signed in as %s at %s, as a person would in the browser)", u.name, res.URL)
	return nil
}

var requestID = regexp.MustCompile(`\breq_[0-9a-z]+\b`)

func firstID(r result) (string, error) {
	if id := requestID.FindString(r.stdout); id != "" {
		return id, nil
	}
	if id := requestID.FindString(r.stderr); id != "" {
		return id, nil
	}
	return "", fmt.Errorf("no request id in the output:\n%s", r.output())
}

// awsS3 runs an S3 command through the user's profile: the AWS CLI when
// there is one (credential_process = jit), else jit credential-process and
// the SDK.
func (t *tour) awsS3(ctx context.Context, u *tourUser, profile string, cliArgs []string, sdk func(context.Context, *s3.Client) (string, error)) error {
	if t.opts.AWSCLI != "" {
		args := append([]string{t.opts.AWSCLI, "--profile", profile, "--endpoint-url", t.sb.MinIOEndpoint, "--region", t.sb.Region}, cliArgs...)
		_, err := t.must(ctx, u, args...)
		return err
	}
	t.say("(no %s here: calling credential_process and S3 from Go instead)", DefaultAWSCLI)
	creds, err := t.credentialProcess(ctx, u, profile)
	if err != nil {
		return err
	}
	out, err := sdk(ctx, t.sb.S3Client(creds.provider()))
	if err != nil {
		return fmt.Errorf("S3 with the %s credentials: %w", profile, err)
	}
	for _, line := range trimOutput(out, 14) {
		fmt.Fprintf(t.out, "      %s\n", line)
	}
	return nil
}

// processCredentials is credential_process's JSON.
type processCredentials struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

func (c processCredentials) provider() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

// credentialProcess runs `jit credential-process --role ROLE` and shows its
// JSON with the secrets hidden.
func (t *tour) credentialProcess(ctx context.Context, u *tourUser, role string) (processCredentials, error) {
	args := []string{"credential-process", "--role", role}
	r, err := t.exec(ctx, u, args...)
	if err != nil {
		return processCredentials{}, err
	}
	var c processCredentials
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &c) != nil || c.AccessKeyID == "" {
		t.show(u, args, r.output())
		return c, fmt.Errorf("%s: `jit credential-process --role %s` exited %d without credentials", u.name, role, r.code)
	}
	t.show(u, args, fmt.Sprintf(`{"Version":%d,"AccessKeyId":%q,"SecretAccessKey":"(hidden)","SessionToken":"(hidden)","Expiration":%q}`,
		c.Version, c.AccessKeyID, c.Expiration.UTC().Format(time.RFC3339)))
	return c, nil
}

func listKeys(ctx context.Context, c *s3.Client, bucket string) (string, error) {
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, o := range out.Contents {
		fmt.Fprintf(&b, "%6d  %s\n", aws.ToInt64(o.Size), aws.ToString(o.Key))
	}
	return b.String(), nil
}

// hasCachedCredentials lists u's file keyring with the keyring library
// itself, so an item shows whether or not it has expired.
func (t *tour) hasCachedCredentials(u *tourUser, role string) (bool, error) {
	env := map[string]string{}
	for _, kv := range u.env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	kr, err := keyring.Open(keyring.Config{
		ServiceName: credcache.DefaultServiceName, AllowedBackends: []keyring.BackendType{keyring.FileBackend},
		FileDir: env["JIT_KEYRING_FILE_DIR"], FilePasswordFunc: keyring.FixedStringPrompt(env["JIT_FILE_PASSPHRASE"]),
	})
	if err != nil {
		return false, fmt.Errorf("open %s's keyring: %w", u.name, err)
	}
	key, err := credcache.CredentialsKey(t.sb.ServerURL, role)
	if err != nil {
		return false, err
	}
	keys, err := kr.Keys()
	if err != nil {
		return false, fmt.Errorf("list %s's keyring: %w", u.name, err)
	}
	return slices.Contains(keys, key), nil
}

// sleepUntil waits until the clock passes end, or ctx ends.
func (t *tour) sleepUntil(ctx context.Context, end time.Time) error {
	for {
		left := end.Sub(t.opts.Now())
		if left <= 0 {
			return nil
		}
		timer := time.NewTimer(min(left, time.Second))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

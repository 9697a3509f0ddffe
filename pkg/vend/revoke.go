package vend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// Revocation on AWS. Issued STS credentials cannot be revoked one by one, so
// a revocation is a Deny in the role's inline policy "jit-revocations" that
// matches the grant's sessions: by the session tag jit-request-id, and/or by
// aws:SourceIdentity with aws:TokenIssueTime before a time. IAM applies it
// to every request the matching sessions make once the policy change has
// propagated (IAM is eventually consistent: usually seconds). Each Deny also
// carries "aws:CurrentTime" < Until, the end of the longest session it could
// match, after which it is pruned on the next write.
const (
	RevocationPolicyName  = "jit-revocations"
	MaxInlinePolicyLength = 10240 // IAM's limit for a role's inline policies, whitespace excluded
	revokeSidPrefix       = "JitRevoke"
)

// RevokeClockSkew is added to a revocation's aws:TokenIssueTime cut-off
// (which is then rounded up to the next whole second): STS stamps a
// session's issue time with AWS's clock, which may run ahead of the jit
// server's. The Deny is keyed on the revoked grant's request tag too, so the
// margin can only catch more sessions of that grant, which is revoked.
const RevokeClockSkew = 5 * time.Second

// RevokeInput says which sessions to deny. Either RequestID (all sessions
// of the grant), or User and IssuedBefore (all of the user's sessions issued
// before that time), or both; Until is when the last such session expires.
// The role's name and account come from RoleARN only.
type RevokeInput struct {
	RoleARN      string
	RequestID    string
	User         string
	IssuedBefore time.Time
	Until        time.Time
}

// Revoker denies already-issued credentials before they expire.
type Revoker interface {
	Revoke(ctx context.Context, in RevokeInput) error
}

// RevokerRole is the role the server assumes in one AWS account to change
// its target roles' inline policies (docs/aws-setup.md#revocation-across-accounts).
type RevokerRole struct {
	RoleARN    string
	ExternalID string // optional sts:ExternalId
}

// CallerIdentity tells which AWS account the server's own credentials are
// in (sts:GetCallerIdentity); tests answer it themselves.
type CallerIdentity interface {
	CallerAccount(ctx context.Context) (string, error)
}

// IAMConfig configures the IAM revoker.
type IAMConfig struct {
	Region      string // IAM is global; "us-east-1" when empty
	Endpoint    string // optional custom IAM endpoint
	STSEndpoint string // optional custom STS endpoint for GetCallerIdentity and the revoker roles
	HTTPClient  *http.Client
	Credentials aws.CredentialsProvider // the server's own; nil: the SDK's default chain
	// Revokers maps an AWS account id to the role assumed there before
	// writing a Deny on one of its roles. Roles in the server's own account
	// need none (the server's credentials are used).
	Revokers map[string]RevokerRole
	// Identity answers the server's own account; nil: sts:GetCallerIdentity.
	Identity CallerIdentity
	// Lock serialises the read-modify-write of one role's policy across
	// replicas (store.Store.WithLock); nil: within this process only.
	Lock func(ctx context.Context, key string, fn func(ctx context.Context) error) error
	// Attempts bounds the read-merge-write-confirm rounds when another
	// writer changed the policy in between [5].
	Attempts int
	// RetryDelay is the wait before the second round, growing linearly
	// after; IAM is eventually consistent, so a read-back right after a
	// write may still show the old policy [500ms].
	RetryDelay time.Duration
	// Now is the clock used to prune expired entries; time.Now when nil.
	Now func() time.Time
}

// IAMRevoker writes revocations into the role's jit-revocations inline
// policy, in the role's own account: through the account's revoker role, or
// with the server's credentials when the role is in the server's account.
//
// IAM has no conditional write, so Revoke reads, merges and writes under
// cfg.Lock (a PostgreSQL advisory lock keyed on the role ARN: replicas take
// turns), then reads the policy back and starts over if the Deny is not
// there (someone else wrote in between). It returns nil only once IAM has
// returned the Deny from the role named by the ARN, in the ARN's account.
type IAMRevoker struct {
	cfg      IAMConfig
	region   string
	creds    aws.CredentialsProvider
	sts      *sts.Client
	identity CallerIdentity
	now      func() time.Time
	endpoint string

	mu       sync.Mutex // guards self and accounts
	self     string
	accounts map[string]*iamAccount

	local sync.Mutex // the lock when cfg.Lock is nil
}

// iamAccount is the IAM client for one account.
type iamAccount struct {
	iam *iam.Client
}

var _ Revoker = (*IAMRevoker)(nil)

// NewIAMRevoker builds an IAM revoker. With no Credentials it loads the SDK's
// default configuration (files and environment only; no network call).
func NewIAMRevoker(cfg IAMConfig) (*IAMRevoker, error) {
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	creds := cfg.Credentials
	if creds == nil {
		awsCfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region))
		if err != nil {
			return nil, fmt.Errorf("load aws configuration: %w", err)
		}
		creds = awsCfg.Credentials
	}
	for _, ep := range []string{cfg.Endpoint, cfg.STSEndpoint} {
		if ep != "" && !strings.HasPrefix(ep, "https://") && !strings.HasPrefix(ep, "http://") {
			return nil, fmt.Errorf("endpoint %q: want an http(s) URL", ep)
		}
	}
	for account, rr := range cfg.Revokers {
		if got := AccountFromARN(rr.RoleARN); got != account {
			return nil, fmt.Errorf("revoker for account %s: role %q is in account %q", account, rr.RoleARN, got)
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 500 * time.Millisecond
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "iam.amazonaws.com"
	}
	stsOpts := sts.Options{Region: region, Credentials: creds, HTTPClient: cfg.HTTPClient}
	if cfg.STSEndpoint != "" {
		stsOpts.BaseEndpoint = aws.String(cfg.STSEndpoint)
	}
	r := &IAMRevoker{cfg: cfg, region: region, creds: aws.NewCredentialsCache(creds), sts: sts.New(stsOpts),
		identity: cfg.Identity, now: cfg.Now, endpoint: endpoint, accounts: map[string]*iamAccount{}}
	if r.identity == nil {
		r.identity = stsIdentity{r.sts}
	}
	return r, nil
}

type stsIdentity struct{ c *sts.Client }

func (s stsIdentity) CallerAccount(ctx context.Context) (string, error) {
	out, err := s.c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Account), nil
}

// ServerAccount is the account of the server's own credentials, asked once.
func (r *IAMRevoker) ServerAccount(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.self != "" {
		return r.self, nil
	}
	account, err := r.identity.CallerAccount(ctx)
	if err != nil {
		return "", classify(fmt.Errorf("learn the server's AWS account (sts:GetCallerIdentity): %w", err), r.endpoint)
	}
	if !accountRE.MatchString(account) {
		return "", fmt.Errorf("sts:GetCallerIdentity answered account %q, not a 12-digit id", account)
	}
	r.self = account
	return account, nil
}

// CheckRoles refuses roles the revoker could not write a Deny on: those
// whose account has no revoker role and is not the server's own account.
// The server calls it at start and on every policy reload.
func (r *IAMRevoker) CheckRoles(ctx context.Context, roleARNs map[string]string) error {
	var self string
	var errs []error
	for name, arn := range roleARNs {
		account := AccountFromARN(arn)
		if _, ok := r.cfg.Revokers[account]; ok {
			continue
		}
		if self == "" {
			var err error
			if self, err = r.ServerAccount(ctx); err != nil {
				return err
			}
		}
		if account != self {
			errs = append(errs, fmt.Errorf("role %s (%s): aws.revoke_with_inline_policy needs a revoker in account %s, "+
				"which is not the server's own account %s; add aws.revokers.%q.role_arn (docs/aws-setup.md#revocation-across-accounts)",
				name, arn, account, self, account))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// CanRevoke checks, without writing, that a revocation on roleARN could be
// written: it reaches the role's account (through the account's revoker
// role, or with the server's credentials in its own account) and reads the
// role's jit-revocations policy (none is fine). iam:PutRolePolicy itself is
// not tried: only a real revocation writes.
func (r *IAMRevoker) CanRevoke(ctx context.Context, roleARN string) error {
	roleName, account := RoleNameFromARN(roleARN), AccountFromARN(roleARN)
	if roleName == "" || account == "" {
		return &Error{Kind: KindInvalidInput, Err: fmt.Errorf("%q is not an IAM role ARN", roleARN)}
	}
	c, err := r.client(ctx, account)
	if err != nil {
		return err
	}
	_, err = r.get(ctx, c, roleName)
	return err
}

// client returns the IAM client acting in account.
func (r *IAMRevoker) client(ctx context.Context, account string) (*iamAccount, error) {
	r.mu.Lock()
	c, ok := r.accounts[account]
	r.mu.Unlock()
	if ok {
		return c, nil
	}
	var creds aws.CredentialsProvider
	if rr, ok := r.cfg.Revokers[account]; ok {
		creds = aws.NewCredentialsCache(&revokerCredentials{sts: r.sts, role: rr, account: account},
			func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = time.Minute }) // never sign with a session about to end
	} else {
		self, err := r.ServerAccount(ctx)
		if err != nil {
			return nil, err
		}
		if account != self {
			return nil, &Error{Kind: KindAccessDenied,
				Err:  fmt.Errorf("no revoker role for account %s (the server's own account is %s)", account, self),
				Hint: fmt.Sprintf("add aws.revokers.%q.role_arn to the server config (docs/aws-setup.md#revocation-across-accounts)", account)}
		}
		creds = r.creds
	}
	opts := iam.Options{Region: r.region, Credentials: creds, HTTPClient: r.cfg.HTTPClient}
	if r.cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(r.cfg.Endpoint)
	}
	c = &iamAccount{iam: iam.New(opts)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.accounts[account]; ok {
		return prev, nil
	}
	r.accounts[account] = c
	return c, nil
}

// revokerCredentials assumes an account's revoker role, and refuses
// credentials STS issued in any other account.
type revokerCredentials struct {
	sts     *sts.Client
	role    RevokerRole
	account string
}

func (p *revokerCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	in := &sts.AssumeRoleInput{RoleArn: aws.String(p.role.RoleARN), RoleSessionName: aws.String("jit-revoker"),
		DurationSeconds: aws.Int32(int32(MinSessionDuration / time.Second))}
	if p.role.ExternalID != "" {
		in.ExternalId = aws.String(p.role.ExternalID)
	}
	out, err := p.sts.AssumeRole(ctx, in)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("assume revoker role %s: %w", p.role.RoleARN, err)
	}
	c := out.Credentials
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.SessionToken == nil || c.Expiration == nil || out.AssumedRoleUser == nil {
		return aws.Credentials{}, fmt.Errorf("assume revoker role %s: sts returned incomplete credentials", p.role.RoleARN)
	}
	if got := AccountFromARN(aws.ToString(out.AssumedRoleUser.Arn)); got != p.account {
		return aws.Credentials{}, fmt.Errorf("assume revoker role %s: sts answered a session in account %q, not %s", p.role.RoleARN, got, p.account)
	}
	return aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken,
		Source: "jit-revoker", CanExpire: true, Expires: *c.Expiration}, nil
}

// Revoke adds a Deny for in's sessions to the role's jit-revocations policy,
// in the role's own account, pruning entries whose Until has passed.
// Revoking the same thing twice keeps one entry (with the later Until). It
// refuses, with KindPolicyTooLarge, rather than write a policy over IAM's
// 10,240 characters. A nil error means IAM returned the Deny on read-back.
func (r *IAMRevoker) Revoke(ctx context.Context, in RevokeInput) error {
	roleName, account := RoleNameFromARN(in.RoleARN), AccountFromARN(in.RoleARN)
	if roleName == "" || account == "" {
		return &Error{Kind: KindInvalidInput, Err: fmt.Errorf("revoke: %q is not an IAM role ARN", in.RoleARN)}
	}
	if in.Until.IsZero() {
		return &Error{Kind: KindInvalidInput, Err: errors.New("revoke: Until (the end of the longest session) is required")}
	}
	if in.RequestID == "" && (in.User == "" || in.IssuedBefore.IsZero()) {
		return &Error{Kind: KindInvalidInput, Err: errors.New("revoke: a request id, or a user and an issued-before time, is required")}
	}
	c, err := r.client(ctx, account)
	if err != nil {
		return err
	}
	return r.lock(ctx, RevocationPolicyName+":"+in.RoleARN, func(ctx context.Context) error {
		var last error
		for attempt := 0; attempt < r.cfg.Attempts; attempt++ {
			if attempt > 0 {
				t := time.NewTimer(time.Duration(attempt) * r.cfg.RetryDelay)
				select {
				case <-ctx.Done():
					t.Stop()
					return fmt.Errorf("revoke on role %s: %w", in.RoleARN, ctx.Err())
				case <-t.C:
				}
			}
			done, err := r.revokeOnce(ctx, c, roleName, in)
			if err != nil || done {
				return err
			}
			last = fmt.Errorf("the Deny was not in the %s policy of role %s when read back (another writer changed it)", RevocationPolicyName, in.RoleARN)
		}
		return &Error{Kind: KindOther, Err: fmt.Errorf("revoke on role %s after %d attempts: %w", in.RoleARN, r.cfg.Attempts, last),
			Hint: "something else keeps rewriting the role's jit-revocations policy; only jit should write it"}
	})
}

func (r *IAMRevoker) lock(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	if r.cfg.Lock != nil {
		return r.cfg.Lock(ctx, key, fn)
	}
	r.local.Lock()
	defer r.local.Unlock()
	return fn(ctx)
}

// revokeOnce reads, merges, writes and reads back; done reports that the
// Deny is confirmed (or that nothing was left to deny).
func (r *IAMRevoker) revokeOnce(ctx context.Context, c *iamAccount, roleName string, in RevokeInput) (done bool, err error) {
	now := r.now()
	current, err := r.get(ctx, c, roleName)
	if err != nil {
		return false, err
	}
	doc, err := MergeRevocation(current, in, now)
	if err != nil {
		return false, fmt.Errorf("revoke on role %s: %w", in.RoleARN, err)
	}
	if doc == "" {
		// in's sessions are all over, and so is every other entry.
		if current != "" {
			if _, err := c.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(roleName), PolicyName: aws.String(RevocationPolicyName)}); err != nil && !isNoSuchEntity(err) {
				return false, classify(fmt.Errorf("delete %s policy of role %s: %w", RevocationPolicyName, in.RoleARN, err), r.endpoint)
			}
		}
		return true, nil
	}
	want, err := deniedBy(doc, revocationSid(in))
	if err != nil {
		return false, err
	}
	if doc != current {
		if _, err := c.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(roleName),
			PolicyName: aws.String(RevocationPolicyName), PolicyDocument: aws.String(doc)}); err != nil {
			return false, classify(fmt.Errorf("put %s policy on role %s: %w", RevocationPolicyName, in.RoleARN, err), r.endpoint)
		}
	}
	if want == "" {
		return true, nil // in's sessions are over already: nothing to confirm
	}
	back, err := r.get(ctx, c, roleName)
	if err != nil {
		return false, fmt.Errorf("read back: %w", err)
	}
	got, err := deniedBy(back, revocationSid(in))
	return err == nil && got != "" && got >= want, nil
}

// deniedBy returns the aws:CurrentTime end of the statement sid in doc, ""
// when absent.
func deniedBy(doc, sid string) (string, error) {
	if doc == "" {
		return "", nil
	}
	var p struct {
		Statement []struct {
			Sid       string
			Effect    string
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return "", fmt.Errorf("parse %s policy: %w", RevocationPolicyName, err)
	}
	for _, s := range p.Statement {
		if s.Sid == sid && s.Effect == "Deny" {
			return s.Condition["DateLessThan"]["aws:CurrentTime"], nil
		}
	}
	return "", nil
}

func isNoSuchEntity(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchEntity"
}

// get returns the role's current jit-revocations document ("" when none).
func (r *IAMRevoker) get(ctx context.Context, c *iamAccount, roleName string) (string, error) {
	out, err := c.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(roleName), PolicyName: aws.String(RevocationPolicyName)})
	if isNoSuchEntity(err) {
		return "", nil
	}
	if err != nil {
		return "", classify(fmt.Errorf("get %s policy of role %s: %w", RevocationPolicyName, roleName, err), r.endpoint)
	}
	if got := aws.ToString(out.RoleName); got != roleName {
		return "", fmt.Errorf("get %s policy of role %s: IAM answered for role %q", RevocationPolicyName, roleName, got)
	}
	// IAM returns the document URL-encoded (RFC 3986); the SDK leaves it so.
	doc, err := url.PathUnescape(aws.ToString(out.PolicyDocument))
	if err != nil {
		return "", fmt.Errorf("decode %s policy of role %s: %w", RevocationPolicyName, roleName, err)
	}
	return doc, nil
}

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

// AccountFromARN returns an IAM or STS ARN's 12-digit account id, "" when
// there is none.
func AccountFromARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !accountRE.MatchString(parts[4]) {
		return ""
	}
	return parts[4]
}

// RoleNameFromARN returns the role's name (the ARN's last path segment).
func RoleNameFromARN(arn string) string {
	_, res, ok := strings.Cut(arn, ":role/")
	if !ok {
		return ""
	}
	return res[strings.LastIndex(res, "/")+1:]
}

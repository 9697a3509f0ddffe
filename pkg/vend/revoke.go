package vend

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
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

// RevokeInput says which sessions to deny. Either RequestID (all sessions
// of the grant), or User and IssuedBefore (all of the user's sessions issued
// before that time), or both; Until is when the last such session expires.
type RevokeInput struct {
	RoleARN      string
	RoleName     string // derived from RoleARN when empty
	RequestID    string
	User         string
	IssuedBefore time.Time
	Until        time.Time
}

// Revoker denies already-issued credentials before they expire.
type Revoker interface {
	Revoke(ctx context.Context, in RevokeInput) error
}

// IAMConfig configures the IAM revoker.
type IAMConfig struct {
	Region      string // IAM is global; "us-east-1" when empty
	Endpoint    string // optional custom IAM endpoint
	HTTPClient  *http.Client
	Credentials aws.CredentialsProvider // nil: the SDK's default chain
	// Now is the clock used to prune expired entries; time.Now when nil.
	Now func() time.Time
}

// IAMRevoker writes revocations into the role's jit-revocations inline policy.
//
// IAM has no conditional write, so Revoke reads, merges and writes under a
// lock: revocations from one jit server do not lose each other, but two
// servers revoking on the same role at the same moment could.
type IAMRevoker struct {
	client   *iamQuery
	now      func() time.Time
	endpoint string
	mu       sync.Mutex
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
	endpoint := "https://iam.amazonaws.com"
	if cfg.Endpoint != "" {
		if !strings.HasPrefix(cfg.Endpoint, "https://") && !strings.HasPrefix(cfg.Endpoint, "http://") {
			return nil, fmt.Errorf("iam endpoint %q: want an http(s) URL", cfg.Endpoint)
		}
		endpoint = strings.TrimRight(cfg.Endpoint, "/")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	client := &iamQuery{endpoint: endpoint, region: region, credentials: aws.NewCredentialsCache(creds), http: hc, now: now, signer: v4.NewSigner()}
	return &IAMRevoker{client: client, now: now, endpoint: endpoint}, nil
}

// Revoke adds a Deny for in's sessions to the role's jit-revocations policy,
// pruning entries whose Until has passed. Revoking the same thing twice keeps
// one entry (with the later Until). It refuses, with KindPolicyTooLarge,
// rather than write a policy over IAM's 10,240 characters.
func (r *IAMRevoker) Revoke(ctx context.Context, in RevokeInput) error {
	roleName := in.RoleName
	if roleName == "" {
		roleName = RoleNameFromARN(in.RoleARN)
	}
	if roleName == "" {
		return &Error{Kind: KindInvalidInput, Err: fmt.Errorf("revoke: no role name in %q", in.RoleARN)}
	}
	if in.Until.IsZero() {
		return &Error{Kind: KindInvalidInput, Err: errors.New("revoke: Until (the end of the longest session) is required")}
	}
	if in.RequestID == "" && (in.User == "" || in.IssuedBefore.IsZero()) {
		return &Error{Kind: KindInvalidInput, Err: errors.New("revoke: a request id, or a user and an issued-before time, is required")}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	current, err := r.get(ctx, roleName)
	if err != nil {
		return err
	}
	doc, err := MergeRevocation(current, in, now)
	if err != nil {
		return fmt.Errorf("revoke on role %s: %w", roleName, err)
	}
	if doc == current {
		return nil
	}
	if doc == "" {
		if err := r.client.deleteRolePolicy(ctx, roleName, RevocationPolicyName); err != nil {
			return classify(fmt.Errorf("delete %s policy of role %s: %w", RevocationPolicyName, roleName, err), r.endpoint)
		}
		return nil
	}
	if err := r.client.putRolePolicy(ctx, roleName, RevocationPolicyName, doc); err != nil {
		return classify(fmt.Errorf("put %s policy on role %s: %w", RevocationPolicyName, roleName, err), r.endpoint)
	}
	return nil
}

// get returns the role's current jit-revocations document ("" when none).
func (r *IAMRevoker) get(ctx context.Context, roleName string) (string, error) {
	encoded, err := r.client.getRolePolicy(ctx, roleName, RevocationPolicyName)
	var apiErr *iamAPIError
	if errors.As(err, &apiErr) && apiErr.Code == "NoSuchEntity" {
		return "", nil
	}
	if err != nil {
		return "", classify(fmt.Errorf("get %s policy of role %s: %w", RevocationPolicyName, roleName, err), r.endpoint)
	}
	// IAM returns the document URL-encoded (RFC 3986); the SDK leaves it so.
	doc, err := url.PathUnescape(encoded)
	if err != nil {
		return "", fmt.Errorf("decode %s policy of role %s: %w", RevocationPolicyName, roleName, err)
	}
	return doc, nil
}

// RoleNameFromARN returns the role's name (the ARN's last path segment).
func RoleNameFromARN(arn string) string {
	_, res, ok := strings.Cut(arn, ":role/")
	if !ok {
		return ""
	}
	return res[strings.LastIndex(res, "/")+1:]
}

// MergeRevocation returns current (a jit-revocations policy document, ""
// for none) with a Deny for in added and jit's entries whose Until is not
// after now removed. Statements jit did not write are kept. It returns ""
// when nothing is left, and an *Error of KindPolicyTooLarge when the result
// would exceed IAM's limit.
func MergeRevocation(current string, in RevokeInput, now time.Time) (string, error) {
	var stmts []json.RawMessage
	if strings.TrimSpace(current) != "" {
		var doc struct {
			Statement json.RawMessage `json:"Statement"`
		}
		if err := json.Unmarshal([]byte(current), &doc); err != nil {
			return "", fmt.Errorf("parse %s policy: %w", RevocationPolicyName, err)
		}
		if t := bytes.TrimSpace(doc.Statement); len(t) > 0 && t[0] == '{' {
			stmts = []json.RawMessage{t}
		} else if len(t) > 0 {
			if err := json.Unmarshal(t, &stmts); err != nil {
				return "", fmt.Errorf("parse %s policy statements: %w", RevocationPolicyName, err)
			}
		}
	}

	sid := revocationSid(in)
	until := in.Until.UTC().Truncate(time.Second)
	if !in.Until.Equal(until) {
		until = until.Add(time.Second) // round up: never end a Deny early
	}
	var kept []json.RawMessage
	for _, raw := range stmts {
		var s struct {
			Sid       string
			Condition map[string]map[string]string
		}
		if json.Unmarshal(raw, &s) != nil || !strings.HasPrefix(s.Sid, revokeSidPrefix) {
			kept = append(kept, raw) // not ours: keep as is
			continue
		}
		end, err := time.Parse(time.RFC3339, s.Condition["DateLessThan"]["aws:CurrentTime"])
		if err != nil || !end.After(now) {
			continue // expired (or unreadable): no session it matches can still be valid
		}
		if s.Sid == sid {
			until = maxTime(until, end) // same revocation again: keep the later end
			continue
		}
		kept = append(kept, raw)
	}
	if until.After(now) {
		cond := map[string]map[string]string{
			"DateLessThan": {"aws:CurrentTime": until.Format(time.RFC3339)},
		}
		eq := map[string]string{}
		if in.RequestID != "" {
			eq["aws:PrincipalTag/"+TagRequestID] = TagValue(in.RequestID)
		}
		if in.User != "" {
			eq["aws:SourceIdentity"] = SourceIdentity(in.User)
		}
		cond["StringEquals"] = eq
		if !in.IssuedBefore.IsZero() {
			cond["DateLessThan"]["aws:TokenIssueTime"] = in.IssuedBefore.UTC().Format(time.RFC3339)
		}
		deny, err := json.Marshal(statement{Sid: sid, Effect: "Deny", Action: "*", Resource: "*", Condition: cond})
		if err != nil {
			return "", err
		}
		kept = append(kept, deny)
	}
	if len(kept) == 0 {
		return "", nil
	}
	// Oldest-expiring first, so the document reads like a queue.
	slices.SortStableFunc(kept, func(a, b json.RawMessage) int { return revocationEnd(a).Compare(revocationEnd(b)) })
	raw, err := json.Marshal(struct {
		Version   string            `json:"Version"`
		Statement []json.RawMessage `json:"Statement"`
	}{"2012-10-17", kept})
	if err != nil {
		return "", err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return "", err
	}
	if n := compact.Len(); n > MaxInlinePolicyLength {
		return "", &Error{Kind: KindPolicyTooLarge,
			Err: fmt.Errorf("%s policy would be %d characters, over IAM's limit of %d (%d live revocations)",
				RevocationPolicyName, n, MaxInlinePolicyLength, len(kept)),
			Hint: fmt.Sprintf("entries expire by themselves, the first at %s; until then revoke by user "+
				"(one entry for all their grants) or lower the role's maximum session duration",
				revocationEnd(kept[0]).Format(time.RFC3339))}
	}
	return compact.String(), nil
}

// revocationSid names an entry by what it matches, so that revoking the
// same thing twice replaces the entry. Sids allow [A-Za-z0-9] only.
func revocationSid(in RevokeInput) string {
	key := in.RequestID + "\x00" + in.User + "\x00"
	if !in.IssuedBefore.IsZero() {
		key += in.IssuedBefore.UTC().Format(time.RFC3339)
	}
	sum := sha256.Sum256([]byte(key))
	return revokeSidPrefix + hex.EncodeToString(sum[:10])
}

// revocationEnd reads an entry's Until; zero for statements jit did not write.
func revocationEnd(raw json.RawMessage) time.Time {
	var s struct {
		Condition map[string]map[string]string
	}
	if json.Unmarshal(raw, &s) != nil {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339, s.Condition["DateLessThan"]["aws:CurrentTime"])
	return t
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

package vend

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/text/unicode/norm"
)

// STS limits (AWS IAM and STS quotas).
const (
	MinSessionDuration     = 900 * time.Second
	DefaultMaxSession      = time.Hour
	MaxSessionPolicyLength = 2048 // characters of the plain-text session policy, whitespace removed
	maxSessionNameLength   = 64
	maxTagValueLength      = 256

	// TagRequestID and TagUser are the session tags every vend sets. The
	// revocation Deny (revoke.go) keys on aws:PrincipalTag/jit-request-id.
	TagRequestID = "jit-request-id"
	TagUser      = "jit-user"
)

// STSConfig configures the STS vendor.
type STSConfig struct {
	// Region is the STS region; "us-east-1" when empty and not found in the
	// default configuration.
	Region string
	// Endpoint is an optional custom STS endpoint (e.g. MinIO's URL).
	Endpoint string
	// HTTPClient is the client for STS calls; nil means the SDK's default.
	HTTPClient *http.Client
	// Credentials are the jit server's own credentials; nil means the SDK's
	// default chain (environment, shared config, IMDS, …).
	Credentials aws.CredentialsProvider
	// DenyActions are the actions of the session policy's time-bound Deny;
	// nil means ["*"], which is what AWS needs to stop everything at the
	// grant's end.
	//
	// MinIO differs: it accepts Allow "*" in a session policy but refuses a
	// Deny with Action "*" and an aws:CurrentTime condition ("unsupported
	// condition keys '[aws:CurrentTime]' used for action '*'"); it enforces
	// the same Deny on "s3:*". So against MinIO use []string{"s3:*"}.
	DenyActions []string
}

// STS vends credentials with sts:AssumeRole.
type STS struct {
	client      assumeRoler
	endpoint    string
	denyActions []string
}

// assumeRoler is the one STS call the vendor needs.
type assumeRoler interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

var _ Vendor = (*STS)(nil)

// NewSTS builds an STS vendor. With no Credentials it loads the SDK's default
// configuration (files and environment only; no network call here).
func NewSTS(cfg STSConfig) (*STS, error) {
	opts := sts.Options{
		Region:      cfg.Region,
		Credentials: cfg.Credentials,
	}
	if cfg.Credentials == nil {
		var loadOpts []func(*config.LoadOptions) error
		if cfg.Region != "" {
			loadOpts = append(loadOpts, config.WithRegion(cfg.Region))
		}
		// Loading reads files and the environment only.
		awsCfg, err := config.LoadDefaultConfig(context.Background(), loadOpts...)
		if err != nil {
			return nil, fmt.Errorf("load aws configuration: %w", err)
		}
		opts.Credentials = awsCfg.Credentials
		if opts.Region == "" {
			opts.Region = awsCfg.Region
		}
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if cfg.Endpoint != "" {
		if !strings.HasPrefix(cfg.Endpoint, "https://") && !strings.HasPrefix(cfg.Endpoint, "http://") {
			return nil, fmt.Errorf("sts endpoint %q: want an http(s) URL", cfg.Endpoint)
		}
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	}
	deny := cfg.DenyActions
	if len(deny) == 0 {
		deny = []string{"*"}
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "sts." + opts.Region + ".amazonaws.com"
	}
	return &STS{client: sts.New(opts), endpoint: endpoint, denyActions: deny}, nil
}

// Vend assumes in.RoleARN for in.User, bounded to the grant's end.
func (s *STS) Vend(ctx context.Context, in Input, now time.Time) (Credentials, error) {
	if in.RoleARN == "" || in.RequestID == "" || in.User == "" {
		return Credentials{}, &Error{Kind: KindInvalidInput, Err: errors.New("role ARN, request id and user are required")}
	}
	if !now.Before(in.GrantEndsAt) {
		return Credentials{}, &Error{Kind: KindInvalidInput,
			Err:  fmt.Errorf("grant ended at %s", in.GrantEndsAt.UTC().Format(time.RFC3339)),
			Hint: "request the role again"}
	}
	policy, err := SessionPolicy(in.SessionPolicy, in.GrantEndsAt, s.denyActions)
	if err != nil {
		return Credentials{}, err
	}
	out, err := s.client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(in.RoleARN),
		RoleSessionName: aws.String(RoleSessionName(in.User)),
		SourceIdentity:  aws.String(SourceIdentity(in.User)),
		DurationSeconds: aws.Int32(DurationSeconds(in.GrantEndsAt.Sub(now), in.MaxSessionDuration)),
		Policy:          aws.String(policy),
		Tags:            sessionTags(in),
	})
	if err != nil {
		return Credentials{}, classify(fmt.Errorf("assume role %s: %w", in.RoleARN, err), s.endpoint)
	}
	c := out.Credentials
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.SessionToken == nil || c.Expiration == nil {
		return Credentials{}, &Error{Kind: KindOther, Err: fmt.Errorf("assume role %s: sts returned incomplete credentials", in.RoleARN)}
	}
	return Credentials{
		AccessKeyID:     *c.AccessKeyId,
		SecretAccessKey: *c.SecretAccessKey,
		SessionToken:    *c.SessionToken,
		Expiration:      c.Expiration.UTC(),
	}, nil
}

// DurationSeconds is the DurationSeconds for a grant with remaining time
// left: the remaining time rounded up to a second, at least 900 s (STS's
// minimum; the session policy ends shorter grants) and at most the role's
// maximum (1 h when roleMax is zero).
func DurationSeconds(remaining, roleMax time.Duration) int32 {
	if roleMax <= 0 {
		roleMax = DefaultMaxSession
	}
	limit := max(int64(roleMax/time.Second), int64(MinSessionDuration/time.Second))
	need := int64((remaining + time.Second - 1) / time.Second)
	need = max(need, int64(MinSessionDuration/time.Second))
	return int32(min(need, limit))
}

// RoleSessionName maps a user to STS's RoleSessionName with the same
// mapping as SourceIdentity.
func RoleSessionName(user string) string { return stsIdentifier(user) }

// SourceIdentity maps a user to STS's SourceIdentity (what CloudTrail shows
// as the acting person, through any later role chaining): the characters
// [\w+=,.@-], 2 to 64 of them. The mapping never sends two users to one
// value (docs/aws-setup.md#what-cloudtrail-shows):
//
//   - a user already in that form, 2 to 64 characters long, and not ending
//     in "-" and 16 lowercase hex digits, is kept as is;
//   - anyone else is transliterated (NFKD, marks dropped, ß→ss, æ→ae, ø→o,
//     …; any other character becomes '-'), cut to 47 characters, and given
//     the suffix "-" + the first 16 hex digits of the SHA-256 of the full
//     user, so jörg@… and jürg@… (both "jorg"/"jurg" with different
//     hashes), or two long names sharing their first 64 characters, differ.
//
// Kept values cannot end like a hashed one, so the two kinds never meet.
func SourceIdentity(user string) string { return stsIdentifier(user) }

// 16 hex digits (64 bits): with 8, two chosen names that transliterate
// alike (all non-Latin) collided after about 2^16 tries.
const identityHashLen = 16 // hex digits of SHA-256 appended when the mapping loses information

var hashSuffixRE = regexp.MustCompile(`-[0-9a-f]{16}$`)

func stsIdentifier(s string) string {
	if len(s) >= 2 && len(s) <= maxSessionNameLength && isSTSIdentifier(s) && !hashSuffixRE.MatchString(s) {
		return s
	}
	base := transliterate(s)
	if len(base) > maxSessionNameLength-1-identityHashLen {
		base = base[:maxSessionNameLength-1-identityHashLen]
	}
	sum := sha256.Sum256([]byte(s))
	return base + "-" + hex.EncodeToString(sum[:])[:identityHashLen]
}

func isSTSIdentifier(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := rune(s[i]); !isWord(c) && !strings.ContainsRune("+=,.@-", c) {
			return false
		}
	}
	return true
}

// special are letters NFKD does not decompose into a base letter and marks.
var special = map[rune]string{
	'ß': "ss", 'ẞ': "SS", 'æ': "ae", 'Æ': "AE", 'œ': "oe", 'Œ': "OE", 'ø': "o", 'Ø': "O",
	'đ': "d", 'Đ': "D", 'ð': "d", 'Ð': "D", 'þ': "th", 'Þ': "TH", 'ł': "l", 'Ł': "L", 'ı': "i", 'ħ': "h", 'Ħ': "H",
}

// transliterate returns s in STS's character set: NFKD with the combining
// marks dropped, a few letters spelled out, anything else as '-'.
func transliterate(s string) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(strings.ToValidUTF8(s, "\uFFFD")) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// a combining mark: dropped (ö → o)
		case r < utf8.RuneSelf && (isWord(r) || strings.ContainsRune("+=,.@-", r)):
			b.WriteRune(r)
		case special[r] != "":
			b.WriteString(special[r])
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// TagValue sanitises a session tag value: letters, digits, space and
// _ . : / = + - @ (ASCII, so IAM and MinIO agree), at most 256 characters.
// A value the mapping changes or cuts (jörg and jürg both became "j_rg")
// gets a 16-hex SHA-256 suffix of the original, as SourceIdentity does, so
// two names never share a tag; so does a value that already ends like one.
func TagValue(s string) string {
	var b strings.Builder
	lossy := false
	for _, r := range s {
		if isWord(r) || strings.ContainsRune(" .:/=+-@", r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
			lossy = true
		}
	}
	out := b.String()
	if !lossy && len(out) <= maxTagValueLength && !hashSuffixRE.MatchString(out) {
		return out
	}
	if len(out) > maxTagValueLength-1-identityHashLen {
		out = out[:maxTagValueLength-1-identityHashLen]
	}
	sum := sha256.Sum256([]byte(s))
	return out + "-" + hex.EncodeToString(sum[:])[:identityHashLen]
}

func isWord(r rune) bool {
	return r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
}

// statement is one IAM policy statement; the fields are in AWS's usual order.
type statement struct {
	Sid       string                       `json:"Sid,omitempty"`
	Effect    string                       `json:"Effect"`
	Action    any                          `json:"Action"`
	Resource  string                       `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// SessionPolicy builds the session policy for a grant ending at end: the
// role's statements as written (from rolePolicy, a policy document; Allow
// "*" on "*" when empty, so the session may do what the role allows) plus a
// Deny of denyActions (["*"] when empty) once aws:CurrentTime passes end. AWS grants the
// session the intersection of the role's policies and this document, so a
// rolePolicy without an Allow statement is refused (KindInvalidInput). It fails with an *Error of
// KindPolicyTooLarge when the result exceeds STS's 2,048 characters.
func SessionPolicy(rolePolicy string, end time.Time, denyActions []string) (string, error) {
	var stmts []json.RawMessage
	if strings.TrimSpace(rolePolicy) == "" {
		allow, _ := json.Marshal(statement{Effect: "Allow", Action: "*", Resource: "*"})
		stmts = append(stmts, allow)
	} else {
		var doc struct {
			Statement json.RawMessage `json:"Statement"`
		}
		if err := json.Unmarshal([]byte(rolePolicy), &doc); err != nil {
			return "", &Error{Kind: KindInvalidInput, Err: fmt.Errorf("role session policy: %w", err),
				Hint: "the role's session_policy must be an IAM policy document"}
		}
		switch t := bytes.TrimSpace(doc.Statement); {
		case len(t) > 0 && t[0] == '[':
			if err := json.Unmarshal(t, &stmts); err != nil {
				return "", &Error{Kind: KindInvalidInput, Err: fmt.Errorf("role session policy statements: %w", err)}
			}
		case len(t) > 0 && t[0] == '{':
			stmts = append(stmts, json.RawMessage(t))
		}
		if len(stmts) == 0 {
			return "", &Error{Kind: KindInvalidInput, Err: errors.New("role session policy has no statements"),
				Hint: "give the role's session_policy at least one Statement, or remove it"}
		}
		// AWS gives the session the intersection of the role's policies and
		// the session policy, which is used as written: with only Deny
		// statements the session could do nothing at all, so such a policy
		// is refused (pkg/policy refuses it at load already).
		if !hasAllow(stmts) {
			return "", &Error{Kind: KindInvalidInput, Err: errors.New("role session policy has no Allow statement, so the session could do nothing"),
				Hint: `add {"Effect":"Allow","Action":"*","Resource":"*"} to the role's session_policy to keep what the role allows (docs/policy.md)`}
		}
	}
	if len(denyActions) == 0 {
		// Without this the Deny's Action would be JSON null: a policy IAM
		// refuses (found by the IAM evaluator, internal/iamsim).
		denyActions = []string{"*"}
	}
	var action any = denyActions
	if len(denyActions) == 1 {
		action = denyActions[0]
	}
	deny, err := json.Marshal(statement{
		Sid:      "JitGrantEnd",
		Effect:   "Deny",
		Action:   action,
		Resource: "*",
		Condition: map[string]map[string]string{
			"DateGreaterThan": {"aws:CurrentTime": end.UTC().Format(time.RFC3339)},
		},
	})
	if err != nil {
		return "", fmt.Errorf("session policy: %w", err)
	}
	stmts = append(stmts, deny)
	raw, err := json.Marshal(struct {
		Version   string            `json:"Version"`
		Statement []json.RawMessage `json:"Statement"`
	}{"2012-10-17", stmts})
	if err != nil {
		return "", fmt.Errorf("session policy: %w", err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return "", fmt.Errorf("session policy: %w", err)
	}
	if n := compact.Len(); n > MaxSessionPolicyLength {
		return "", &Error{Kind: KindPolicyTooLarge,
			Err: fmt.Errorf("session policy is %d characters, over STS's limit of %d", n, MaxSessionPolicyLength),
			Hint: fmt.Sprintf("shorten the role's session_policy by %d characters; jit adds a time-bound Deny of %d characters",
				n-MaxSessionPolicyLength, len(deny)+1)}
	}
	return compact.String(), nil
}

// Kind says what went wrong, so that callers can react without parsing text.
type Kind string

// The kinds of vend errors.
const (
	KindInvalidInput      Kind = "invalid_input"      // bad Input or role configuration
	KindPolicyTooLarge    Kind = "policy_too_large"   // session policy or inline policy over its limit
	KindTrustPolicy       Kind = "trust_policy"       // trust policy lacks sts:SetSourceIdentity / sts:TagSession
	KindAccessDenied      Kind = "access_denied"      // the server may not assume (or change) the role
	KindServerCredentials Kind = "server_credentials" // the jit server's own keys are invalid or expired
	KindThrottled         Kind = "throttled"          // STS or IAM rate limit
	KindUnreachable       Kind = "unreachable"        // endpoint not reachable
	KindOther             Kind = "other"
)

// Error is a vend or revoke failure with what a person can do about it.
type Error struct {
	Kind Kind
	// Hint tells an operator what to fix; empty when there is nothing obvious.
	Hint string
	Err  error
}

func (e *Error) Error() string {
	if e.Hint != "" {
		return e.Err.Error() + " (" + e.Hint + ")"
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// classify wraps an AWS SDK error in an *Error with a hint.
func classify(err error, endpoint string) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code, msg := apiErr.ErrorCode(), apiErr.ErrorMessage()
		switch {
		case code == "AccessDenied" && (strings.Contains(msg, "SetSourceIdentity") || strings.Contains(msg, "TagSession")):
			return &Error{Kind: KindTrustPolicy, Err: err,
				Hint: "the role's trust policy must allow sts:SetSourceIdentity and sts:TagSession for the jit server's principal (docs/aws-setup.md)"}
		case code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch" || code == "ExpiredToken" ||
			code == "InvalidAccessKeyId" || code == "UnrecognizedClientException" ||
			// MinIO answers AccessDenied for unknown keys and bad signatures.
			(code == "AccessDenied" && (strings.Contains(msg, "Access Key Id you provided does not exist") ||
				strings.Contains(msg, "signature we calculated does not match"))):
			return &Error{Kind: KindServerCredentials, Err: err,
				Hint: "the jit server's own AWS credentials are invalid or expired; check the server's credential configuration"}
		case code == "AccessDenied" || code == "AccessDeniedException":
			return &Error{Kind: KindAccessDenied, Err: err,
				Hint: "the jit server's principal may not do this: check the role's trust policy and the server's IAM permissions (docs/aws-setup.md)"}
		case code == "Throttling" || code == "ThrottlingException" || code == "RequestLimitExceeded" ||
			code == "TooManyRequestsException" || code == "SlowDown":
			return &Error{Kind: KindThrottled, Err: err, Hint: "AWS is rate-limiting the jit server; retry in a moment"}
		case code == "PackedPolicyTooLarge":
			return &Error{Kind: KindPolicyTooLarge, Err: err, Hint: "shorten the role's session_policy"}
		case code == "LimitExceeded":
			return &Error{Kind: KindPolicyTooLarge, Err: err,
				Hint: "the role's inline policies together exceed IAM's 10,240 characters; remove other inline policies or wait for revocations to expire"}
		case code == "NoSuchEntity":
			return &Error{Kind: KindInvalidInput, Err: err, Hint: "check the role ARN in the policy file"}
		case code == "MalformedPolicyDocument" || code == "InvalidParameterValue" || code == "ValidationError":
			return &Error{Kind: KindInvalidInput, Err: err, Hint: "check the role's ARN and session_policy in the policy file"}
		case code == "RegionDisabledException":
			return &Error{Kind: KindAccessDenied, Err: err, Hint: "activate STS in this region for the account, or set another region"}
		}
		return &Error{Kind: KindOther, Err: err}
	}
	var signErr *v4.SigningError
	if errors.As(err, &signErr) {
		return &Error{Kind: KindServerCredentials, Err: err,
			Hint: "the jit server has no usable AWS credentials of its own; configure them (environment, shared config or instance role)"}
	}
	var sendErr *smithyhttp.RequestSendError
	var netErr net.Error
	if errors.As(err, &sendErr) || errors.As(err, &netErr) {
		return &Error{Kind: KindUnreachable, Err: err,
			Hint: fmt.Sprintf("cannot reach %s; check the server's network and its sts endpoint setting", endpoint)}
	}
	return &Error{Kind: KindOther, Err: err}
}

// hasAllow reports whether any statement has Effect Allow.
func hasAllow(stmts []json.RawMessage) bool {
	for _, raw := range stmts {
		var st struct{ Effect string }
		if json.Unmarshal(raw, &st) == nil && strings.EqualFold(st.Effect, "Allow") {
			return true
		}
	}
	return false
}

// sessionTags are the tags every vend sets, then in.Tags in key order
// (values mapped to STS's characters; the reserved keys cannot be
// overridden).
func sessionTags(in Input) []ststypes.Tag {
	tags := []ststypes.Tag{
		{Key: aws.String(TagRequestID), Value: aws.String(TagValue(in.RequestID))},
		{Key: aws.String(TagUser), Value: aws.String(TagValue(in.User))},
	}
	for _, k := range slices.Sorted(maps.Keys(in.Tags)) {
		if k == TagRequestID || k == TagUser || in.Tags[k] == "" {
			continue
		}
		tags = append(tags, ststypes.Tag{Key: aws.String(k), Value: aws.String(TagValue(in.Tags[k]))})
	}
	return tags
}

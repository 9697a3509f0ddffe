package vend_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/vend"
)

const testRoleARN = "arn:aws:iam::123456789012:role/prod-admin"

// minioVendor starts MinIO with a bucket and a readwrite user whose keys are
// the jit server's, and returns a vendor for it.
func minioVendor(t *testing.T) (*testenv.MinIOServer, testenv.MinIOUser, *vend.STS) {
	t.Helper()
	m := testenv.MinIO(t)
	m.CreateBucket(t, "jit-data")
	u := m.AddUser(t, "readwrite")
	v, err := vend.NewSTS(vend.STSConfig{
		Region:      m.Region(),
		Endpoint:    m.Endpoint(),
		Credentials: u.Provider(),
		DenyActions: []string{"s3:*"}, // MinIO refuses a Deny "*" with aws:CurrentTime
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, u, v
}

func sessionS3(m *testenv.MinIOServer, c vend.Credentials) *s3.Client {
	return m.S3Client(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken))
}

func put(ctx context.Context, c *s3.Client, key string) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("jit-data"), Key: aws.String(key), Body: strings.NewReader("v")})
	return err
}

func list(ctx context.Context, c *s3.Client) ([]string, error) {
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("jit-data")})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys, nil
}

func wantAccessDenied(t *testing.T, what string, err error) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("%s: err = %v, want a refusal", what, err)
	}
	switch apiErr.ErrorCode() {
	case "AccessDenied", "InvalidAccessKeyId", "InvalidTokenId", "ExpiredToken":
	default:
		t.Fatalf("%s: error code %s (%v), want a refusal", what, apiErr.ErrorCode(), err)
	}
}

func TestVendedCredentialsWorkOnMinIO(t *testing.T) {
	m, _, v := minioVendor(t)
	now := time.Now()
	creds, err := v.Vend(t.Context(), vend.Input{
		RoleARN:            testRoleARN,
		RequestID:          "01JREQ0000000000000000000A",
		User:               "alice@example.com",
		GrantEndsAt:        now.Add(2 * time.Hour),
		MaxSessionDuration: time.Hour,
	}, now)
	if err != nil {
		t.Fatalf("vend: %v", err)
	}
	// Capped at the role's maximum, and Expiration is STS's own.
	if d := creds.Expiration.Sub(now); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("credentials last %s, want the role's 1h maximum", d)
	}
	c := sessionS3(m, creds)
	if err := put(t.Context(), c, "a"); err != nil {
		t.Fatalf("put with vended credentials: %v", err)
	}
	keys, err := list(t.Context(), c)
	if err != nil || len(keys) != 1 || keys[0] != "a" {
		t.Fatalf("list = %v, %v; want [a]", keys, err)
	}
	if s := fmt.Sprint(creds) + fmt.Sprintf("%#v", creds); strings.Contains(s, creds.SecretAccessKey) || strings.Contains(s, creds.SessionToken) {
		t.Fatalf("printing credentials shows a secret: %s", s)
	}
}

func TestRolePolicyNarrowsTheSessionOnMinIO(t *testing.T) {
	readsButCannotWrite(t, "r-readonly", "put outside the role's session policy",
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:ListBucket","s3:GetObject"],"Resource":"*"}}`)
}

// The session gets the intersection of the role's policies and the session
// policy as written: an Allow of s3:* with a Deny of s3:PutObject reads but
// cannot write, enforced by MinIO itself.
func TestSessionPolicyDenyNarrowsTheSessionOnMinIO(t *testing.T) {
	readsButCannotWrite(t, "r-nowrite", "put denied by the session policy",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},`+
			`{"Effect":"Deny","Action":"s3:PutObject","Resource":"*"}]}`)
}

// readsButCannotWrite vends credentials with sessionPolicy from MinIO and
// checks that they list the bucket's one object but a put is refused.
func readsButCannotWrite(t *testing.T, requestID, why, sessionPolicy string) {
	t.Helper()
	m, _, v := minioVendor(t)
	root := m.S3Client(credentials.StaticCredentialsProvider{Value: m.RootCredentials()})
	if err := put(t.Context(), root, "seed"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	creds, err := v.Vend(t.Context(), vend.Input{
		RoleARN: testRoleARN, RequestID: requestID, User: "bob", GrantEndsAt: now.Add(time.Hour),
		SessionPolicy: sessionPolicy,
	}, now)
	if err != nil {
		t.Fatalf("vend: %v", err)
	}
	c := sessionS3(m, creds)
	if keys, err := list(t.Context(), c); err != nil || len(keys) != 1 {
		t.Fatalf("list = %v, %v; want the seed object", keys, err)
	}
	wantAccessDenied(t, why, put(t.Context(), c, "b"))
}

// A grant shorter than STS's 900 s minimum gets 900 s credentials, and the
// session policy stops them when the grant ends.
func TestShortGrantCredentialsStopWorkingAtGrantEnd(t *testing.T) {
	m, _, v := minioVendor(t)
	now := time.Now()
	end := now.Add(8 * time.Second)
	creds, err := v.Vend(t.Context(), vend.Input{
		RoleARN: testRoleARN, RequestID: "r-short", User: "carol@example.com", GrantEndsAt: end,
	}, now)
	if err != nil {
		t.Fatalf("vend: %v", err)
	}
	if d := creds.Expiration.Sub(now); d < 14*time.Minute {
		t.Fatalf("credentials last %s, want STS's 900 s minimum", d)
	}
	c := sessionS3(m, creds)
	if err := put(t.Context(), c, "before-end"); err != nil {
		t.Fatalf("put during the grant: %v", err)
	}

	// Wait for the real clock to pass the grant's end.
	timer := time.NewTimer(time.Until(end) + 1500*time.Millisecond)
	defer timer.Stop()
	select {
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	case <-timer.C:
	}
	wantAccessDenied(t, "put after the grant's end", put(t.Context(), c, "after-end"))
	_, err = list(t.Context(), c)
	wantAccessDenied(t, "list after the grant's end", err)
	if time.Now().After(creds.Expiration) {
		t.Fatal("the STS credentials themselves expired; the test proves nothing")
	}
}

// Disabling the jit server's user (the parent of the sessions) makes MinIO
// refuse the vended credentials at once: the stand-in for AWS revocation.
func TestDisablingTheParentUserRevokesVendedCredentials(t *testing.T) {
	m, u, v := minioVendor(t)
	now := time.Now()
	creds, err := v.Vend(t.Context(), vend.Input{
		RoleARN: testRoleARN, RequestID: "r-revoke", User: "dave", GrantEndsAt: now.Add(time.Hour),
	}, now)
	if err != nil {
		t.Fatalf("vend: %v", err)
	}
	c := sessionS3(m, creds)
	if _, err := list(t.Context(), c); err != nil {
		t.Fatalf("list before disabling: %v", err)
	}
	m.DisableUser(t, u.AccessKeyID)
	_, err = list(t.Context(), c)
	wantAccessDenied(t, "list after disabling the parent user", err)
}

// MinIO refuses a session policy Deny "*" conditioned on aws:CurrentTime,
// which is why STSConfig.DenyActions exists.
func TestMinIORefusesDenyStarWithCurrentTime(t *testing.T) {
	m := testenv.MinIO(t)
	u := m.AddUser(t, "readwrite")
	v, err := vend.NewSTS(vend.STSConfig{Region: m.Region(), Endpoint: m.Endpoint(), Credentials: u.Provider()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	_, err = v.Vend(t.Context(), vend.Input{RoleARN: testRoleARN, RequestID: "r", User: "erin", GrantEndsAt: now.Add(time.Hour)}, now)
	var ve *vend.Error
	if !errors.As(err, &ve) || ve.Kind != vend.KindInvalidInput || !strings.Contains(err.Error(), "aws:CurrentTime") {
		t.Fatalf("vend with Deny * on MinIO: err = %v, want MinIO's invalid-parameter refusal", err)
	}
}

func TestVendWithBadServerKeysIsAClearError(t *testing.T) {
	m := testenv.MinIO(t)
	u := m.AddUser(t, "readwrite")
	for name, p := range map[string]aws.CredentialsProvider{
		"unknown key":  credentials.NewStaticCredentialsProvider("nosuchkey", "nosuchsecret", ""),
		"wrong secret": credentials.NewStaticCredentialsProvider(u.AccessKeyID, "wrong-secret", ""),
	} {
		t.Run(name, func(t *testing.T) {
			v, err := vend.NewSTS(vend.STSConfig{Region: m.Region(), Endpoint: m.Endpoint(), Credentials: p, DenyActions: []string{"s3:*"}})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			_, err = v.Vend(t.Context(), vend.Input{RoleARN: testRoleARN, RequestID: "r", User: "frank", GrantEndsAt: now.Add(time.Hour)}, now)
			var ve *vend.Error
			if !errors.As(err, &ve) || ve.Kind != vend.KindServerCredentials || !strings.Contains(ve.Hint, "credentials") {
				t.Fatalf("err = %#v, want KindServerCredentials with a hint", err)
			}
			if strings.Contains(err.Error(), "wrong-secret") || strings.Contains(err.Error(), "nosuchsecret") {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}

func TestVendToAnUnreachableEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL
	srv.Close() // nothing listens there any more
	v, err := vend.NewSTS(vend.STSConfig{Endpoint: endpoint, Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	_, err = v.Vend(t.Context(), vend.Input{RoleARN: testRoleARN, RequestID: "r", User: "gina", GrantEndsAt: now.Add(time.Hour)}, now)
	var ve *vend.Error
	if !errors.As(err, &ve) || ve.Kind != vend.KindUnreachable || !strings.Contains(ve.Hint, endpoint) {
		t.Fatalf("err = %v, want KindUnreachable naming %s", err, endpoint)
	}
}

// fakeSTS speaks STS's query protocol: it records each AssumeRole form and
// answers with the response a test gives it.
type fakeSTS struct {
	mu     sync.Mutex
	forms  []url.Values
	status int
	body   string
}

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		http.Error(w, "unsigned request", http.StatusForbidden)
		return
	}
	b, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(b))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.forms = append(f.forms, form)
	status, body := f.status, f.body
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func stsError(code, msg string) string {
	return `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>` + code +
		`</Code><Message>` + msg + `</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`
}

const stsOK = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>alice@example.com</SourceIdentity>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/prod-admin/alice@example.com</Arn><AssumedRoleId>AROA:alice</AssumedRoleId></AssumedRoleUser>
    <Credentials><AccessKeyId>ASIAFAKE</AccessKeyId><SecretAccessKey>fake-secret</SecretAccessKey><SessionToken>fake-token</SessionToken><Expiration>2030-01-02T03:19:05Z</Expiration></Credentials>
    <PackedPolicySize>12</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</AssumeRoleResponse>`

func fakeVendor(t *testing.T, f *fakeSTS) *vend.STS {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	v, err := vend.NewSTS(vend.STSConfig{Region: "eu-west-1", Endpoint: srv.URL, HTTPClient: srv.Client(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIASERVER", "server-secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAssumeRoleWireFormat(t *testing.T) {
	f := &fakeSTS{status: http.StatusOK, body: stsOK}
	v := fakeVendor(t, f)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	end := now.Add(10*time.Minute + 300*time.Millisecond)
	creds, err := v.Vend(t.Context(), vend.Input{
		RoleARN: testRoleARN, RequestID: "01JREQ", User: "Zoë O'Brien <zoe@example.com>", GrantEndsAt: end,
	}, now)
	if err != nil {
		t.Fatalf("vend: %v", err)
	}
	want := vend.Credentials{AccessKeyID: "ASIAFAKE", SecretAccessKey: "fake-secret", SessionToken: "fake-token",
		Expiration: time.Date(2030, 1, 2, 3, 19, 5, 0, time.UTC)}
	if creds != want {
		t.Fatalf("credentials = %#v", creds)
	}
	form := f.forms[0]
	for k, w := range map[string]string{
		"Action":            "AssumeRole",
		"RoleArn":           testRoleARN,
		"RoleSessionName":   "Zoe-O-Brien--zoe@example.com--" + sha256Hex16("Zoë O'Brien <zoe@example.com>"),
		"SourceIdentity":    "Zoe-O-Brien--zoe@example.com--" + sha256Hex16("Zoë O'Brien <zoe@example.com>"),
		"DurationSeconds":   "900",
		"Tags.member.1.Key": "jit-request-id", "Tags.member.1.Value": "01JREQ",
		"Tags.member.2.Key": "jit-user", "Tags.member.2.Value": "Zo_ O_Brien _zoe@example.com_-85268ed2036e0a78",
		"Policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},` +
			`{"Sid":"JitGrantEnd","Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-01-02T03:14:05Z"}}}]}`,
	} {
		if got := form.Get(k); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
}

func TestSTSErrorsBecomeTypedErrorsWithHints(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		kind   vend.Kind
		hint   string
	}{
		{"trust policy lacks TagSession", 403, stsError("AccessDenied",
			"User: arn:aws:iam::123456789012:user/jit is not authorized to perform: sts:TagSession on resource: "+testRoleARN),
			vend.KindTrustPolicy, "sts:SetSourceIdentity and sts:TagSession"},
		{"trust policy lacks SetSourceIdentity", 403, stsError("AccessDenied",
			"User: arn:aws:iam::123456789012:user/jit is not authorized to perform: sts:SetSourceIdentity on resource: "+testRoleARN),
			vend.KindTrustPolicy, "docs/aws-setup.md"},
		{"may not assume", 403, stsError("AccessDenied",
			"User: arn:aws:iam::123456789012:user/jit is not authorized to perform: sts:AssumeRole on resource: "+testRoleARN),
			vend.KindAccessDenied, "trust policy"},
		{"expired server token", 403, stsError("ExpiredToken", "The security token included in the request is expired"),
			vend.KindServerCredentials, "credentials"},
		{"packed policy too large", 400, stsError("PackedPolicyTooLarge", "Session policy too large"),
			vend.KindPolicyTooLarge, "session_policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := fakeVendor(t, &fakeSTS{status: tc.status, body: tc.body})
			now := time.Now()
			_, err := v.Vend(t.Context(), vend.Input{RoleARN: testRoleARN, RequestID: "r", User: "u1", GrantEndsAt: now.Add(time.Hour)}, now)
			var ve *vend.Error
			if !errors.As(err, &ve) || ve.Kind != tc.kind || !strings.Contains(ve.Hint, tc.hint) {
				t.Fatalf("err = %v, want kind %s with hint containing %q", err, tc.kind, tc.hint)
			}
			if !strings.Contains(err.Error(), "assume role "+testRoleARN) {
				t.Errorf("error %q does not name the role", err)
			}
		})
	}
}

func TestThrottlingIsRetriedThenReported(t *testing.T) {
	f := &fakeSTS{status: 400, body: stsError("Throttling", "Rate exceeded")}
	v := fakeVendor(t, f)
	now := time.Now()
	_, err := v.Vend(t.Context(), vend.Input{RoleARN: testRoleARN, RequestID: "r", User: "u1", GrantEndsAt: now.Add(time.Hour)}, now)
	var ve *vend.Error
	if !errors.As(err, &ve) || ve.Kind != vend.KindThrottled {
		t.Fatalf("err = %v, want KindThrottled", err)
	}
	if len(f.forms) < 2 {
		t.Errorf("STS was called %d times; the SDK should retry throttling", len(f.forms))
	}
}

func TestVendRefusesAnEndedGrantWithoutCallingSTS(t *testing.T) {
	f := &fakeSTS{status: http.StatusOK, body: stsOK}
	v := fakeVendor(t, f)
	now := time.Now()
	_, err := v.Vend(t.Context(), vend.Input{RoleARN: testRoleARN, RequestID: "r", User: "u1", GrantEndsAt: now}, now)
	var ve *vend.Error
	if !errors.As(err, &ve) || ve.Kind != vend.KindInvalidInput || len(f.forms) != 0 {
		t.Fatalf("err = %v after %d STS calls, want KindInvalidInput and none", err, len(f.forms))
	}
}

func TestDurationSeconds(t *testing.T) {
	for _, tc := range []struct {
		remaining, roleMax time.Duration
		want               int32
	}{
		{5 * time.Second, 0, 900},
		{899 * time.Second, time.Hour, 900},
		{900 * time.Second, time.Hour, 900},
		{900*time.Second + time.Nanosecond, time.Hour, 901}, // rounded up
		{30 * time.Minute, time.Hour, 1800},
		{3 * time.Hour, 0, 3600},                // default role max 1 h
		{3 * time.Hour, 12 * time.Hour, 10800},  // a long role max
		{24 * time.Hour, 12 * time.Hour, 43200}, // capped at the role max
		{time.Hour, 10 * time.Minute, 900},      // a role max below the minimum still gets the minimum
		{-time.Minute, time.Hour, 900},          // never below the minimum
	} {
		if got := vend.DurationSeconds(tc.remaining, tc.roleMax); got != tc.want {
			t.Errorf("DurationSeconds(%s, %s) = %d, want %d", tc.remaining, tc.roleMax, got, tc.want)
		}
	}
}

func TestSessionPolicyMergesTheRolesStatements(t *testing.T) {
	end := time.Date(2030, 5, 6, 7, 8, 9, 0, time.FixedZone("X", 3600))
	got, err := vend.SessionPolicy(`{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
	    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}
	  ]
	}`, end, []string{"s3:*", "sts:*"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},` +
		`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"},` +
		`{"Sid":"JitGrantEnd","Effect":"Deny","Action":["s3:*","sts:*"],"Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-05-06T06:08:09Z"}}}]}`
	if got != want {
		t.Fatalf("policy =\n%s\nwant\n%s", got, want)
	}
}

func TestSessionPolicyTooLargeIsAClearError(t *testing.T) {
	big := `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("b", 2000) + `/*"}]}`
	_, err := vend.SessionPolicy(big, time.Now(), []string{"*"})
	var ve *vend.Error
	if !errors.As(err, &ve) || ve.Kind != vend.KindPolicyTooLarge || !strings.Contains(ve.Hint, "shorten the role's session_policy") {
		t.Fatalf("err = %v, want KindPolicyTooLarge with a hint", err)
	}
	for _, bad := range []string{`not json`, `{"Statement":[]}`, `{"Version":"2012-10-17"}`} {
		if _, err := vend.SessionPolicy(bad, time.Now(), []string{"*"}); !errors.As(err, &ve) || ve.Kind != vend.KindInvalidInput {
			t.Errorf("SessionPolicy(%q): err = %v, want KindInvalidInput", bad, err)
		}
	}
}

func TestCredentialsNeverLogSecrets(t *testing.T) {
	c := vend.Credentials{AccessKeyID: "ASIAX", SecretAccessKey: "s3cr3t", SessionToken: "t0k3n", Expiration: time.Now()}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("vended", "creds", c)
	out := b.String() + fmt.Sprintf("%v %+v %#v %s", c, c, c, c)
	if strings.Contains(out, "s3cr3t") || strings.Contains(out, "t0k3n") || !strings.Contains(out, "ASIAX") {
		t.Fatalf("output %s", out)
	}
}

var (
	stsIdentifierRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	hashSuffixRE    = regexp.MustCompile(`-[0-9a-f]{8}$`)
	tagValueRE      = regexp.MustCompile(`^[\w .:/=+@-]{0,256}$`)
)

func FuzzSanitisers(f *testing.F) {
	for _, s := range []string{"", "a", "alice@example.com", "Zoë O'Brien", strings.Repeat("x", 300), "\xff\xfe", "日本語", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, user string) {
		for name, got := range map[string]string{"RoleSessionName": vend.RoleSessionName(user), "SourceIdentity": vend.SourceIdentity(user)} {
			if !stsIdentifierRE.MatchString(got) {
				t.Fatalf("%s(%q) = %q, outside STS's charset or length", name, user, got)
			}
			if stsIdentifierRE.MatchString(user) && !hashSuffixRE.MatchString(user) && got != user {
				t.Fatalf("%s(%q) = %q changed a valid name", name, user, got)
			}
			if got == user && (!stsIdentifierRE.MatchString(user) || hashSuffixRE.MatchString(user)) {
				t.Fatalf("%s(%q) kept a name that must be mapped", name, user)
			}
			if got != user && !strings.HasSuffix(got, "-"+sha256Hex16(user)) {
				t.Fatalf("%s(%q) = %q changed the name without the hash of the original", name, user, got)
			}
		}
		if got := vend.TagValue(user); !tagValueRE.MatchString(got) {
			t.Fatalf("TagValue(%q) = %q, outside the tag charset or length", user, got)
		} else if tagValueRE.MatchString(user) && !hashSuffixRE.MatchString(user) && got != user {
			t.Fatalf("TagValue(%q) = %q changed a valid value", user, got)
		}
	})
}

// Before: a Deny-only session_policy was silently given an Allow "*", so the
// session got what the role allows, while docs/policy.md said it gets nothing.
// Now the document is used as written (AWS intersects it with the role's
// policies) and one that could allow nothing is refused.
func TestSessionPolicyOfOnlyDeniesIsRefusedNotWidened(t *testing.T) {
	end := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	got, err := vend.SessionPolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`, end, []string{"*"})
	var ve *vend.Error
	if !errors.As(err, &ve) || ve.Kind != vend.KindInvalidInput || !strings.Contains(ve.Hint, `"Effect":"Allow"`) {
		t.Fatalf("policy = %s, err = %v; want KindInvalidInput with a hint naming the Allow to add", got, err)
	}
}

// The documented example (docs/policy.md): the role's statements as written,
// then jit's time-bound Deny.
func TestSessionPolicyWithAllowAndDenyIsKeptAsWrittenPlusTheGrantEnd(t *testing.T) {
	end := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	got, err := vend.SessionPolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`, end, []string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":"*","Resource":"*"},` +
		`{"Effect":"Deny","Action":"iam:*","Resource":"*"},` +
		`{"Sid":"JitGrantEnd","Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-05-06T07:08:09Z"}}}]}`
	if got != want {
		t.Fatalf("policy =\n%s\nwant\n%s", got, want)
	}
}

// Jörg and Jürg got one jit-user session tag (both "J_rg"): a policy or a
// CloudTrail query on the tag could not tell them apart. A value the
// mapping changes or cuts gets the SHA-256 suffix SourceIdentity uses.
func TestUserTagOfUmlautNamesDoesNotCollide(t *testing.T) {
	jorg, jurg := vend.TagValue("jörg@example.com"), vend.TagValue("jürg@example.com")
	if jorg == jurg {
		t.Fatalf("jörg and jürg share the tag %q", jorg)
	}
	long := strings.Repeat("x", 300)
	if a, b := vend.TagValue(long+"a"), vend.TagValue(long+"b"); a == b || len(a) > 256 {
		t.Fatalf("two long names share the tag %q (or it is over 256: %d)", a, len(a))
	}
	if got := vend.TagValue("alice@example.com"); got != "alice@example.com" {
		t.Fatalf("a valid value changed: %q", got)
	}
	// A name that looks like a hashed one is hashed itself, so that no one
	// can pick the tag another name maps to.
	if got := vend.TagValue(jorg); got == jorg {
		t.Fatalf("a value ending in a hash suffix was kept: %q", got)
	}
}

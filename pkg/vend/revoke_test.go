package vend_test

// IAM cannot run here (MinIO has no IAM API), so the IAM revoker is tested
// against fakeIAM: an httptest server that speaks IAM's query protocol as
// documented (form-encoded POST, Version 2010-05-08, SigV4, XML answers,
// URL-encoded PolicyDocument in GetRolePolicy, NoSuchEntity, LimitExceeded).
// What real IAM then enforces is checked on MinIO by the parent-user test.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/jit-access/jit/pkg/vend"
)

type fakeIAM struct {
	mu       sync.Mutex
	policies map[string]string // role/policy → document
	calls    []string
	putErr   string // when set, PutRolePolicy fails with this code
}

// rfc3986Escape encodes like IAM: everything but the unreserved characters.
func rfc3986Escape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func (f *fakeIAM) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`, code, msg)
}

func (f *fakeIAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	if r.Method != http.MethodPost || !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "/us-east-1/iam/aws4_request") {
		f.fail(w, 403, "InvalidClientTokenId", "bad signature or method")
		return
	}
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Version") != "2010-05-08" {
		f.fail(w, 400, "MalformedQueryString", "bad form")
		return
	}
	role, name := form.Get("RoleName"), form.Get("PolicyName")
	key := role + "/" + name
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, form.Get("Action"))
	w.Header().Set("Content-Type", "text/xml")
	switch form.Get("Action") {
	case "GetRolePolicy":
		doc, ok := f.policies[key]
		if !ok {
			f.fail(w, 404, "NoSuchEntity", "The role policy with name "+name+" cannot be found.")
			return
		}
		fmt.Fprintf(w, `<GetRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRolePolicyResult><PolicyName>%s</PolicyName><RoleName>%s</RoleName><PolicyDocument>%s</PolicyDocument></GetRolePolicyResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetRolePolicyResponse>`,
			name, role, rfc3986Escape(doc))
	case "PutRolePolicy":
		if f.putErr != "" {
			f.fail(w, 409, f.putErr, "refused")
			return
		}
		doc := form.Get("PolicyDocument")
		n := 0
		for _, c := range doc {
			if !unicode.IsSpace(c) {
				n++
			}
		}
		if n > 10240 {
			f.fail(w, 409, "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role "+role)
			return
		}
		var parsed struct {
			Version   string
			Statement []struct{ Sid, Effect string }
		}
		if err := json.Unmarshal([]byte(doc), &parsed); err != nil || parsed.Version != "2012-10-17" || len(parsed.Statement) == 0 {
			f.fail(w, 400, "MalformedPolicyDocument", "Syntax errors in policy.")
			return
		}
		sids := map[string]bool{}
		for _, s := range parsed.Statement {
			if s.Sid != "" && sids[s.Sid] {
				f.fail(w, 400, "MalformedPolicyDocument", "Statement IDs (SID) in a single policy must be unique.")
				return
			}
			sids[s.Sid] = true
		}
		f.policies[key] = doc
		io.WriteString(w, `<PutRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></PutRolePolicyResponse>`)
	case "DeleteRolePolicy":
		if _, ok := f.policies[key]; !ok {
			f.fail(w, 404, "NoSuchEntity", "no such policy")
			return
		}
		delete(f.policies, key)
		io.WriteString(w, `<DeleteRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DeleteRolePolicyResponse>`)
	default:
		f.fail(w, 400, "InvalidAction", "unknown action")
	}
}

type revokeStatement struct {
	Sid       string
	Effect    string
	Action    string
	Resource  string
	Condition map[string]map[string]string
}

func (f *fakeIAM) statements(t *testing.T, role string) []revokeStatement {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	doc, ok := f.policies[role+"/"+vend.RevocationPolicyName]
	if !ok {
		return nil
	}
	var p struct{ Statement []revokeStatement }
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("stored policy: %v", err)
	}
	return p.Statement
}

func newFakeIAM(t *testing.T, now *time.Time) (*fakeIAM, *vend.IAMRevoker) {
	t.Helper()
	f := &fakeIAM{policies: map[string]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	r, err := vend.NewIAMRevoker(vend.IAMConfig{
		Endpoint: srv.URL, HTTPClient: srv.Client(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIASERVER", "server-secret", ""),
		Now:         func() time.Time { return *now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, r
}

func TestRevokeWritesADenyKeyedOnTheGrant(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f, r := newFakeIAM(t, &now)
	f.policies["prod-admin/"+vend.RevocationPolicyName] = `{"Version":"2012-10-17","Statement":[{"Sid":"HandWritten","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}`

	err := r.Revoke(t.Context(), vend.RevokeInput{
		RoleARN: "arn:aws:iam::123456789012:role/team/prod-admin", RequestID: "01JREQ+a b", User: "alice@example.com",
		IssuedBefore: now, Until: now.Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	got := f.statements(t, "prod-admin")
	if len(got) != 2 || got[0].Sid != "HandWritten" {
		t.Fatalf("statements = %+v, want the hand-written one kept and one added", got)
	}
	s := got[1]
	if s.Effect != "Deny" || s.Action != "*" || s.Resource != "*" || !strings.HasPrefix(s.Sid, "JitRevoke") {
		t.Fatalf("revocation = %+v", s)
	}
	want := map[string]map[string]string{
		"StringEquals": {"aws:PrincipalTag/jit-request-id": "01JREQ+a b", "aws:SourceIdentity": "alice@example.com"},
		"DateLessThan": {"aws:TokenIssueTime": "2030-01-01T12:00:00Z", "aws:CurrentTime": "2030-01-01T13:00:00Z"},
	}
	if fmt.Sprint(s.Condition) != fmt.Sprint(want) {
		t.Fatalf("condition = %v\nwant        %v", s.Condition, want)
	}

	// Revoking the same grant again keeps one entry, with the later end.
	if err := r.Revoke(t.Context(), vend.RevokeInput{RoleName: "prod-admin", RequestID: "01JREQ+a b", User: "alice@example.com",
		IssuedBefore: now, Until: now.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got = f.statements(t, "prod-admin")
	if len(got) != 2 || got[1].Condition["DateLessThan"]["aws:CurrentTime"] != "2030-01-01T14:00:00Z" {
		t.Fatalf("after revoking again: %+v", got)
	}
}

func TestRevokePrunesEntriesPastTheirLongestSession(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f, r := newFakeIAM(t, &now)
	for i, until := range []time.Duration{10 * time.Minute, time.Hour} {
		if err := r.Revoke(t.Context(), vend.RevokeInput{RoleName: "dev", RequestID: fmt.Sprint("r", i), Until: now.Add(until)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.statements(t, "dev")); n != 2 {
		t.Fatalf("%d entries, want 2", n)
	}
	now = now.Add(30 * time.Minute) // r0's sessions have all expired
	if err := r.Revoke(t.Context(), vend.RevokeInput{RoleName: "dev", User: "bob", IssuedBefore: now, Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got := f.statements(t, "dev")
	if len(got) != 2 || got[0].Condition["StringEquals"]["aws:PrincipalTag/jit-request-id"] != "r1" ||
		got[1].Condition["StringEquals"]["aws:SourceIdentity"] != "bob" {
		t.Fatalf("after pruning: %+v", got)
	}
	// Once everything has expired, a revocation whose sessions are gone
	// already leaves no policy behind.
	now = now.Add(2 * time.Hour)
	if err := r.Revoke(t.Context(), vend.RevokeInput{RoleName: "dev", RequestID: "old", Until: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if got := f.statements(t, "dev"); got != nil {
		t.Fatalf("policy left behind: %+v", got)
	}
	if last := f.calls[len(f.calls)-1]; last != "DeleteRolePolicy" {
		t.Fatalf("last call %s, want DeleteRolePolicy", last)
	}
}

func TestRevokeRefusesToExceedIAMsLimit(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f, r := newFakeIAM(t, &now)
	var err error
	n := 0
	for ; n < 200 && err == nil; n++ {
		err = r.Revoke(t.Context(), vend.RevokeInput{RoleName: "busy", RequestID: fmt.Sprintf("01JREQ%020d", n), Until: now.Add(time.Hour)})
	}
	var ve *vend.Error
	if !errors.As(err, &ve) || ve.Kind != vend.KindPolicyTooLarge || !strings.Contains(ve.Hint, "2030-01-01T13:00:00Z") {
		t.Fatalf("after %d revocations: err = %v, want KindPolicyTooLarge naming when entries expire", n, err)
	}
	if got := len(f.statements(t, "busy")); got != n-1 {
		t.Fatalf("stored %d entries, want the %d that fit", got, n-1)
	}
	// The fake's own 10,240 check never fired: jit refused first.
	for _, c := range f.calls {
		if c != "GetRolePolicy" && c != "PutRolePolicy" {
			t.Fatalf("unexpected call %s", c)
		}
	}
}

func TestRevokeErrors(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f, r := newFakeIAM(t, &now)
	var ve *vend.Error
	for _, in := range []vend.RevokeInput{
		{RoleARN: "not-an-arn", RequestID: "r", Until: now.Add(time.Hour)},
		{RoleName: "x", RequestID: "r"},                           // no Until
		{RoleName: "x", User: "alice", Until: now.Add(time.Hour)}, // user without IssuedBefore
	} {
		if err := r.Revoke(t.Context(), in); !errors.As(err, &ve) || ve.Kind != vend.KindInvalidInput {
			t.Errorf("Revoke(%+v): err = %v, want KindInvalidInput", in, err)
		}
	}
	f.putErr = "AccessDenied"
	err := r.Revoke(t.Context(), vend.RevokeInput{RoleName: "x", RequestID: "r", Until: now.Add(time.Hour)})
	if !errors.As(err, &ve) || ve.Kind != vend.KindAccessDenied || !strings.Contains(err.Error(), "put jit-revocations policy on role x") {
		t.Fatalf("err = %v, want KindAccessDenied naming the role", err)
	}
}

func TestRoleNameFromARN(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:iam::123456789012:role/prod-admin":          "prod-admin",
		"arn:aws:iam::123456789012:role/team/ops/prod-admin": "prod-admin",
		"arn:aws-cn:iam::123456789012:role/x":                "x",
		"arn:aws:iam::123456789012:user/bob":                 "",
	} {
		if got := vend.RoleNameFromARN(arn); got != want {
			t.Errorf("RoleNameFromARN(%q) = %q, want %q", arn, got, want)
		}
	}
}

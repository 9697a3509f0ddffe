// Package fakeiam is a FAKE of AWS IAM and STS for tests, because neither
// runs here (MinIO has no IAM API). It is not AWS: one httptest server that
// speaks the query protocol (form POST, SigV4 Authorization header, XML
// answers) for the five calls jit's revoker makes — IAM GetRolePolicy,
// PutRolePolicy, DeleteRolePolicy and STS AssumeRole, GetCallerIdentity —
// and keeps inline policies per account and role.
//
// Accounts are told apart by the access key that signed the request (the
// signature itself is not verified): keys from Keys(account) act in that
// account, and AssumeRole on a role registered with AddAssumableRole issues
// keys that act in the role's account. Denies evaluates jit's revocation
// statements for a session, so tests can ask "is this session cut off?".
package fakeiam

import (
	"encoding/json"
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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Server is the fake. The zero value is not usable; call New.
type Server struct {
	URL string

	mu        sync.Mutex
	keys      map[string]string // access key id → account
	roles     map[string]bool   // account/role → exists
	policies  map[string]string // account/role/policy → document
	assumable map[string]string // role ARN → required external id ("" none)
	failPut   map[string]string // account/role → error code for PutRolePolicy
	calls     []Call
	n         int
	// GetDelay, when set, is slept in every GetRolePolicy, widening the
	// window between a read and the write that follows it.
	GetDelay time.Duration
	// AfterPut, when set, runs after every stored PutRolePolicy (outside
	// the fake's lock): a test can play another writer there.
	AfterPut func(account, role string)
	// MisreportAccount, when set, is the account AssumeRole names in the
	// AssumedRoleUser ARN (keys still act in the role's account): a
	// misconfigured or hostile STS the revoker must not trust.
	MisreportAccount string

	throttle  bool // every IAM call answers Throttling (SetThrottling)
	throttled int  // IAM calls answered so
}

// SetThrottling makes every IAM call answer as IAM does when an account
// exceeds its request rate — HTTP 400, code Throttling, "Rate exceeded" —
// until it is called again with false. The SDK retries such answers with
// backoff; past its attempts the caller sees the error.
func (s *Server) SetThrottling(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = on
}

// Throttled is how many IAM calls were answered with Throttling.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// Call is one request the fake answered.
type Call struct {
	Account, Action, Role string
}

// New starts the fake on 127.0.0.1 and stops it when t ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{keys: map[string]string{}, roles: map[string]bool{}, policies: map[string]string{},
		assumable: map[string]string{}, failPut: map[string]string{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Keys returns static credentials acting in account (a principal there,
// e.g. the jit server's).
func (s *Server) Keys(account string) aws.CredentialsProvider {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := "AKIA" + account
	s.keys[id] = account
	return credentials.NewStaticCredentialsProvider(id, "secret-"+account, "")
}

// AddRole creates an IAM role in account.
func (s *Server) AddRole(account, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[account+"/"+name] = true
}

// AddAssumableRole makes roleARN assumable with any known key (the trust
// policy of a revoker role), with externalID required when not "".
func (s *Server) AddAssumableRole(roleARN, externalID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assumable[roleARN] = externalID
	parts := strings.SplitN(roleARN, ":", 6)
	s.roles[parts[4]+"/"+roleARN[strings.LastIndex(roleARN, "/")+1:]] = true
}

// FailPut makes PutRolePolicy on account's role fail with code ("" stops).
func (s *Server) FailPut(account, role, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failPut[account+"/"+role] = code
}

// Policy returns account's role's inline policy name ("" when none).
func (s *Server) Policy(account, role, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policies[account+"/"+role+"/"+name]
}

// SetPolicy stores an inline policy as if written by someone else.
func (s *Server) SetPolicy(account, role, name, doc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policies[account+"/"+role+"/"+name] = doc
}

// Calls returns the requests answered so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake</RequestId></ErrorResponse>`, code, msg)
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

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ...
	auth := r.Header.Get("Authorization")
	_, cred, _ := strings.Cut(auth, "Credential=")
	scope := strings.Split(strings.SplitN(cred, ",", 2)[0], "/")
	if r.Method != http.MethodPost || !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || len(scope) != 5 {
		fail(w, 403, "IncompleteSignature", "not a SigV4-signed POST")
		return
	}
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if err != nil {
		fail(w, 400, "MalformedQueryString", "bad form")
		return
	}
	s.mu.Lock()
	account, known := s.keys[scope[0]]
	s.mu.Unlock()
	if !known {
		fail(w, 403, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}
	action, service := form.Get("Action"), scope[3]
	switch {
	case service == "sts" && form.Get("Version") == "2011-06-15":
		s.serveSTS(w, account, action, form)
	case service == "iam" && form.Get("Version") == "2010-05-08" && scope[2] == "us-east-1":
		s.serveIAM(w, account, action, form)
	default:
		fail(w, 400, "InvalidAction", "action "+action+" for service "+service+" in "+scope[2])
	}
}

func (s *Server) serveSTS(w http.ResponseWriter, account, action string, form url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Account: account, Action: action, Role: form.Get("RoleArn")})
	w.Header().Set("Content-Type", "text/xml")
	switch action {
	case "GetCallerIdentity":
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::%s:user/jit</Arn><UserId>AIDAFAKE</UserId><Account>%s</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, account, account)
	case "AssumeRole":
		arn := form.Get("RoleArn")
		ext, ok := s.assumable[arn]
		if !ok || ext != form.Get("ExternalId") {
			fail(w, 403, "AccessDenied", "User is not authorized to perform: sts:AssumeRole on resource: "+arn)
			return
		}
		target := strings.SplitN(arn, ":", 6)[4]
		s.n++
		id := fmt.Sprintf("ASIA%s%04d", target, s.n)
		s.keys[id] = target
		name := arn[strings.LastIndex(arn, "/")+1:]
		reported := target
		if s.MisreportAccount != "" {
			reported = s.MisreportAccount
		}
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>%s</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::%s:assumed-role/%s/%s</Arn><AssumedRoleId>AROAFAKE:%s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			id, time.Now().Add(time.Hour).UTC().Format(time.RFC3339), reported, name, form.Get("RoleSessionName"), form.Get("RoleSessionName"))
	default:
		fail(w, 400, "InvalidAction", "unknown STS action "+action)
	}
}

func (s *Server) serveIAM(w http.ResponseWriter, account, action string, form url.Values) {
	role, name := form.Get("RoleName"), form.Get("PolicyName")
	if action == "GetRolePolicy" && s.GetDelay > 0 {
		time.Sleep(s.GetDelay)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Account: account, Action: action, Role: role})
	if s.throttle {
		s.throttled++
		fail(w, 400, "Throttling", "Rate exceeded")
		return
	}
	if !s.roles[account+"/"+role] {
		fail(w, 404, "NoSuchEntity", "The role with name "+role+" cannot be found.")
		return
	}
	key := account + "/" + role + "/" + name
	w.Header().Set("Content-Type", "text/xml")
	switch action {
	case "GetRolePolicy":
		doc, ok := s.policies[key]
		if !ok {
			fail(w, 404, "NoSuchEntity", "The role policy with name "+name+" cannot be found.")
			return
		}
		fmt.Fprintf(w, `<GetRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRolePolicyResult><PolicyName>%s</PolicyName><RoleName>%s</RoleName><PolicyDocument>%s</PolicyDocument></GetRolePolicyResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetRolePolicyResponse>`,
			name, role, rfc3986Escape(doc))
	case "PutRolePolicy":
		if code := s.failPut[account+"/"+role]; code != "" {
			fail(w, 403, code, "refused by the fake")
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
			fail(w, 409, "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role "+role)
			return
		}
		var parsed struct {
			Version   string
			Statement []struct{ Sid, Effect string }
		}
		if err := json.Unmarshal([]byte(doc), &parsed); err != nil || parsed.Version != "2012-10-17" || len(parsed.Statement) == 0 {
			fail(w, 400, "MalformedPolicyDocument", "Syntax errors in policy.")
			return
		}
		sids := map[string]bool{}
		for _, st := range parsed.Statement {
			if st.Sid != "" && sids[st.Sid] {
				fail(w, 400, "MalformedPolicyDocument", "Statement IDs (SID) in a single policy must be unique.")
				return
			}
			sids[st.Sid] = true
		}
		s.policies[key] = doc
		if s.AfterPut != nil {
			hook := s.AfterPut
			defer func() { s.mu.Unlock(); hook(account, role); s.mu.Lock() }()
		}
		io.WriteString(w, `<PutRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></PutRolePolicyResponse>`)
	case "DeleteRolePolicy":
		if _, ok := s.policies[key]; !ok {
			fail(w, 404, "NoSuchEntity", "The role policy with name "+name+" cannot be found.")
			return
		}
		delete(s.policies, key)
		io.WriteString(w, `<DeleteRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></DeleteRolePolicyResponse>`)
	default:
		fail(w, 400, "InvalidAction", "unknown IAM action "+action)
	}
}

// Session is what IAM knows of an STS session when it evaluates a request.
type Session struct {
	SourceIdentity string
	RequestTag     string // aws:PrincipalTag/jit-request-id
	IssuedAt       time.Time
}

// Denies reports whether account's role's inline policy name denies a call
// by sess at now, evaluating the condition operators jit writes
// (StringEquals, DateLessThan on aws:TokenIssueTime and aws:CurrentTime) to
// the instant. Other statements are ignored.
func (s *Server) Denies(account, role, name string, sess Session, now time.Time) bool {
	var p struct {
		Statement []struct {
			Effect    string
			Condition map[string]map[string]string
		}
	}
	if json.Unmarshal([]byte(s.Policy(account, role, name)), &p) != nil {
		return false
	}
	for _, st := range p.Statement {
		if st.Effect == "Deny" && matches(st.Condition, sess, now) {
			return true
		}
	}
	return false
}

func matches(cond map[string]map[string]string, sess Session, now time.Time) bool {
	for op, kv := range cond {
		for k, v := range kv {
			switch op + " " + k {
			case "StringEquals aws:SourceIdentity":
				if sess.SourceIdentity != v {
					return false
				}
			case "StringEquals aws:PrincipalTag/jit-request-id":
				if sess.RequestTag != v {
					return false
				}
			case "DateLessThan aws:TokenIssueTime", "DateLessThan aws:CurrentTime":
				t, err := time.Parse(time.RFC3339, v)
				at := now
				if k == "aws:TokenIssueTime" {
					at = sess.IssuedAt
				}
				if err != nil || !at.Before(t) {
					return false
				}
			default:
				return false // an operator the fake does not know never matches
			}
		}
	}
	return true
}

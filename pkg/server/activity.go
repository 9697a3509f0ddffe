package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/vend"
)

// Activity ingestion limits: a delivery's body and how many events it may
// carry. MinIO posts one entry per call; a CloudTrail forwarder batches.
const (
	maxActivityBody   = 1 << 20
	maxActivityEvents = 1000
	// activityDedupe is how long an event id is remembered: far longer than
	// any sender retries a delivery.
	activityDedupe = 24 * time.Hour
	// activitySkew is how far ahead of the server's clock an event may be
	// dated; later times are clamped to it.
	activitySkew = 5 * time.Minute
	// maxKnownKeys bounds the in-memory cache of access key → grant.
	maxKnownKeys = 10000
)

// ActivityOptions configure activity ingestion (docs/concepts.md "Activity").
type ActivityOptions struct {
	// Secret authenticates senders (bearer token or HMAC-SHA256 of the
	// body). Empty: the ingestion endpoints answer 404.
	Secret string
	// Window is how often a grant's calls become one grant.activity audit
	// record [15m].
	Window time.Duration
}

// keyCache remembers access key → grant lookups that succeeded; a mapping
// never changes once stored, so it needs no invalidation, only a bound.
type keyCache struct {
	mu sync.Mutex
	m  map[string]store.KeyGrant
}

func (c *keyCache) get(k string) (store.KeyGrant, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.m[k]
	return g, ok
}

func (c *keyCache) put(g store.KeyGrant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxKnownKeys {
		c.m = map[string]store.KeyGrant{}
	}
	c.m[g.AccessKeyID] = g
}

// activityStore is the store's activity side, when it has one.
func (s *Server) activityStore() store.ActivityStore {
	a, _ := s.opts.Store.(store.ActivityStore)
	return a
}

// checkActivityAuth accepts "Authorization: Bearer SECRET" (or the bare
// secret, as MinIO's auth_token may send it) or "X-Jit-Signature:
// sha256=HEX" over the body, comparing in constant time.
func checkActivityAuth(secret string, r *http.Request, body []byte) error {
	if sig := r.Header.Get("X-Jit-Signature"); sig != "" {
		want := hmac.New(sha256.New, []byte(secret))
		want.Write(body)
		got, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256="))
		if err != nil || !hmac.Equal(got, want.Sum(nil)) {
			return errors.New("bad X-Jit-Signature")
		}
		return nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return errors.New("no Authorization header or X-Jit-Signature")
	}
	tok := h
	if scheme, rest, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		tok = strings.TrimSpace(rest)
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(secret)) != 1 {
		return errors.New("bad activity secret")
	}
	return nil
}

// ingest reads an authenticated delivery, parses it with parse and folds
// the calls into their grants.
func (s *Server) ingest(source string, parse func(ctx context.Context, body []byte) ([]store.Call, int, int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		act := s.activityStore()
		if s.opts.Activity.Secret == "" || act == nil {
			writeError(w, &api.Error{Code: api.CodeNotFound, Message: "activity ingestion is not configured on this server",
				Hint: "set activity.secret in the server config (docs/concepts.md)"}, http.StatusNotFound)
			return
		}
		// A bearer secret is checked before the body is read: a stranger
		// does not get 1 MiB buffered per connection (only the HMAC needs it).
		var body []byte
		err := checkActivityAuth(s.opts.Activity.Secret, r, nil)
		if err == nil || r.Header.Get("X-Jit-Signature") != "" {
			if body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxActivityBody)); err != nil {
				writeError(w, &api.Error{Code: api.CodeInvalid, Message: fmt.Sprintf("activity body over %d bytes", maxActivityBody),
					Hint: "send fewer events per delivery"}, http.StatusRequestEntityTooLarge)
				return
			}
			err = checkActivityAuth(s.opts.Activity.Secret, r, body)
		} else {
			// Refused unread: close the connection rather than let
			// net/http drain up to 256 KiB of the stranger's body first.
			w.Header().Set("Connection", "close")
		}
		if err != nil {
			s.metrics.authFailed.Inc()
			// Limited and summarised like the API's failures (authfail.go):
			// one audit record per try let anyone flood the log.
			addr := clientAddress(r)
			if wait, blocked := s.authFails.blocked(addr, s.now()); blocked {
				w.Header().Set("Retry-After", strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second))))
				writeError(w, &api.Error{Code: api.CodeRateLimited, Message: "too many failed authentications from " + addr,
					Hint: "check the sender's activity secret, then wait"}, http.StatusTooManyRequests)
				return
			}
			s.authFails.failed(addr, "activity:"+source+": "+err.Error(), s.now())
			writeError(w, &api.Error{Code: api.CodeUnauthenticated, Message: "activity delivery not authenticated: " + err.Error(),
				Hint: "send Authorization: Bearer <activity.secret>"}, http.StatusUnauthorized)
			return
		}
		calls, received, unmatched, err := parse(r.Context(), body)
		if err != nil {
			var apiErr *api.Error
			if errors.As(err, &apiErr) {
				writeError(w, apiErr, statusFor(apiErr.Code))
				return
			}
			s.log.Error("activity ingestion", "source", source, "err", err)
			writeError(w, &api.Error{Code: api.CodeInternal, Message: "internal error: " + err.Error()}, http.StatusInternalServerError)
			return
		}
		recorded := 0
		if len(calls) > 0 {
			if recorded, err = act.RecordActivity(r.Context(), calls); err != nil {
				s.log.Error("record activity", "source", source, "err", err)
				writeError(w, &api.Error{Code: api.CodeUnavailable, Message: "could not record activity", Hint: "retry"}, http.StatusServiceUnavailable)
				return
			}
		}
		s.metrics.activity.With(source).Add(float64(recorded))
		writeJSON(w, http.StatusOK, api.IngestResult{Received: received, Recorded: recorded,
			Duplicate: len(calls) - recorded, Unmatched: unmatched})
	}
}

// grantForKey maps an access key to the grant jit vended it for.
func (s *Server) grantForKey(ctx context.Context, key string) (store.KeyGrant, bool, error) {
	if key == "" {
		return store.KeyGrant{}, false, nil
	}
	if g, ok := s.keys.get(key); ok {
		return g, true, nil
	}
	g, err := s.activityStore().GrantForKey(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return g, false, nil
	case err != nil:
		return g, false, err
	}
	s.keys.put(g)
	return g, true, nil
}

// splitEntries accepts one JSON object, an array of them, or JSON lines.
func splitEntries(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil
	}
	var out []json.RawMessage
	if body[0] == '[' {
		if err := json.Unmarshal(body, &out); err != nil {
			return nil, err
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		for {
			var m json.RawMessage
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	if len(out) > maxActivityEvents {
		return nil, &api.Error{Code: api.CodeInvalid, Message: fmt.Sprintf("%d events in one delivery; at most %d", len(out), maxActivityEvents)}
	}
	return out, nil
}

// minioEntry is the part of a MinIO audit log entry jit reads.
type minioEntry struct {
	DeploymentID string    `json:"deploymentid"`
	Time         time.Time `json:"time"`
	RequestID    string    `json:"requestID"`
	AccessKey    string    `json:"accessKey"`
	ParentUser   string    `json:"parentUser"`
	API          struct {
		Name       string `json:"name"`
		StatusCode int    `json:"statusCode"`
	} `json:"api"`
}

// parseMinIO maps MinIO audit entries to calls. MinIO's API names are S3
// operations ("GetObject"), so actions are "s3:" + name; entries of keys
// jit did not vend (the server's own STS calls, other users) are unmatched.
func (s *Server) parseMinIO(ctx context.Context, body []byte) ([]store.Call, int, int, error) {
	raw, err := splitEntries(body)
	if err != nil {
		return nil, 0, 0, badActivity(err)
	}
	var calls []store.Call
	unmatched := 0
	for _, m := range raw {
		var e minioEntry
		if err := json.Unmarshal(m, &e); err != nil {
			return nil, 0, 0, badActivity(err)
		}
		g, ok, err := s.grantForKey(ctx, e.AccessKey)
		if err != nil {
			return nil, 0, 0, err
		}
		if !ok || e.API.Name == "" {
			unmatched++
			continue
		}
		id := e.RequestID
		if id == "" {
			sum := sha256.Sum256(m)
			id = hex.EncodeToString(sum[:16])
		}
		at := s.notAfterNow(e.Time)
		if at.IsZero() {
			at = s.now()
		}
		calls = append(calls, store.Call{EventID: "minio:" + e.DeploymentID + ":" + id, RequestID: g.RequestID,
			Requester: g.Requester, Role: g.Role, Time: at, Action: minioAction(e.API.Name), Error: e.API.StatusCode >= 400})
	}
	return calls, len(raw), unmatched, nil
}

func minioAction(name string) string {
	if strings.Contains(name, ":") {
		return name // admin:…, sts:… already name their service
	}
	return "s3:" + name
}

// cloudTrailRecord is the part of a CloudTrail record jit reads: the
// `detail` of an EventBridge "AWS API Call via CloudTrail" event.
type cloudTrailRecord struct {
	EventID      string    `json:"eventID"`
	EventTime    time.Time `json:"eventTime"`
	EventSource  string    `json:"eventSource"`
	EventName    string    `json:"eventName"`
	ErrorCode    string    `json:"errorCode"`
	UserIdentity struct {
		AccessKeyID    string `json:"accessKeyId"`
		SessionContext struct {
			SourceIdentity string `json:"sourceIdentity"`
			SessionIssuer  struct {
				ARN string `json:"arn"`
			} `json:"sessionIssuer"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	RequestParameters struct {
		RoleARN        string `json:"roleArn"`
		SourceIdentity string `json:"sourceIdentity"`
		Tags           []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"tags"`
	} `json:"requestParameters"`
	ResponseElements struct {
		Credentials struct {
			AccessKeyID string `json:"accessKeyId"`
		} `json:"credentials"`
	} `json:"responseElements"`
}

// parseCloudTrail accepts EventBridge events (their detail is the record),
// bare CloudTrail records, arrays of either, or a CloudTrail log file
// ({"Records": [...]}).
func (s *Server) parseCloudTrail(ctx context.Context, body []byte) ([]store.Call, int, int, error) {
	raw, err := splitEntries(body)
	if err != nil {
		return nil, 0, 0, badActivity(err)
	}
	var recs []cloudTrailRecord
	for _, m := range raw {
		var env struct {
			Detail  *cloudTrailRecord  `json:"detail"`
			Records []cloudTrailRecord `json:"Records"`
		}
		if err := json.Unmarshal(m, &env); err != nil {
			return nil, 0, 0, badActivity(err)
		}
		switch {
		case env.Detail != nil:
			recs = append(recs, *env.Detail)
		case env.Records != nil:
			recs = append(recs, env.Records...)
		default:
			var rec cloudTrailRecord
			if err := json.Unmarshal(m, &rec); err != nil {
				return nil, 0, 0, badActivity(err)
			}
			recs = append(recs, rec)
		}
	}
	if len(recs) > maxActivityEvents {
		return nil, 0, 0, &api.Error{Code: api.CodeInvalid, Message: fmt.Sprintf("%d events in one delivery; at most %d", len(recs), maxActivityEvents)}
	}
	var calls []store.Call
	unmatched := 0
	for _, rec := range recs {
		if rec.EventID == "" || rec.EventName == "" {
			unmatched++
			continue
		}
		if rec.EventName == "AssumeRole" && s.learnKeyFromAssumeRole(ctx, rec) {
			continue // jit's own vend: it maps a key, it is not the grant's use
		}
		g, ok, err := s.grantForKey(ctx, rec.UserIdentity.AccessKeyID)
		if err != nil {
			return nil, 0, 0, err
		}
		if !ok {
			if g, ok, err = s.grantBySourceIdentity(ctx, rec); err != nil {
				return nil, 0, 0, err
			}
		}
		if !ok {
			unmatched++
			continue
		}
		svc, _, _ := strings.Cut(rec.EventSource, ".")
		calls = append(calls, store.Call{EventID: "cloudtrail:" + rec.EventID, RequestID: g.RequestID, Requester: g.Requester,
			Role: g.Role, Time: s.notAfterNow(rec.EventTime), Action: svc + ":" + rec.EventName, Error: rec.ErrorCode != ""})
	}
	return calls, len(recs), unmatched, nil
}

// learnKeyFromAssumeRole remembers the key of an AssumeRole call tagged
// with a jit request id, when the request exists, is of that role and its
// requester is the session's source identity (so a forged tag on someone
// else's session maps nothing). It reports whether the record was jit's.
func (s *Server) learnKeyFromAssumeRole(ctx context.Context, rec cloudTrailRecord) bool {
	var reqID string
	for _, t := range rec.RequestParameters.Tags {
		if t.Key == vend.TagRequestID {
			reqID = t.Value
		}
	}
	key := rec.ResponseElements.Credentials.AccessKeyID
	if reqID == "" || key == "" {
		return false
	}
	req, err := s.opts.Store.Get(ctx, reqID)
	if err != nil {
		return true
	}
	role, ok := s.Policy().Role(req.Role)
	if !ok || role.ARN != rec.RequestParameters.RoleARN || vend.SourceIdentity(req.Requester) != rec.RequestParameters.SourceIdentity {
		return true
	}
	if _, known, _ := s.grantForKey(ctx, key); !known {
		_ = s.activityStore().RememberKey(ctx, store.KeyGrant{AccessKeyID: key, RequestID: req.ID, Requester: req.Requester, Role: req.Role}, rec.EventTime)
	}
	return true
}

// grantBySourceIdentity finds the one grant of the session's source
// identity on the session's role that was live at the event's time.
func (s *Server) grantBySourceIdentity(ctx context.Context, rec cloudTrailRecord) (store.KeyGrant, bool, error) {
	si, issuer := rec.UserIdentity.SessionContext.SourceIdentity, rec.UserIdentity.SessionContext.SessionIssuer.ARN
	if si == "" || issuer == "" {
		return store.KeyGrant{}, false, nil
	}
	var roles []string
	for _, r := range s.Policy().Roles {
		if strings.EqualFold(r.ARN, issuer) {
			roles = append(roles, r.Name)
		}
	}
	if len(roles) == 0 {
		return store.KeyGrant{}, false, nil
	}
	reqs, _, err := s.opts.Store.List(ctx, store.Filter{Roles: roles, Limit: 500,
		States: []api.State{api.StateApproved, api.StateActive, api.StateExpired, api.StateRevoked}})
	if err != nil {
		return store.KeyGrant{}, false, err
	}
	var found []api.Request
	for _, r := range reqs {
		end := r.EndsAt
		if r.State == api.StateRevoked && r.UpdatedAt.Before(end) {
			end = r.UpdatedAt
		}
		if vend.SourceIdentity(r.Requester) == si && !rec.EventTime.Before(r.StartsAt) && rec.EventTime.Before(end.Add(time.Hour)) {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		return store.KeyGrant{}, false, nil // none, or ambiguous: never guess
	}
	r := found[0]
	return store.KeyGrant{RequestID: r.ID, Requester: r.Requester, Role: r.Role}, true, nil
}

// notAfterNow clamps an event's time to the server's now plus
// activitySkew: a sender whose clock runs ahead (or a made-up time) must not
// date a call days ahead and so keep a grant from ever being idle.
func (s *Server) notAfterNow(t time.Time) time.Time {
	if latest := s.now().Add(activitySkew); t.After(latest) {
		return latest
	}
	return t
}

func badActivity(err error) error {
	return &api.Error{Code: api.CodeInvalid, Message: "bad activity body: " + err.Error(),
		Hint: "post MinIO audit entries to /v1/activity/minio and EventBridge CloudTrail events to /v1/activity/cloudtrail"}
}

// withActivity fills the Activity of requests from the store.
func (s *Server) withActivity(ctx context.Context, reqs ...*api.Request) {
	act := s.activityStore()
	if act == nil || len(reqs) == 0 {
		return
	}
	ids := make([]string, 0, len(reqs))
	for _, r := range reqs {
		if !r.StartsAt.IsZero() {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	got, err := act.Activity(ctx, ids...)
	if err != nil {
		s.log.Warn("read activity", "err", err)
		return
	}
	for _, r := range reqs {
		if a, ok := got[r.ID]; ok {
			r.Activity = &a
		}
	}
}

// flushActivity writes the grant.activity records that are due: windows
// older than the configured window, and those of grants that just ended.
func (s *Server) flushActivity(ctx context.Context, ended ...string) {
	act := s.activityStore()
	if act == nil {
		return
	}
	now := s.now()
	window := s.opts.Activity.Window
	n, err := act.FlushActivity(ctx, now, now.Add(-window), now.Add(-activityDedupe), ended...)
	if err != nil {
		s.log.Warn("flush activity", "err", err)
		return
	}
	if n > 0 {
		s.metrics.transitions.With(audit.TypeActivity).Add(float64(n))
		if s.opts.Events != nil {
			s.opts.Events(store.Event{Time: now, Type: audit.TypeActivity})
		}
	}
}

package server

// This file reads the two activity log shapes jit ingests: MinIO's audit
// log entries and CloudTrail records, and maps their access keys to grants.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/vend"
)

// splitEntries accepts one JSON object, an array of them, or JSON lines,
// and stops at the first entry past maxActivityEvents.
func splitEntries(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	array := body[0] == '['
	if array {
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
	}
	var out []json.RawMessage
	for array && dec.More() || !array {
		var m json.RawMessage
		if err := dec.Decode(&m); !array && errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if len(out) == maxActivityEvents {
			return nil, tooManyEvents()
		}
		out = append(out, m)
	}
	if array {
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, errors.New("data after the array")
		}
	}
	return out, nil
}

func tooManyEvents() error {
	return &api.Error{Code: api.CodeInvalid, Message: fmt.Sprintf("more than %d events in one delivery; at most %d", maxActivityEvents, maxActivityEvents),
		Hint: "send fewer events per delivery"}
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
		return nil, 0, 0, badActivityOrLimit(err)
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
	recs, err := decodeCloudTrail(body)
	if err != nil {
		return nil, 0, 0, err
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
		at := s.notAfterNow(rec.EventTime)
		if at.IsZero() {
			at = s.now() // no eventTime: received now, not in year 1
		}
		calls = append(calls, store.Call{EventID: "cloudtrail:" + rec.EventID, RequestID: g.RequestID, Requester: g.Requester,
			Role: g.Role, Time: at, Action: svc + ":" + rec.EventName, Error: rec.ErrorCode != ""})
	}
	return calls, len(recs), unmatched, nil
}

// decodeCloudTrail reads a CloudTrail delivery's records, decoding a log
// file's Records one at a time and stopping at the first record past
// maxActivityEvents: an authenticated 1 MiB of {"Records":[{},…]} costs a
// few MiB, not the 438 MiB decoding them all first did.
func decodeCloudTrail(body []byte) ([]cloudTrailRecord, error) {
	raw, err := splitEntries(body)
	if err != nil {
		return nil, badActivityOrLimit(err)
	}
	var recs []cloudTrailRecord
	add := func(dec func(*cloudTrailRecord) error) error {
		if len(recs) == maxActivityEvents {
			return tooManyEvents()
		}
		var rec cloudTrailRecord
		if err := dec(&rec); err != nil {
			return badActivity(err)
		}
		recs = append(recs, rec)
		return nil
	}
	for _, m := range raw {
		var env struct {
			Detail  json.RawMessage `json:"detail"`
			Records json.RawMessage `json:"Records"`
		}
		if err := json.Unmarshal(m, &env); err != nil {
			return nil, badActivity(err)
		}
		present := func(r json.RawMessage) bool { return r != nil && string(r) != "null" }
		switch {
		case present(env.Detail):
			err = add(func(r *cloudTrailRecord) error { return json.Unmarshal(env.Detail, r) })
		case present(env.Records):
			err = eachRecord(env.Records, add)
		default:
			err = add(func(r *cloudTrailRecord) error { return json.Unmarshal(m, r) })
		}
		if err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// eachRecord streams a JSON array, handing each element to add.
func eachRecord(array json.RawMessage, add func(func(*cloudTrailRecord) error) error) error {
	dec := json.NewDecoder(bytes.NewReader(array))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return badActivity(errors.New("the Records of a CloudTrail log file are not an array"))
	}
	for dec.More() {
		if err := add(func(r *cloudTrailRecord) error { return dec.Decode(r) }); err != nil {
			return err
		}
	}
	return nil
}

// badActivityOrLimit keeps the limit's own error, else badActivity.
func badActivityOrLimit(err error) error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return err
	}
	return badActivity(err)
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

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

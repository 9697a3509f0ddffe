package vend

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file builds the revocation policy document: pure functions over its
// JSON, with no AWS calls, so each rule is tested without IAM.

// MergeRevocation returns current (a jit-revocations policy document, ""
// for none) with a Deny for in added and jit's entries whose Until is not
// after now removed. Statements jit did not write are kept. It returns ""
// when nothing is left, and an *Error of KindPolicyTooLarge when the result
// would exceed IAM's limit.
func MergeRevocation(current string, in RevokeInput, now time.Time) (string, error) {
	stmts, err := revocationStatements(current)
	if err != nil {
		return "", err
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
		deny, err := revocationDeny(sid, in, until)
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

// revocationStatements reads the statements of the current revocation
// policy document ("" for none); Statement may be one object or a list.
func revocationStatements(current string) ([]json.RawMessage, error) {
	var stmts []json.RawMessage
	if strings.TrimSpace(current) == "" {
		return nil, nil
	}
	var doc struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(current), &doc); err != nil {
		return nil, fmt.Errorf("parse %s policy: %w", RevocationPolicyName, err)
	}
	if t := bytes.TrimSpace(doc.Statement); len(t) > 0 && t[0] == '{' {
		stmts = []json.RawMessage{t}
	} else if len(t) > 0 {
		if err := json.Unmarshal(t, &stmts); err != nil {
			return nil, fmt.Errorf("parse %s policy statements: %w", RevocationPolicyName, err)
		}
	}
	return stmts, nil
}

// revocationDeny is the Deny statement sid for in's sessions, in force until
// until (whole seconds, already rounded up).
func revocationDeny(sid string, in RevokeInput, until time.Time) (json.RawMessage, error) {
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
		cond["DateLessThan"]["aws:TokenIssueTime"] = IssueCutoff(in.IssuedBefore).Format(time.RFC3339)
	}
	return json.Marshal(statement{Sid: sid, Effect: "Deny", Action: "*", Resource: "*", Condition: cond})
}

// IssueCutoff is the aws:TokenIssueTime a revocation at t denies sessions
// issued before: t plus RevokeClockSkew, rounded up to the next whole
// second. Never down: a session issued in the revoke's own second (the
// condition has second resolution) or a little ahead on AWS's clock is
// still caught.
func IssueCutoff(t time.Time) time.Time {
	return t.Add(RevokeClockSkew).UTC().Truncate(time.Second).Add(time.Second)
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

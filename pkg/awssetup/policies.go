// Package awssetup builds the AWS IAM documents jit needs — each target
// role's trust policy, the jit server's identity policy, each account's
// revoker role — and renders them, with the roles and the audit anchor's
// Object Lock bucket, as Terraform JSON or CloudFormation for
// `jit server aws-setup`. The same builders are what docs/aws-setup.md
// shows (a test diffs them) and what the IAM evaluator tests check
// (internal/iamsim), so the command, the docs and the checked semantics
// cannot drift apart.
package awssetup

import (
	"encoding/json"
	"slices"
)

// PolicyVersion is IAM's current policy language version.
const PolicyVersion = "2012-10-17"

// RequestTagCondition is the value jit's request ids match
// (pkg/server makes them "req_" + a ULID).
const RequestTagCondition = "req_*"

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM policy statement, fields in AWS's usual order.
type Statement struct {
	Sid       string                     `json:"Sid,omitempty"`
	Effect    string                     `json:"Effect"`
	Principal map[string]List            `json:"Principal,omitempty"`
	Action    List                       `json:"Action"`
	Resource  List                       `json:"Resource,omitempty"`
	Condition map[string]map[string]List `json:"Condition,omitempty"`
}

// List is a string or a list of strings in IAM's JSON: one element is
// written as a string, as AWS's own examples do.
type List []string

// MarshalJSON writes one element as a string, several as a list.
func (l List) MarshalJSON() ([]byte, error) {
	if len(l) == 1 {
		return json.Marshal(l[0])
	}
	return json.Marshal([]string(l))
}

// UnmarshalJSON reads a string or a list of strings.
func (l *List) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*l = List{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// JSON is the document as indented JSON text.
func (d Document) JSON() string {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		panic(err) // only strings and maps of strings: cannot fail
	}
	return string(b)
}

// vendActions are what the jit server does on a target role at every vend:
// assume it, set the requester as SourceIdentity, tag the session with the
// request (pkg/vend).
var vendActions = List{"sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"}

// revokeActions are what writing the jit-revocations inline policy takes
// (pkg/vend's IAMRevoker).
var revokeActions = List{"iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"}

// TargetTrustPolicy is a target role's trust policy: only the jit server's
// principal may assume it, only with a jit request tag, and it may set
// SourceIdentity and session tags (STS refuses the whole call otherwise).
func TargetTrustPolicy(serverPrincipal string) Document {
	return Document{Version: PolicyVersion, Statement: []Statement{{
		Sid:       "JitServer",
		Effect:    "Allow",
		Principal: map[string]List{"AWS": {serverPrincipal}},
		Action:    vendActions,
		Condition: map[string]map[string]List{
			"StringLike": {"aws:RequestTag/jit-request-id": {RequestTagCondition}},
		},
	}}}
}

// ServerInputs are what the server's identity policy names.
type ServerInputs struct {
	// Targets are the target roles' ARNs.
	Targets []string
	// Revokers are the revoker roles' ARNs (one per other account).
	Revokers []string
	// OwnAccountTargets are the target roles in the server's own account,
	// which it revokes on with its own credentials; empty without
	// revoke_with_inline_policy.
	OwnAccountTargets []string
	// AnchorBucket and AnchorPrefix are the audit anchor's Object Lock
	// bucket and key prefix; "" without audit.anchor.
	AnchorBucket string
	AnchorPrefix string
}

// ServerPolicy is the jit server's identity policy. Every resource is an
// exact ARN: a wildcard such as role/jit-* would also match the server's
// and the revokers' own roles, and iam:PutRolePolicy on its own role lets a
// principal grant itself anything.
func ServerPolicy(in ServerInputs) Document {
	d := Document{Version: PolicyVersion}
	if len(in.Targets) > 0 {
		d.Statement = append(d.Statement, Statement{Sid: "VendGrants", Effect: "Allow", Action: vendActions, Resource: sorted(in.Targets)})
	}
	if len(in.Revokers) > 0 {
		d.Statement = append(d.Statement, Statement{Sid: "AssumeRevokers", Effect: "Allow", Action: List{"sts:AssumeRole"}, Resource: sorted(in.Revokers)})
	}
	if len(in.OwnAccountTargets) > 0 {
		d.Statement = append(d.Statement, Statement{Sid: "EarlyRevocation", Effect: "Allow", Action: revokeActions, Resource: sorted(in.OwnAccountTargets)})
	}
	if in.AnchorBucket != "" {
		// pkg/auditanchor: PutObject with a COMPLIANCE retention (hence
		// PutObjectRetention), ListObjectVersions, GetObject of a version.
		// Nothing that deletes or shortens a retention.
		bucket := "arn:aws:s3:::" + in.AnchorBucket
		d.Statement = append(d.Statement,
			Statement{Sid: "AuditAnchorWrite", Effect: "Allow",
				Action:   List{"s3:PutObject", "s3:PutObjectRetention", "s3:GetObject", "s3:GetObjectVersion"},
				Resource: List{bucket + "/" + in.AnchorPrefix + "*"}},
			Statement{Sid: "AuditAnchorList", Effect: "Allow", Action: List{"s3:ListBucketVersions"}, Resource: List{bucket}})
	}
	return d
}

// RevokerTrustPolicy is a revoker role's trust policy: the jit server only,
// with the external id when one is configured.
func RevokerTrustPolicy(serverPrincipal, externalID string) Document {
	st := Statement{Effect: "Allow", Principal: map[string]List{"AWS": {serverPrincipal}}, Action: List{"sts:AssumeRole"}}
	if externalID != "" {
		st.Condition = map[string]map[string]List{"StringEquals": {"sts:ExternalId": {externalID}}}
	}
	return Document{Version: PolicyVersion, Statement: []Statement{st}}
}

// RevokerPolicy is a revoker role's permissions: the inline policies of its
// account's target roles, named one by one (never itself). IAM has no
// condition key for an inline policy's name, so the revoker can write any
// inline policy of those roles, not only jit-revocations
// (docs/security.md).
func RevokerPolicy(targets []string) Document {
	return Document{Version: PolicyVersion, Statement: []Statement{{
		Sid: "JitRevocations", Effect: "Allow", Action: revokeActions, Resource: sorted(targets),
	}}}
}

func sorted(s []string) List {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

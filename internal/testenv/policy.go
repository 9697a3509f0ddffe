package testenv

import (
	"slices"
	"strings"
)

// The test policy fixture: one place that writes jit's policy file for
// tests. A Role starts from the defaults every test shares (an ARN in the
// test account, developers eligible, approvers approve); the named roles
// below are the ones tests need, and With/Without adjust one for a test.
// Policy renders roles under the one admins group.

// Role is one role of a test policy: its name and its fields in order.
type Role struct {
	Name   string
	fields [][2]string
}

// NewRole is a role with the shared defaults — arn
// arn:aws:iam::123456789012:role/jit-NAME, eligible {groups: [developers]},
// approvers {groups: [approvers]} — then the given key, value pairs.
func NewRole(name string, keyValues ...string) Role {
	r := Role{Name: name, fields: [][2]string{
		{"arn", "arn:aws:iam::123456789012:role/jit-" + name},
		{"eligible", "{groups: [developers]}"},
		{"approvers", "{groups: [approvers]}"},
	}}
	for i := 0; i+1 < len(keyValues); i += 2 {
		r = r.With(keyValues[i], keyValues[i+1])
	}
	return r
}

// With returns the role with key set to value (replaced where the role
// has it, else added). A value of several lines is a YAML block, e.g.
// "|\n{...}".
func (r Role) With(key, value string) Role {
	fields := slices.Clone(r.fields)
	for i, f := range fields {
		if f[0] == key {
			fields[i][1] = value
			return Role{Name: r.Name, fields: fields}
		}
	}
	return Role{Name: r.Name, fields: append(fields, [2]string{key, value})}
}

// Without returns the role without key.
func (r Role) Without(key string) Role {
	return Role{Name: r.Name, fields: slices.DeleteFunc(slices.Clone(r.fields), func(f [2]string) bool { return f[0] == key })}
}

// The roles tests share.
var (
	// ReadOnly is auto-approved for developers, 15m by default, 1h at most.
	ReadOnly = NewRole("readonly", "default_duration", "15m", "max_duration", "1h", "auto_approve", "{groups: [developers]}")
	// ProdAdmin needs a reason and one approver; a request pends 10m at most.
	ProdAdmin = NewRole("prod-admin", "default_duration", "30m", "max_duration", "2h", "reason_required", "true",
		"pending_timeout", "10m")
	// TwoMan needs two approvers.
	TwoMan = NewRole("two-man", "approvals_required", "2", "max_duration", "1h")
	// OnCall allows break-glass for up to 30m.
	OnCall = NewRole("oncall", "max_duration", "1h", "break_glass", "{allowed: true, max_duration: 30m}")
	// Idle is auto-approved and ends after a minute without activity.
	Idle = NewRole("idle", "default_duration", "30m", "max_duration", "1h", "auto_approve", "{groups: [developers]}",
		"idle_timeout", "1m")
)

// S3ReadOnly is ReadOnly whose sessions may only read S3 (for MinIO).
var S3ReadOnly = ReadOnly.With("session_policy", "|\n"+S3ReadSessionPolicy)

// S3ReadSessionPolicy is a session policy that allows reading S3 only.
const S3ReadSessionPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket","s3:ListAllMyBuckets","s3:GetBucketLocation"],"Resource":"*"}]}`

// BaseRoles are the shared roles: ReadOnly, ProdAdmin, TwoMan, OnCall and
// Idle. Append a test's own roles to add them.
func BaseRoles() []Role { return []Role{ReadOnly, ProdAdmin, TwoMan, OnCall, Idle} }

// Policy is the text of a policy file with the admins group "admins" and
// roles, in order.
func Policy(roles ...Role) string {
	var b strings.Builder
	b.WriteString("admins: {groups: [admins]}\nroles:\n")
	for _, r := range roles {
		b.WriteString("  - name: " + r.Name + "\n")
		for _, f := range r.fields {
			b.WriteString("    " + f[0] + ": " + strings.ReplaceAll(f[1], "\n", "\n      ") + "\n")
		}
	}
	return b.String()
}

package awssetup

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/vend"
)

// DefaultServerRoleName and DefaultRevokerRoleName name the roles the
// generator creates when the config does not name them.
const (
	DefaultServerRoleName  = "jit-server"
	DefaultRevokerRoleName = "jit-revoker"
	// DefaultServerTrust is who may run as the server's role: EC2 (an
	// instance profile) unless --server-trust says otherwise.
	DefaultServerTrust = "ec2.amazonaws.com"
)

// Options are what the config file does not say.
type Options struct {
	// ServerAccount is the AWS account the jit server runs in (required).
	ServerAccount string
	// ServerRoleName is the server's role ["jit-server"].
	ServerRoleName string
	// ServerTrust is who may use the server's role: a service principal
	// (ec2.amazonaws.com, ecs-tasks.amazonaws.com, …) or an IAM ARN.
	ServerTrust string
}

// Target is one target role of the policy.
type Target struct {
	Policy             string // the role's name in jit's policy
	ARN                string
	Account            string
	RoleName           string
	Path               string // the IAM path, "/" by default
	MaxSessionDuration time.Duration
}

// Revoker is the revoker role of one account other than the server's.
type Revoker struct {
	Account    string
	ARN        string
	RoleName   string
	ExternalID string
	// Targets are the account's target role ARNs it may change.
	Targets []string
	// FromConfig is false when the config names no revoker for the account
	// and the generator made one up (the operator must add it).
	FromConfig bool
}

// Anchor is the audit anchor's Object Lock bucket.
type Anchor struct {
	Bucket        string
	Prefix        string
	RetentionDays int
}

// Plan is everything the AWS set-up for one config holds.
type Plan struct {
	ServerAccount string
	ServerRoleARN string
	ServerRole    string
	ServerTrust   string
	Targets       []Target
	Revoke        bool
	Revokers      []Revoker
	Anchor        *Anchor
	// Region is the provider region of each account (IAM is global; the
	// anchor bucket lives in the server account's): audit.anchor.region,
	// else aws.region, else us-east-1.
	Region       string
	AnchorRegion string
}

var (
	accountRE  = regexp.MustCompile(`^[0-9]{12}$`)
	roleNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
)

// ErrInput is what every bad input wraps.
var ErrInput = errors.New("aws-setup")

func inputErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInput, fmt.Sprintf(format, a...))
}

// NewPlan reads what the set-up needs from a loaded server config.
func NewPlan(cfg *config.Config, o Options) (*Plan, error) {
	if !accountRE.MatchString(o.ServerAccount) {
		return nil, inputErr("server account %q: want the 12-digit id of the AWS account the jit server runs in", o.ServerAccount)
	}
	if o.ServerRoleName == "" {
		o.ServerRoleName = DefaultServerRoleName
	}
	if !roleNameRE.MatchString(o.ServerRoleName) {
		return nil, inputErr("server role name %q: IAM role names are 1-64 of [A-Za-z0-9+=,.@_-]", o.ServerRoleName)
	}
	if o.ServerTrust == "" {
		o.ServerTrust = DefaultServerTrust
	}
	if !strings.HasSuffix(o.ServerTrust, ".amazonaws.com") && !strings.HasPrefix(o.ServerTrust, "arn:aws:iam::") {
		return nil, inputErr("server trust %q: want a service principal (ecs-tasks.amazonaws.com) or an IAM ARN", o.ServerTrust)
	}
	if cfg.Policy == nil || len(cfg.Policy.Roles) == 0 {
		return nil, inputErr("%s has no roles: nothing to set up", cfg.Path)
	}
	p := &Plan{ServerAccount: o.ServerAccount, ServerRole: o.ServerRoleName, ServerTrust: o.ServerTrust,
		ServerRoleARN: "arn:aws:iam::" + o.ServerAccount + ":role/" + o.ServerRoleName,
		Revoke:        cfg.AWS.RevokeWithInlinePolicy}
	for _, r := range cfg.Policy.Roles {
		t, err := target(r.Name, r.ARN, r.MaxSessionDuration)
		if err != nil {
			return nil, err
		}
		if t.ARN == p.ServerRoleARN {
			return nil, inputErr("role %s is the server's own role %s: a target must be another role", r.Name, t.ARN)
		}
		p.Targets = append(p.Targets, t)
	}
	if p.Revoke {
		if err := p.addRevokers(cfg.AWS.Revokers); err != nil {
			return nil, err
		}
	}
	p.Region = cmp.Or(cfg.AWS.Region, "us-east-1")
	p.AnchorRegion = p.Region
	if a := cfg.Audit.Anchor; a.Bucket != "" {
		p.Anchor = &Anchor{Bucket: a.Bucket, Prefix: a.Prefix, RetentionDays: a.RetentionDays}
		p.AnchorRegion = cmp.Or(a.Region, p.Region)
	}
	return p, nil
}

func target(name, arn string, maxSession time.Duration) (Target, error) {
	account := vend.AccountFromARN(arn)
	_, res, ok := strings.Cut(arn, ":role/")
	if account == "" || !ok || !strings.HasPrefix(arn, "arn:aws:iam::") {
		return Target{}, inputErr("role %s: ARN %q is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", name, arn)
	}
	path := "/"
	if i := strings.LastIndex(res, "/"); i >= 0 {
		path = "/" + res[:i+1]
	}
	roleName := vend.RoleNameFromARN(arn)
	if !roleNameRE.MatchString(roleName) {
		return Target{}, inputErr("role %s: role name %q in %s is not a valid IAM role name", name, roleName, arn)
	}
	if maxSession <= 0 {
		maxSession = vend.DefaultMaxSession
	}
	return Target{Policy: name, ARN: arn, Account: account, RoleName: roleName, Path: path, MaxSessionDuration: maxSession}, nil
}

// addRevokers gives every account with targets, other than the server's,
// its revoker role: the configured one, else jit-revoker (to be added to
// the config).
func (p *Plan) addRevokers(configured map[string]config.Revoker) error {
	byAccount := map[string]*Revoker{}
	for _, t := range p.Targets {
		if t.Account == p.ServerAccount {
			continue
		}
		r := byAccount[t.Account]
		if r == nil {
			r = &Revoker{Account: t.Account, RoleName: DefaultRevokerRoleName,
				ARN: "arn:aws:iam::" + t.Account + ":role/" + DefaultRevokerRoleName}
			if c, ok := configured[t.Account]; ok {
				r.ARN, r.ExternalID, r.FromConfig = c.RoleARN, c.ExternalID, true
				r.RoleName = vend.RoleNameFromARN(c.RoleARN)
			}
			byAccount[t.Account] = r
		}
		if t.ARN == r.ARN {
			return inputErr("role %s is the revoker role of account %s: a revoker must not be a target", t.Policy, t.Account)
		}
		r.Targets = append(r.Targets, t.ARN)
	}
	for _, r := range byAccount {
		p.Revokers = append(p.Revokers, *r)
	}
	slices.SortFunc(p.Revokers, func(a, b Revoker) int { return strings.Compare(a.Account, b.Account) })
	return nil
}

// Accounts are the accounts the set-up touches, the server's first.
func (p *Plan) Accounts() []string {
	out := []string{p.ServerAccount}
	for _, t := range p.Targets {
		if !slices.Contains(out, t.Account) {
			out = append(out, t.Account)
		}
	}
	slices.Sort(out[1:])
	return out
}

// TargetsIn are the target roles in account.
func (p *Plan) TargetsIn(account string) []Target {
	var out []Target
	for _, t := range p.Targets {
		if t.Account == account {
			out = append(out, t)
		}
	}
	return out
}

// ServerInputs are the server policy's inputs for the plan.
func (p *Plan) ServerInputs() ServerInputs {
	in := ServerInputs{}
	for _, t := range p.Targets {
		in.Targets = append(in.Targets, t.ARN)
		if p.Revoke && t.Account == p.ServerAccount {
			in.OwnAccountTargets = append(in.OwnAccountTargets, t.ARN)
		}
	}
	for _, r := range p.Revokers {
		in.Revokers = append(in.Revokers, r.ARN)
	}
	if p.Anchor != nil {
		in.AnchorBucket, in.AnchorPrefix = p.Anchor.Bucket, p.Anchor.Prefix
	}
	return in
}

// ServerTrustPolicy is the server role's trust policy: the service (or
// principal) the jit server runs as.
func (p *Plan) ServerTrustPolicy() Document {
	key := "Service"
	if strings.HasPrefix(p.ServerTrust, "arn:") {
		key = "AWS"
	}
	return Document{Version: PolicyVersion, Statement: []Statement{{
		Effect: "Allow", Principal: map[string]List{key: {p.ServerTrust}}, Action: List{"sts:AssumeRole"},
	}}}
}

// ToDo is what is left to the operator after applying the output.
func (p *Plan) ToDo() []string {
	todo := []string{
		fmt.Sprintf("run the jit server as %s (its trust names %s); when that is an instance profile or task role, set aws.role_chaining: true", p.ServerRoleARN, p.ServerTrust),
		"give each target role its permissions (what the grant allows): the output writes only their trust policies and maximum session durations",
		"target roles that already exist: import them (terraform import aws_iam_role.NAME ROLE-NAME) or apply only their trust policies; remove every other principal from them",
	}
	if len(p.Accounts()) > 1 {
		todo = append(todo, "apply the server's account first: a trust policy naming "+p.ServerRoleARN+" is refused until that role exists")
	}
	for _, r := range p.Revokers {
		if !r.FromConfig {
			todo = append(todo, fmt.Sprintf("add the revoker to the config: aws.revokers.%q.role_arn: %s", r.Account, r.ARN))
		}
	}
	if !p.Revoke {
		todo = append(todo, "early revocation at AWS is off (aws.revoke_with_inline_policy): revoked grants' credentials work until the grant's end; no revoker roles were written")
	}
	if p.Anchor != nil {
		todo = append(todo, fmt.Sprintf("the audit anchor bucket %s is in COMPLIANCE mode: nobody, not even the account's root, can delete a checkpoint before its %d days end, nor the bucket while it holds one",
			p.Anchor.Bucket, p.Anchor.Retention()))
	}
	return todo
}

// DefaultAnchorRetentionDays is the retention when the config names none
// (what pkg/auditanchor uses).
const DefaultAnchorRetentionDays = 365

// Retention is the bucket's default retention in days.
func (a *Anchor) Retention() int {
	if a.RetentionDays <= 0 {
		return DefaultAnchorRetentionDays
	}
	return a.RetentionDays
}

package policy

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/jit-access/jit/pkg/api"
)

// Issuer is what the policy knows of one issuer the server trusts
// (config issuers:): its name, whether it issues workload tokens, and for a
// workload issuer the claims that say who controls the workload — the ones
// a workload cannot choose for itself (docs/policy.md, "Workload subjects").
type Issuer struct {
	Name     string
	Workload bool
	// Flavor is github, gitlab, kubernetes or generic.
	Flavor string
	// Identifying are the claims a workload subject must pin (at least one
	// of them); for the generic flavor the config's identifying_claims.
	Identifying []string
}

// Workload issuer flavors: what the claims of GitHub Actions, GitLab CI and
// Kubernetes service-account tokens mean.
const (
	FlavorGitHub     = "github"
	FlavorGitLab     = "gitlab"
	FlavorKubernetes = "kubernetes"
	FlavorGeneric    = "generic"
)

// FlavorIdentifying is, per flavor, the claims that name who controls a
// workload, which nobody who merely can run a job chooses: the repository
// (or its owner) on GitHub, the project (or its namespace) on GitLab, the
// namespace on Kubernetes, and sub (which embeds them) everywhere. Claims a
// job chooses — ref (any pusher picks a branch name), environment,
// workflow, job_workflow_ref (any repository may call a public reusable
// workflow), GitLab's user_* claims, a service account's name alone — may
// narrow a subject but never make one on their own.
func FlavorIdentifying(flavor string) []string {
	switch flavor {
	case FlavorGitHub:
		return []string{"repository_id", "repository_owner_id", "repository", "repository_owner", "sub"}
	case FlavorGitLab:
		return []string{"project_id", "namespace_id", "project_path", "namespace_path", "sub"}
	case FlavorKubernetes:
		return []string{"sub", "kubernetes.io/namespace"}
	}
	return nil
}

// flavorAliases are short names for nested claims (Kubernetes nests them
// under kubernetes.io): namespace is kubernetes.io/namespace.
var flavorAliases = map[string]map[string]string{
	FlavorKubernetes: {
		"namespace":      "kubernetes.io/namespace",
		"serviceaccount": "kubernetes.io/serviceaccount/name",
		"pod":            "kubernetes.io/pod/name",
	},
}

// WorkloadSubject matches workloads of one issuer by their token's claims:
// every listed claim must be present and equal its value, or match it as a
// glob (path.Match: * does not cross /). At least one claim that
// identifies the workload's owner must be pinned (Issuer.Identifying).
type WorkloadSubject struct {
	// Issuer is the name of a workload issuer in the server config.
	Issuer string `yaml:"issuer" json:"issuer"`
	// Claims are claim name → exact value or glob.
	Claims map[string]string `yaml:"claims" json:"claims"`
}

// String renders the subject for people: "github{repository=octo/app, ref=refs/heads/main}".
func (w WorkloadSubject) String() string {
	keys := slices.Sorted(maps.Keys(w.Claims))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+w.Claims[k])
	}
	return w.Issuer + "{" + strings.Join(parts, ", ") + "}"
}

// match reports whether u's claims satisfy w; when not, mismatch names the
// first claim (in name order) that failed and what the token said.
func (w WorkloadSubject) match(u api.User) (ok bool, mismatch string) {
	if u.IssuerName != w.Issuer {
		return false, fmt.Sprintf("the token is from issuer %s, not %s", u.IssuerName, w.Issuer)
	}
	for _, k := range slices.Sorted(maps.Keys(w.Claims)) {
		want := w.Claims[k]
		got, present := u.Claims[k]
		switch {
		case !present:
			return false, fmt.Sprintf("claim %s is missing (policy wants %q)", k, want)
		case !globMatch(want, got):
			return false, fmt.Sprintf("claim %s is %q, policy wants %q", k, got, want)
		}
	}
	return true, ""
}

func globMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, `*?[\`) {
		return pattern == s
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

// matchWorkload reports whether the workload u is one of s's workloads.
func (s Subjects) matchWorkload(u api.User) bool {
	for _, w := range s.Workloads {
		if ok, _ := w.match(u); ok {
			return true
		}
	}
	return false
}

// workloadMismatch explains why the workload u matched none of s's
// workload subjects, naming the claim (for the subject of u's issuer).
func (s Subjects) workloadMismatch(u api.User) string {
	var reasons []string
	for _, w := range s.Workloads {
		if w.Issuer != u.IssuerName {
			continue
		}
		if _, why := w.match(u); why != "" {
			reasons = append(reasons, why)
		}
	}
	switch len(reasons) {
	case 0:
		return fmt.Sprintf("no workload subject names issuer %s", u.IssuerName)
	case 1:
		return reasons[0]
	}
	return strings.Join(reasons, "; or ")
}

// workloadSubjects checks the workloads: entries under path against the
// trusted issuers: a known workload issuer, at least one claim, valid
// globs, and at least one identifying claim pinned by an exact value or a
// glob that only leaves the last segment open ("octo/*", "repo:octo/app:*").
func (v *validator) workloadSubjects(under string, ws []WorkloadSubject) {
	for i := range ws {
		at := fmt.Sprintf("%s.workloads[%d]", under, i)
		w := &ws[i]
		iss, ok := v.issuers[w.Issuer]
		switch {
		case w.Issuer == "":
			v.errorf(at+".issuer", "issuer is required: the name of a workload issuer in the server config's issuers:")
			continue
		case !ok:
			v.errorf(at+".issuer", "%q is not a workload issuer of the server config (issuers: %s)", w.Issuer, v.workloadIssuerNames())
			continue
		case !iss.Workload:
			v.errorf(at+".issuer", "%q is an issuer of people (kind human); match its users with users: and groups:", w.Issuer)
			continue
		}
		if len(w.Claims) == 0 {
			v.errorf(at+".claims", "list the claims to match (for example repository_id and ref); a subject without claims would match every workload of %s", w.Issuer)
			continue
		}
		// Canonical claim names (Kubernetes' namespace → kubernetes.io/namespace).
		claims := make(map[string]string, len(w.Claims))
		for k, val := range w.Claims {
			if full, ok := flavorAliases[iss.Flavor][k]; ok {
				k = full
			}
			if _, err := path.Match(val, ""); err != nil || strings.TrimSpace(val) == "" {
				v.errorf(at+".claims."+k, "%q is not a value or glob pattern", val)
			}
			claims[k] = val
		}
		w.Claims = claims
		if !pinsIdentifying(w.Claims, iss.Identifying) {
			v.errorf(at+".claims", "pins none of the claims that identify who controls a %s workload (%s) with an exact value or a trailing /* or :*; "+
				"the other claims (ref, environment, workflow, …) are chosen by whoever runs a job, so they cannot make a subject alone",
				w.Issuer, strings.Join(iss.Identifying, ", "))
		}
		if iss.Flavor == FlavorGitHub && !pinsAny(w.Claims, "repository_id", "repository_owner_id") {
			v.warnf(at+".claims", "pins repository names only; a deleted or renamed repository's name can be taken by another account: also pin repository_id or repository_owner_id")
		}
	}
}

func pinsAny(claims map[string]string, names ...string) bool {
	for _, n := range names {
		if val, ok := claims[n]; ok && pinned(val) {
			return true
		}
	}
	return false
}

func pinsIdentifying(claims map[string]string, identifying []string) bool {
	return pinsAny(claims, identifying...)
}

// pinned reports whether val fixes an owner: an exact value, or a glob
// whose only wildcard is a trailing * after a / or a :.
func pinned(val string) bool {
	if !strings.ContainsAny(val, `*?[\`) {
		return val != ""
	}
	stem, ok := strings.CutSuffix(val, "*")
	return ok && len(stem) > 1 && !strings.ContainsAny(stem, `*?[\`) && (strings.HasSuffix(stem, "/") || strings.HasSuffix(stem, ":"))
}

func (v *validator) workloadIssuerNames() string {
	var names []string
	for n, iss := range v.issuers {
		if iss.Workload {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none of kind workload"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// noWorkloads refuses workloads: where only people belong (approvers,
// admins, break-glass): a workload never approves, reviews or administers.
func (v *validator) noWorkloads(path string, s Subjects, what string) {
	if len(s.Workloads) > 0 {
		v.errorf(path+".workloads", "workloads never %s; list people (users: and groups: of an issuer of kind human)", what)
	}
}

// workloadNeverDecides is the refusal of any decision by a workload.
func workloadNeverDecides(u api.User, verb string) error {
	return &DeniedError{Reason: fmt.Sprintf("%s is a workload (issuer %s): workloads never %s", u.ID(), u.IssuerName, verb),
		Hint: "a person who is an approver of the role decides: jit approve, Slack or the approver page"}
}

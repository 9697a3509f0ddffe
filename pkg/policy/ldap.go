package policy

import (
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// UserPlaceholder stands for the requester's verified name (api.User.ID)
// in an ldap_group role's member_dn and member_search.filter.
const UserPlaceholder = "{user}"

// roleLDAP checks an ldap_group role's group and member lookup, and that
// it names none of the AWS role's keys.
func (v *validator) roleLDAP(at func(string) string, s *RoleSpec, r *Role) {
	for key, set := range map[string]bool{"arn": s.ARN != "", "account": s.Account != "", "region": s.Region != "",
		"max_session_duration": s.MaxSessionDuration.D() != 0, "session_policy": s.SessionPolicy != ""} {
		if set {
			v.errorf(at(key), "%s is an aws_role setting; an ldap_group role has none (remove it)", key)
		}
	}
	r.MaxSessionDuration = 0
	l := s.LDAP
	if l == nil {
		v.errorf(at("kind"), "kind ldap_group needs an ldap: block with group: and member_dn: (or member_search:)")
		return
	}
	g := &LDAPGroup{Group: l.Group, MemberDN: l.MemberDN}
	switch _, err := ldap.ParseDN(l.Group); {
	case l.Group == "":
		v.errorf(at("ldap.group"), "group is required: the group's DN (cn=prod-admins,ou=groups,dc=example,dc=org)")
	case err != nil:
		v.errorf(at("ldap.group"), "%q is not a DN: %v", l.Group, err)
	}
	switch {
	case l.MemberDN != "" && l.MemberSearch != nil:
		v.errorf(at("ldap.member_dn"), "set member_dn or member_search, not both")
	case l.MemberDN != "":
		_, err := ldap.ParseDN(strings.ReplaceAll(l.MemberDN, UserPlaceholder, "x"))
		switch {
		case !strings.Contains(l.MemberDN, UserPlaceholder):
			v.errorf(at("ldap.member_dn"), "%q does not contain %s, so every requester would be the same entry (uid={user},ou=people,dc=example,dc=org)", l.MemberDN, UserPlaceholder)
		case err != nil:
			v.errorf(at("ldap.member_dn"), "%q is not a DN template: %v", l.MemberDN, err)
		}
	case l.MemberSearch != nil:
		g.SearchBase, g.SearchFilter = l.MemberSearch.Base, l.MemberSearch.Filter
		if _, err := ldap.ParseDN(g.SearchBase); g.SearchBase == "" || err != nil {
			v.errorf(at("ldap.member_search.base"), "%q is not a DN to search under (ou=people,dc=example,dc=org)", g.SearchBase)
		}
		_, err := ldap.CompileFilter(strings.ReplaceAll(g.SearchFilter, UserPlaceholder, "x"))
		switch {
		case !strings.Contains(g.SearchFilter, UserPlaceholder):
			v.errorf(at("ldap.member_search.filter"), "%q does not contain %s ((mail={user}) or (uid={user}))", g.SearchFilter, UserPlaceholder)
		case err != nil:
			v.errorf(at("ldap.member_search.filter"), "%q is not an LDAP filter: %v", g.SearchFilter, err)
		}
	default:
		v.errorf(at("ldap"), "ldap needs member_dn (uid={user},ou=people,dc=example,dc=org) or member_search (base and filter) to find the requester's entry")
	}
	r.LDAP = g
}

// Target says what a role grants, for people (check-policy, explain): its
// kind and where.
func (r *Role) Target() string {
	switch l := r.LDAP; {
	case r.TargetKind() == KindLDAPGroup && l != nil && l.MemberDN != "":
		return KindLDAPGroup + ": membership of " + l.Group + " (member " + l.MemberDN + ")"
	case r.TargetKind() == KindLDAPGroup && l != nil:
		return KindLDAPGroup + ": membership of " + l.Group + " (member found under " + l.SearchBase + " by " + l.SearchFilter + ")"
	}
	return r.TargetKind() + ": " + r.ARN
}

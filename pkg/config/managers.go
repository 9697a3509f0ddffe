package config

import (
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/yamldoc"
)

// DefaultManagersCacheTTL is how long a directory's answer about a
// person's manager is kept when managers.cache_ttl is unset.
const DefaultManagersCacheTTL = 5 * time.Minute

// Managers says where a requester's manager comes from, for roles whose
// approvers include manager_of_requester (docs/policy.md, "Managers").
type Managers struct {
	// Source is claim (a claim of the requester's token), ldap (the
	// directory's manager attribute, through ldap:) or static (the map
	// below). Empty: no source, and manager_of_requester is refused.
	Source string `yaml:"source" json:"source,omitempty"`
	// Claim names the token claim holding the manager's username or email
	// (source claim), for example manager.
	Claim string `yaml:"claim" json:"claim,omitempty"`
	// LDAP finds the person's entry and reads their manager (source ldap).
	LDAP ManagersLDAP `yaml:"ldap" json:"ldap"`
	// Static maps a person (username or email) to their manager (source static).
	Static map[string]string `yaml:"static" json:"static,omitempty"`
	// CacheTTL is how long a directory answer is kept [5m] (0s..1h).
	CacheTTL yamldoc.Duration `yaml:"cache_ttl" json:"cache_ttl"`
}

// ManagersLDAP finds a person's manager in the directory.
type ManagersLDAP struct {
	// Base and Filter find the person's entry ({user} is their verified
	// username or email): ou=people,dc=example,dc=org and (mail={user}).
	Base   string `yaml:"base" json:"base,omitempty"`
	Filter string `yaml:"filter" json:"filter,omitempty"`
	// ManagerAttribute holds the manager's DN [manager].
	ManagerAttribute string `yaml:"manager_attribute" json:"manager_attribute,omitempty"`
	// NameAttribute of the manager's entry is the name approvers log in
	// with [mail].
	NameAttribute string `yaml:"name_attribute" json:"name_attribute,omitempty"`
}

// ManagersFromClaim is managers.source for a claim of the requester's token.
const ManagersFromClaim = "claim"

// validateManagers checks managers:, when it is set.
func (c *Config) validateManagers(v *validator) {
	m := &c.Managers
	if m.CacheTTL == 0 {
		m.CacheTTL = yamldoc.Duration(DefaultManagersCacheTTL)
	} else if d := m.CacheTTL.D(); d < 0 || d > time.Hour {
		v.errorf("managers.cache_ttl", "%s is outside 0s to 1h", d)
	}
	if m.LDAP.ManagerAttribute == "" {
		m.LDAP.ManagerAttribute = "manager"
	}
	if m.LDAP.NameAttribute == "" {
		m.LDAP.NameAttribute = "mail"
	}
	switch m.Source {
	case "":
		if m.Claim != "" || len(m.Static) > 0 || m.LDAP.Base != "" || m.LDAP.Filter != "" {
			v.errorf("managers", "managers settings without managers.source; add source: claim, ldap or static")
		}
	case ManagersFromClaim:
		if m.Claim == "" {
			v.errorf("managers.claim", "source claim needs claim: the token claim holding the manager's username or email (for example manager)")
		}
	case "ldap":
		if c.LDAP.URL == "" {
			v.errorf("managers.source", "source ldap reads the directory of ldap:; add ldap.url, ldap.bind_dn and ldap.bind_password_file")
		}
		if m.LDAP.Base == "" {
			v.errorf("managers.ldap.base", "base is required: where people's entries are (ou=people,dc=example,dc=org)")
		}
		if !strings.Contains(m.LDAP.Filter, "{user}") {
			v.errorf("managers.ldap.filter", "%q must contain {user}, the requester's verified name: (mail={user})", m.LDAP.Filter)
		}
	case "static":
		if len(m.Static) == 0 {
			v.errorf("managers.static", "source static needs the map of person: manager under static:")
		}
		for k, val := range m.Static {
			if strings.TrimSpace(val) == "" {
				v.errorf("managers.static", "%q has no manager; give a username or email", k)
			}
		}
	default:
		v.errorf("managers.source", "%q is not a manager source; use claim, ldap or static", m.Source)
	}
}

// validateManagerRoles refuses manager_of_requester when the server has
// no manager source.
func (c *Config) validateManagerRoles(v *validator) {
	if c.Policy == nil || c.Managers.Source != "" {
		return
	}
	for _, r := range c.Policy.Roles {
		if r.Approvers.ManagerOfRequester {
			v.errorf("managers", "role %s lets the requester's manager approve (manager_of_requester) but the server has no managers: source; add managers.source (claim, ldap or static)", r.Name)
			return
		}
	}
}

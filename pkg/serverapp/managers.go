package serverapp

import (
	"fmt"
	"time"

	"github.com/jit-access/jit/pkg/approvers"
	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/grants"
)

// newManagers builds the manager source managers: names (nil when none):
// the directory's answers are cached for managers.cache_ttl.
func newManagers(cfg *config.Config, now func() time.Time) (grants.ManagerSource, error) {
	m := cfg.Managers
	switch m.Source {
	case "":
		return nil, nil
	case config.ManagersFromClaim:
		return approvers.Claim{Name: m.Claim}, nil
	case approvers.SourceStatic:
		return approvers.Static(m.Static), nil
	case approvers.SourceLDAP:
		tc, err := ldapTLS(cfg)
		if err != nil {
			return nil, err
		}
		l := cfg.LDAP
		src, err := approvers.NewLDAP(approvers.LDAPOptions{URL: l.URL, StartTLS: l.StartTLS, TLS: tc, BindDN: l.BindDN,
			Password: l.BindPassword.Reveal(), Timeout: l.Timeout.D(), Base: m.LDAP.Base, Filter: m.LDAP.Filter,
			ManagerAttribute: m.LDAP.ManagerAttribute, NameAttribute: m.LDAP.NameAttribute})
		if err != nil {
			return nil, err
		}
		if m.CacheTTL.D() <= 0 {
			return src, nil
		}
		return &approvers.Cached{Source: src, TTL: m.CacheTTL.D(), Now: now}, nil
	}
	return nil, fmt.Errorf("managers.source %q is not known", m.Source)
}

package approvers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/jit-access/jit/pkg/api"
)

// UserPlaceholder in LDAP's filter stands for the person's verified name.
const UserPlaceholder = "{user}"

// LDAPOptions are the directory connection (the server's ldap:) and how a
// person's entry and their manager's name are found.
type LDAPOptions struct {
	URL      string
	StartTLS bool
	TLS      *tls.Config
	BindDN   string
	Password string
	Timeout  time.Duration // [10s]

	// Base and Filter find the person's entry (subtree search, exactly one
	// entry; {user} is their verified name, filter-escaped).
	Base, Filter string
	// ManagerAttribute holds the manager's DN on the person's entry [manager].
	ManagerAttribute string
	// NameAttribute on the manager's entry is the name the policy compares
	// with an approver's verified username or email [mail].
	NameAttribute string
}

// LDAP reads a person's manager from the directory: the manager attribute
// of their entry (a DN), then that entry's name attribute.
type LDAP struct{ o LDAPOptions }

// NewLDAP checks the options and fills in defaults; it connects only when asked.
func NewLDAP(o LDAPOptions) (*LDAP, error) {
	if o.URL == "" || o.BindDN == "" || o.Base == "" || o.Filter == "" {
		return nil, errors.New("approvers: ldap needs the url, the bind DN, a base and a filter")
	}
	if !strings.Contains(o.Filter, UserPlaceholder) {
		return nil, fmt.Errorf("approvers: the ldap filter %q has no %s", o.Filter, UserPlaceholder)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.ManagerAttribute == "" {
		o.ManagerAttribute = "manager"
	}
	if o.NameAttribute == "" {
		o.NameAttribute = "mail"
	}
	return &LDAP{o: o}, nil
}

// Kind implements Managers.
func (*LDAP) Kind() string { return SourceLDAP }

func (l *LDAP) fail(op string, err error, hint string) error {
	return &Error{Source: SourceLDAP, Op: op, Err: err, Hint: hint}
}

// Manager implements Managers.
func (l *LDAP) Manager(ctx context.Context, u api.User) (string, error) {
	who, err := personKey(u)
	if err != nil {
		return "", l.fail("find the manager", err, "")
	}
	op := "find the manager of " + who
	c, err := ldap.DialURL(l.o.URL, ldap.DialWithDialer(&net.Dialer{Timeout: l.o.Timeout}), ldap.DialWithTLSConfig(l.o.TLS))
	if err != nil {
		return "", l.fail(op, err, "check ldap.url and that the directory is reachable from the server")
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	c.SetTimeout(l.o.Timeout)
	if l.o.StartTLS {
		if err := c.StartTLS(l.o.TLS); err != nil {
			return "", l.fail(op, err, "check ldap.ca_file and the directory's certificate")
		}
	}
	if err := c.Bind(l.o.BindDN, l.o.Password); err != nil {
		return "", l.fail(op, err, "check ldap.bind_dn and the password in ldap.bind_password_file")
	}
	secs := int(l.o.Timeout.Seconds())
	filter := strings.ReplaceAll(l.o.Filter, UserPlaceholder, ldap.EscapeFilter(who))
	res, err := c.Search(ldap.NewSearchRequest(l.o.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, secs, false,
		filter, []string{l.o.ManagerAttribute}, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return "", l.fail(op, err, "check managers.ldap.base and managers.ldap.filter")
	}
	switch {
	case res == nil || len(res.Entries) == 0:
		return "", l.fail(op, fmt.Errorf("%w: no entry under %s matches %s", ErrNoManager, l.o.Base, filter),
			"the requester has no directory entry that managers.ldap.filter finds")
	case len(res.Entries) > 1:
		return "", l.fail(op, fmt.Errorf("more than one entry under %s matches %s", l.o.Base, filter),
			"make managers.ldap.filter match one entry per person")
	}
	managerDN := res.Entries[0].GetAttributeValue(l.o.ManagerAttribute)
	if managerDN == "" {
		return "", l.fail(op, fmt.Errorf("%w: %s has no %s attribute", ErrNoManager, res.Entries[0].DN, l.o.ManagerAttribute),
			"set the person's "+l.o.ManagerAttribute+" in the directory")
	}
	mres, err := c.Search(ldap.NewSearchRequest(managerDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, secs, false,
		"(objectClass=*)", []string{l.o.NameAttribute}, nil))
	if err != nil || len(mres.Entries) == 0 {
		if err == nil {
			err = errors.New("no such entry")
		}
		return "", l.fail(op, fmt.Errorf("read the manager %s: %w", managerDN, err),
			"the person's "+l.o.ManagerAttribute+" names an entry that cannot be read; fix it in the directory")
	}
	name := strings.TrimSpace(mres.Entries[0].GetAttributeValue(l.o.NameAttribute))
	if name == "" {
		return "", l.fail(op, fmt.Errorf("%w: the manager %s has no %s", ErrNoManager, managerDN, l.o.NameAttribute),
			"set managers.ldap.name_attribute to the attribute holding the name people log in with")
	}
	return name, nil
}

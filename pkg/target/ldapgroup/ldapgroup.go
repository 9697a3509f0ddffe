// Package ldapgroup is the directory group target (policy kind
// ldap_group): a grant is membership of an LDAP or Active Directory group.
// Start adds the requester's entry to the group's member attribute; End
// removes it. The requester's entry is found from their verified name
// (api.User.ID) with the role's DN template or search.
//
// What jit added is recorded in the group itself, in the same modify as
// the member: one value of the marker attribute (description by default)
// per grant, "jit-grant <request id> <+|=> <member DN>". "+" means jit
// added the member; "=" means the entry was a member already (a permanent
// member, which jit never removes). A member is removed when the last
// marker naming it goes and that marker is a "+". Created lists the
// markers, so a start (grants.Service.Reconcile) ends the memberships no
// live grant owns, even after a crash between the directory write and the
// store's record.
//
// The bind account needs read on the groups and the requesters' entries,
// and write on the groups' member and marker attributes only (docs/security.md).
// The bind password is never logged: errors name the URL and the bind DN.
package ldapgroup

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/target"
)

// markerPrefix starts every marker value jit writes.
const markerPrefix = "jit-grant "

// Options are the directory connection.
type Options struct {
	// URL is ldap://host:port or ldaps://host:port.
	URL string
	// StartTLS upgrades an ldap:// connection.
	StartTLS bool
	// TLS configures ldaps:// and StartTLS (nil: the system's roots).
	TLS *tls.Config
	// BindDN and Password are jit's bind account.
	BindDN, Password string
	// Marker is the group attribute recording jit's grants [description].
	Marker string
	// Timeout bounds each operation [10s].
	Timeout time.Duration
	Logger  *slog.Logger
}

// Target is the ldap_group target.
type Target struct {
	o Options

	mu     sync.Mutex
	groups []string // the groups of the last Check, for Created
}

var _ target.Reconciler = (*Target)(nil)

// New builds the target; it connects only when asked to act.
func New(o Options) (*Target, error) {
	if o.URL == "" || o.BindDN == "" {
		return nil, errors.New("ldapgroup: url and bind DN are required")
	}
	if o.Marker == "" {
		o.Marker = "description"
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Target{o: o}, nil
}

// Kind implements target.Target.
func (t *Target) Kind() string { return policy.KindLDAPGroup }

// Error is a directory failure, with what to check next.
type Error struct {
	Op   string
	Err  error
	Hint string
}

func (e *Error) Error() string {
	s := "ldap " + e.Op + ": " + e.Err.Error()
	if e.Hint != "" {
		s += " (Try: " + e.Hint + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// session is one bound connection, closed when ctx ends.
type session struct {
	c    *ldap.Conn
	stop func() bool
}

func (s *session) close() {
	s.stop()
	_ = s.c.Close()
}

// connect dials, upgrades and binds as the bind account.
func (t *Target) connect(ctx context.Context) (*session, error) {
	c, err := ldap.DialURL(t.o.URL, ldap.DialWithDialer(&net.Dialer{Timeout: t.o.Timeout}), ldap.DialWithTLSConfig(t.o.TLS))
	if err != nil {
		return nil, &Error{Op: "connect " + t.o.URL, Err: err, Hint: "check ldap.url and that the directory is reachable from the server"}
	}
	c.SetTimeout(t.o.Timeout)
	s := &session{c: c, stop: context.AfterFunc(ctx, func() { _ = c.Close() })}
	if t.o.StartTLS {
		if err := c.StartTLS(t.o.TLS); err != nil {
			s.close()
			return nil, &Error{Op: "starttls " + t.o.URL, Err: err, Hint: "check ldap.ca_file and the directory's certificate"}
		}
	}
	if err := c.Bind(t.o.BindDN, t.o.Password); err != nil {
		s.close()
		return nil, &Error{Op: "bind as " + t.o.BindDN, Err: err, Hint: "check ldap.bind_dn and the password in ldap.bind_password_file"}
	}
	return s, nil
}

// marker is one value of the group's marker attribute.
type marker struct {
	request string
	added   bool // jit added the member ("+"), else it was one already ("=")
	member  string
	raw     string
}

func (m marker) String() string {
	op := "="
	if m.added {
		op = "+"
	}
	return markerPrefix + m.request + " " + op + " " + m.member
}

func parseMarker(v string) (marker, bool) {
	rest, ok := strings.CutPrefix(v, markerPrefix)
	if !ok {
		return marker{}, false
	}
	parts := strings.SplitN(rest, " ", 3)
	if len(parts) != 3 || parts[0] == "" || (parts[1] != "+" && parts[1] != "=") || parts[2] == "" {
		return marker{}, false
	}
	return marker{request: parts[0], added: parts[1] == "+", member: parts[2], raw: v}, true
}

// group is what jit reads of a group.
type group struct {
	dn      string
	members []string
	markers []marker
}

func (g *group) isMember(dn string) bool {
	return slices.ContainsFunc(g.members, func(m string) bool { return sameDN(m, dn) })
}

// markersOf lists the markers naming member, except request's.
func (g *group) othersFor(member, request string) []marker {
	var out []marker
	for _, m := range g.markers {
		if m.request != request && sameDN(m.member, member) {
			out = append(out, m)
		}
	}
	return out
}

func (g *group) markersOf(request string) []marker {
	var out []marker
	for _, m := range g.markers {
		if m.request == request {
			out = append(out, m)
		}
	}
	return out
}

// sameDN compares DNs as the directory does (case-insensitive, spacing).
func sameDN(a, b string) bool {
	da, errA := ldap.ParseDN(a)
	db, errB := ldap.ParseDN(b)
	if errA != nil || errB != nil {
		return strings.EqualFold(a, b)
	}
	return da.EqualFold(db)
}

func (t *Target) readGroup(s *session, dn string) (*group, error) {
	res, err := s.c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, int(t.o.Timeout.Seconds()), false,
		"(objectClass=*)", []string{"member", t.o.Marker}, nil))
	if err != nil {
		hint := "check the role's ldap.group and that the bind account may read it"
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			hint = "the group " + dn + " does not exist; fix the role's ldap.group or create the group"
		}
		return nil, &Error{Op: "read group " + dn, Err: err, Hint: hint}
	}
	if len(res.Entries) != 1 {
		return nil, &Error{Op: "read group " + dn, Err: errors.New("not found"), Hint: "check the role's ldap.group"}
	}
	e := res.Entries[0]
	g := &group{dn: dn, members: e.GetAttributeValues("member")}
	for _, v := range e.GetAttributeValues(t.o.Marker) {
		if m, ok := parseMarker(v); ok {
			g.markers = append(g.markers, m)
		}
	}
	return g, nil
}

// memberDN finds the requester's entry: the role's DN template, or its
// search (exactly one entry).
func (t *Target) memberDN(s *session, l *policy.LDAPGroup, user string) (string, error) {
	if l.MemberDN != "" {
		dn := strings.ReplaceAll(l.MemberDN, policy.UserPlaceholder, ldap.EscapeDN(user))
		// The entry must exist: a group never gets a member nobody is.
		_, err := s.c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, int(t.o.Timeout.Seconds()), false,
			"(objectClass=*)", []string{"1.1"}, nil))
		if err != nil {
			return "", &Error{Op: "find " + user, Err: fmt.Errorf("read %s: %w", dn, err),
				Hint: "the requester has no directory entry at the role's member_dn"}
		}
		return dn, nil
	}
	filter := strings.ReplaceAll(l.SearchFilter, policy.UserPlaceholder, ldap.EscapeFilter(user))
	res, err := s.c.Search(ldap.NewSearchRequest(l.SearchBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, int(t.o.Timeout.Seconds()), false,
		filter, []string{"1.1"}, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return "", &Error{Op: "find " + user, Err: err, Hint: "check the role's ldap.member_search"}
	}
	switch {
	case res == nil || len(res.Entries) == 0:
		return "", &Error{Op: "find " + user, Err: fmt.Errorf("no entry under %s matches %s", l.SearchBase, filter),
			Hint: "the requester has no directory entry the role's member_search finds"}
	case len(res.Entries) > 1:
		return "", &Error{Op: "find " + user, Err: fmt.Errorf("more than one entry under %s matches %s", l.SearchBase, filter),
			Hint: "make the role's member_search.filter match one entry per person"}
	}
	return res.Entries[0].DN, nil
}

func roleLDAP(r *policy.Role) (*policy.LDAPGroup, error) {
	if r == nil || r.LDAP == nil {
		return nil, errors.New("ldapgroup: the role has no ldap settings")
	}
	return r.LDAP, nil
}

// Check implements target.Target: it binds, reads each role's group and,
// for a member search, its base; it refuses what it cannot reach. It
// remembers the groups for Created.
func (t *Target) Check(ctx context.Context, roles []*policy.Role) error {
	s, err := t.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	var groups []string
	for _, r := range roles {
		l, err := roleLDAP(r)
		if err != nil {
			return fmt.Errorf("role %s: %w", r.Name, err)
		}
		if _, err := t.readGroup(s, l.Group); err != nil {
			return fmt.Errorf("role %s: %w", r.Name, err)
		}
		if l.SearchBase != "" {
			_, err := s.c.Search(ldap.NewSearchRequest(l.SearchBase, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, int(t.o.Timeout.Seconds()), false,
				"(objectClass=*)", []string{"1.1"}, nil))
			if err != nil {
				return fmt.Errorf("role %s: %w", r.Name, &Error{Op: "read " + l.SearchBase, Err: err, Hint: "check the role's ldap.member_search.base"})
			}
		}
		if !slices.ContainsFunc(groups, func(g string) bool { return sameDN(g, l.Group) }) {
			groups = append(groups, l.Group)
		}
	}
	t.mu.Lock()
	t.groups = groups
	t.mu.Unlock()
	return nil
}

// Start implements target.Target: it adds the requester to the group with
// the grant's marker, in one modify. A grant whose marker is there already
// (a retry, a reconcile) changes nothing.
func (t *Target) Start(ctx context.Context, g target.Grant, _ time.Time) (target.Issued, error) {
	l, err := roleLDAP(g.Role)
	if err != nil {
		return target.Issued{}, err
	}
	s, err := t.connect(ctx)
	if err != nil {
		return target.Issued{}, err
	}
	defer s.close()
	member, err := t.memberDN(s, l, g.Request.Requester)
	if err != nil {
		return target.Issued{}, err
	}
	// A concurrent change (another grant of the same person) makes the
	// modify fail on a value that exists or went; read and try again.
	for attempt := 0; ; attempt++ {
		issued, err := t.start(s, l.Group, member, g.Request.ID)
		if err == nil || attempt == 2 || !retryable(err) {
			return issued, err
		}
	}
}

func (t *Target) start(s *session, groupDN, member, request string) (target.Issued, error) {
	grp, err := t.readGroup(s, groupDN)
	if err != nil {
		return target.Issued{}, err
	}
	issued := target.Issued{ID: member, Detail: map[string]string{"group": groupDN}}
	if len(grp.markersOf(request)) > 0 {
		return issued, nil
	}
	m := marker{request: request, member: member}
	mod := ldap.NewModifyRequest(groupDN, nil)
	switch others := grp.othersFor(member, request); {
	case !grp.isMember(member):
		m.added = true
		mod.Add("member", []string{member})
	case len(others) > 0:
		m.added = others[0].added // jit's membership, shared with another grant
	default:
		issued.Detail["already_member"] = "true" // a permanent member: never removed
	}
	mod.Add(t.o.Marker, []string{m.String()})
	if err := s.c.Modify(mod); err != nil {
		return target.Issued{}, modifyError("add "+member+" to "+groupDN, err)
	}
	return issued, nil
}

func retryable(err error) bool {
	return ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) || ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute)
}

func modifyError(op string, err error) error {
	hint := "check that the bind account may write the group's member and marker attributes (docs/security.md)"
	if ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights) {
		hint = "grant the bind account write on the group's member and marker attributes (docs/security.md)"
	}
	return &Error{Op: op, Err: err, Hint: hint}
}

// End implements target.Target: it removes the grant's marker and, when
// no other grant holds the membership and jit added it, the member.
// Membership ends at the directory at once; what consumers cached (a
// login session, a Kerberos ticket's groups) is theirs (AccessUntil).
func (t *Target) End(ctx context.Context, g target.Grant, _ bool, now time.Time) (target.Ended, error) {
	l, err := roleLDAP(g.Role)
	if err != nil {
		return target.Ended{AccessUntil: now}, err
	}
	return t.remove(ctx, l.Group, g.Request.ID, now)
}

func (t *Target) remove(ctx context.Context, groupDN, request string, now time.Time) (target.Ended, error) {
	s, err := t.connect(ctx)
	if err != nil {
		return target.Ended{AccessUntil: now}, err
	}
	defer s.close()
	for attempt := 0; ; attempt++ {
		ended, err := t.removeOnce(s, groupDN, request, now)
		if err == nil || attempt == 2 || !retryable(err) {
			return ended, err
		}
	}
}

func (t *Target) removeOnce(s *session, groupDN, request string, now time.Time) (target.Ended, error) {
	ended := target.Ended{AccessUntil: now}
	grp, err := t.readGroup(s, groupDN)
	if err != nil {
		return ended, err
	}
	mine := grp.markersOf(request)
	if len(mine) == 0 {
		return ended, nil // never started here, or ended already
	}
	mod := ldap.NewModifyRequest(groupDN, nil)
	var removed []string
	for _, m := range mine {
		mod.Delete(t.o.Marker, []string{m.raw})
		if m.added && len(grp.othersFor(m.member, request)) == 0 && grp.isMember(m.member) {
			mod.Delete("member", []string{m.member})
			removed = append(removed, m.member)
		}
	}
	if err := s.c.Modify(mod); err != nil {
		return ended, modifyError("remove "+request+" from "+groupDN, err)
	}
	ended.Done = true
	ended.Detail = map[string]string{"group": groupDN, "member": mine[0].member, "removed": fmt.Sprint(len(removed) > 0)}
	return ended, nil
}

// AccessUntil implements target.Target: the directory's membership ends
// with End; consumers that cached it are outside what jit can end.
func (t *Target) AccessUntil(_ target.Grant, endedAt time.Time) time.Time { return endedAt }

// Created implements target.Reconciler: the markers in every group that
// carries one — found by a search for the marker under each of the
// directory's naming contexts, so that a group no role names any more (a
// reload moved the role, or dropped it) is still reconciled — and in the
// groups of the last Check (in case the marker attribute cannot be
// searched by substring).
func (t *Target) Created(ctx context.Context) ([]target.Created, error) {
	t.mu.Lock()
	groups := slices.Clone(t.groups)
	t.mu.Unlock()
	s, err := t.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	found, err := t.markedGroups(s)
	if err != nil {
		return nil, err
	}
	for _, dn := range found {
		if !slices.ContainsFunc(groups, func(g string) bool { return sameDN(g, dn) }) {
			groups = append(groups, dn)
		}
	}
	var out []target.Created
	for _, dn := range groups {
		grp, err := t.readGroup(s, dn)
		if err != nil {
			return out, err
		}
		for _, m := range grp.markers {
			out = append(out, target.Created{RequestID: m.request, ID: m.member, At: dn})
		}
	}
	return out, nil
}

// markedGroups lists the DNs of the entries whose marker attribute holds a
// value jit wrote, under each naming context of the directory's root DSE.
func (t *Target) markedGroups(s *session) ([]string, error) {
	root, err := s.c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, int(t.o.Timeout.Seconds()), false,
		"(objectClass=*)", []string{"namingContexts"}, nil))
	if err != nil {
		return nil, &Error{Op: "read the root DSE", Err: err, Hint: "let the bind account read the root DSE's namingContexts"}
	}
	var bases []string
	if len(root.Entries) == 1 {
		bases = root.Entries[0].GetAttributeValues("namingContexts")
	}
	filter := "(" + ldap.EscapeFilter(t.o.Marker) + "=" + ldap.EscapeFilter(markerPrefix) + "*)"
	var out []string
	for _, base := range bases {
		res, err := s.c.SearchWithPaging(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, int(t.o.Timeout.Seconds()), false,
			filter, []string{"1.1"}, nil), 500)
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil, &Error{Op: "search " + base + " for " + filter, Err: err, Hint: "let the bind account search the directory for the marker attribute"}
		}
		if res == nil {
			continue
		}
		for _, e := range res.Entries {
			out = append(out, e.DN)
		}
	}
	return out, nil
}

// Remove implements target.Reconciler: it ends c's grant in its group.
func (t *Target) Remove(ctx context.Context, c target.Created, now time.Time) (target.Ended, error) {
	return t.remove(ctx, c.At, c.RequestID, now)
}

package testenv

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The throwaway directory LDAP starts: Debian's slapd with back_mdb and the
// core, cosine and inetorgperson schemas (design.md §8).
const (
	LDAPSuffix = "dc=example,dc=org"
	// LDAPBindDN is jit's bind account: read everywhere, write on the
	// groups' member and description attributes only (the rights
	// docs/security.md asks for).
	LDAPBindDN = "cn=jit,ou=services," + LDAPSuffix
	ldapRootDN = "cn=admin," + LDAPSuffix
)

const ldapInstall = "apt-get install slapd ldap-utils (scripts/deps.sh does)"

// LDAPServer is a slapd on 127.0.0.1 for one test.
type LDAPServer struct {
	url, rootPW, bindPW string
	cmd                 *exec.Cmd
}

// LDAPPersonDN is the DN of the person uid=name in the test directory.
func LDAPPersonDN(name string) string { return "uid=" + name + ",ou=people," + LDAPSuffix }

// LDAPGroupDN is the DN of the group cn=name in the test directory.
func LDAPGroupDN(name string) string { return "cn=" + name + ",ou=groups," + LDAPSuffix }

// LDAP starts slapd with people (uid=NAME,ou=people; mail NAME@example.com, as pkg/devidp's users),
// groups (cn=NAME,ou=groups, each a groupOfNames whose first member is the
// admin) and jit's bind account, and stops it when the test ends. slapd
// cannot report a kernel-chosen port, so LDAP picks a random high port and
// tries another when slapd cannot bind it; it is ready once a bind with
// this run's random root password succeeds (so the port is this slapd's).
// A missing slapd or ldap-utils is a missing peer (MissingPeer).
func LDAP(t testing.TB, people, groups []string) *LDAPServer {
	t.Helper()
	slapd := "/usr/sbin/slapd"
	if _, err := os.Stat(slapd); err != nil {
		MissingPeer(t, "slapd not found: "+ldapInstall)
		return nil
	}
	for _, tool := range []string{"ldapadd", "ldapsearch", "slappasswd"} {
		if _, err := exec.LookPath(tool); err != nil {
			MissingPeer(t, tool+" not found: "+ldapInstall)
			return nil
		}
	}
	s := &LDAPServer{rootPW: randomHex(t, 16), bindPW: randomHex(t, 16)}
	dir := t.TempDir()
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(s.slapdConf(t, dir, groups)), 0o600); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for range 8 {
		port := 20000 + int(binary.BigEndian.Uint16(randomBytes(t, 2)))%40000
		lastErr = s.start(conf, dir, port)
		if lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("testenv: slapd did not start: %v", lastErr)
	}
	t.Cleanup(s.stop)
	s.add(t, ldapRootDN, s.rootPW, s.baseLDIF(people, groups))
	return s
}

// slapdConf is the server's config: jit may write only the groups' member
// and description attributes.
func (s *LDAPServer) slapdConf(t testing.TB, dir string, groups []string) string {
	hash, err := exec.Command("slappasswd", "-s", s.rootPW).Output()
	if err != nil {
		t.Fatalf("testenv: slappasswd: %v", err)
	}
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, schema := range []string{"core", "cosine", "inetorgperson"} {
		fmt.Fprintf(&b, "include /etc/ldap/schema/%s.schema\n", schema)
	}
	fmt.Fprintf(&b, "pidfile %s\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n", filepath.Join(dir, "slapd.pid"))
	fmt.Fprintf(&b, "database mdb\nmaxsize 10485760\nsuffix %q\nrootdn %q\nrootpw %s\ndirectory %s\n",
		LDAPSuffix, ldapRootDN, strings.TrimSpace(string(hash)), db)
	for _, g := range groups {
		fmt.Fprintf(&b, "access to dn.base=%q attrs=member,description\n  by dn.exact=%q write\n  by * read\n", LDAPGroupDN(g), LDAPBindDN)
	}
	fmt.Fprintf(&b, "access to attrs=userPassword\n  by self read\n  by anonymous auth\n  by * none\n")
	fmt.Fprintf(&b, "access to *\n  by * read\n")
	return b.String()
}

func (s *LDAPServer) start(conf, dir string, port int) error {
	url := fmt.Sprintf("ldap://127.0.0.1:%d/", port)
	out, err := os.Create(filepath.Join(dir, fmt.Sprintf("slapd-%d.log", port)))
	if err != nil {
		return err
	}
	defer out.Close()
	// -d 0 keeps slapd in the foreground (it is this test's child).
	cmd := exec.Command("/usr/sbin/slapd", "-f", conf, "-h", url, "-d", "0")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(out.Name())
			return fmt.Errorf("slapd on port %d exited (%v): %s", port, err, log)
		case <-time.After(50 * time.Millisecond):
		}
		if c, err := ldap.DialURL(url); err == nil {
			err = c.Bind(ldapRootDN, s.rootPW)
			_ = c.Close()
			if err == nil {
				s.url, s.cmd = url, cmd
				return nil
			}
		}
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("slapd on port %d not ready after 15s", port)
}

func (s *LDAPServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
}

func (s *LDAPServer) baseLDIF(people, groups []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: example\ndc: example\n\n", LDAPSuffix)
	for _, ou := range []string{"people", "groups", "services"} {
		fmt.Fprintf(&b, "dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", ou, LDAPSuffix, ou)
	}
	fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\ncn: jit\nsn: jit\nuserPassword: %s\n\n", LDAPBindDN, s.bindPW)
	for _, p := range people {
		fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nmail: %s@example.com\n\n", LDAPPersonDN(p), p, p, p, p)
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: %s\nmember: %s\n\n", LDAPGroupDN(g), g, ldapRootDN)
	}
	return b.String()
}

// add runs the real ldapadd as dn.
func (s *LDAPServer) add(t testing.TB, dn, pw, ldif string) {
	t.Helper()
	cmd := exec.Command("ldapadd", "-x", "-H", s.url, "-D", dn, "-w", pw)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: ldapadd: %v\n%s", err, out)
	}
}

// Modify runs the real ldapmodify as the directory's admin (a test's
// setup: a permanent member, a stray marker).
func (s *LDAPServer) Modify(t testing.TB, ldif string) {
	t.Helper()
	cmd := exec.Command("ldapmodify", "-x", "-H", s.url, "-D", ldapRootDN, "-w", s.rootPW)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: ldapmodify: %v\n%s", err, out)
	}
}

// URL is the server's ldap:// URL.
func (s *LDAPServer) URL() string { return s.url }

// BindPassword is the bind account's (LDAPBindDN) password.
func (s *LDAPServer) BindPassword() string { return s.bindPW }

// Attr runs the real ldapsearch as the bind account and returns attr's
// values on the entry dn.
func (s *LDAPServer) Attr(t testing.TB, dn, attr string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", s.url,
		"-D", LDAPBindDN, "-w", s.bindPW, "-b", dn, "-s", "base", "(objectClass=*)", attr).CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: ldapsearch %s %s: %v\n%s", dn, attr, err, out)
	}
	var vals []string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, attr+": "); ok {
			vals = append(vals, v)
		}
	}
	return vals
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

package serverapp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/config"
)

// TestReloadRotatesTheStaticAWSKeys: the STS client's credentials provider
// returns the keys of the last applied config, not those cached at start.
func TestReloadRotatesTheStaticAWSKeys(t *testing.T) {
	start := &config.Config{AWS: config.AWS{AccessKeyID: "AKIAOLD", SecretAccessKey: "old-secret"}}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lv := &live{start: start, now: func() time.Time { return clock }}
	p := lv.awsProvider(start)
	c, err := p.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIAOLD" || c.SecretAccessKey != "old-secret" {
		t.Fatalf("before: %+v %v", c, err)
	}
	// A cache wrapped around this one (the IAM revoker's) must come back
	// for rotated keys: they are handed out as expiring soon.
	if !c.CanExpire || !c.Expires.Equal(clock.Add(awsKeysRecheck)) {
		t.Errorf("static keys handed out as never expiring: %+v", c)
	}
	lv.apply(&config.Config{AWS: config.AWS{AccessKeyID: "AKIANEW", SecretAccessKey: "new-secret"}})
	c, err = p.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIANEW" || c.SecretAccessKey != "new-secret" {
		t.Fatalf("after the reload: %+v %v", c, err)
	}
}

// TestCertificateOutsideItsValidityIsRefused: a reload must not swap in a
// certificate clients would reject (expired, or not valid yet).
func TestCertificateOutsideItsValidityIsRefused(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	write := func(name string, notBefore, notAfter time.Time) (string, string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: notBefore, NotAfter: notAfter}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		cf, kf := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
		os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
		return cf, kf
	}
	goodC, goodK := write("good", now.Add(-time.Hour), now.Add(time.Hour))
	src, err := newCertSource(goodC, goodK, now)
	if err != nil {
		t.Fatal(err)
	}
	running, _ := src.GetCertificate(nil)
	for name, window := range map[string][2]time.Time{
		"expired": {now.Add(-2 * time.Hour), now.Add(-time.Hour)},
		"not yet": {now.Add(time.Hour), now.Add(2 * time.Hour)},
	} {
		c, k := write(strings.ReplaceAll(name, " ", "-"), window[0], window[1])
		if err := src.reload(c, k, now); err == nil {
			t.Errorf("%s certificate accepted", name)
		}
		if got, _ := src.GetCertificate(nil); got != running {
			t.Errorf("%s certificate replaced the running one", name)
		}
	}
}

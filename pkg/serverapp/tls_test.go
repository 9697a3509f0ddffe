package serverapp_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/audit"
)

// TestServesTLSWhenConfigured runs the server with tls.cert_file/key_file
// and talks to it over TLS 1.2+ only.
func TestServesTLSWhenConfigured(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config("http://127.0.0.1:1", "jit-cli", filepath.Join(dir, "jit.db"), "one") +
		"tls: {cert_file: " + certFile + ", key_file: " + keyFile + "}\n"
	path := filepath.Join(dir, "jit.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, path)
	url := app.url
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("url %s", url)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url+"/healthz", nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the server accepted TLS 1.1")
	}
	client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("healthz over TLS: %d", resp.StatusCode)
	}
	app.stop(t)
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestReloadSwapsTheTLSCertificateAndKeepsItWhenTheNewOneIsBroken serves
// HTTPS with one self-signed certificate, replaces the files with a second
// one and reloads (the SIGHUP path): new connections get the second. Then
// broken files: the second stays in service and the refusal is audited.
func TestReloadSwapsTheTLSCertificateAndKeepsItWhenTheNewOneIsBroken(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write := func(cert, key []byte) {
		t.Helper()
		if err := os.WriteFile(certFile, cert, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cert1, key1 := selfSigned(t)
	cert2, key2 := selfSigned(t)
	write(cert1, key1)
	db := filepath.Join(dir, "jit.db")
	cfg := config("http://127.0.0.1:1", "jit-cli", db, "one") +
		"tls: {cert_file: " + certFile + ", key_file: " + keyFile + "}\n"
	path := filepath.Join(dir, "jit.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, path)
	url, reload := app.url, app.reload
	// served returns the certificate a new connection is shown.
	served := func() []byte {
		t.Helper()
		conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test compares the raw certificate
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Raw
	}
	der := func(p []byte) []byte { b, _ := pem.Decode(p); return b.Bytes }
	waitFor := func(want []byte, what string) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, func() bool { return bytes.Equal(served(), want) }, "the server to serve the %s certificate", what)
	}
	waitFor(der(cert1), "first")

	write(cert2, key2)
	reload <- syscall.SIGHUP
	waitFor(der(cert2), "second")

	// A broken pair (the first key with the second certificate, then
	// garbage): refused, audited, the second certificate stays.
	write(cert2, key1)
	reload <- syscall.SIGHUP
	testenv.Eventually(t, 10*time.Second, func() bool { return auditCount(t, db, audit.TypeTLSRejected) == 1 },
		"the refused certificate to be audited")
	write([]byte("not a certificate"), key2)
	reload <- syscall.SIGHUP
	testenv.Eventually(t, 10*time.Second, func() bool { return auditCount(t, db, audit.TypeTLSRejected) == 2 },
		"the second refused certificate to be audited")
	if !bytes.Equal(served(), der(cert2)) {
		t.Fatal("a broken certificate replaced the running one")
	}
	app.stop(t)
}

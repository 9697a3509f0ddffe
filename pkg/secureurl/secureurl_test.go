package secureurl

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestCheckRefusesPlainHTTPOffLoopback(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
		invalid  bool
	}{
		{"https://jit.example.com", false, false},
		{"https://10.0.0.5:8443/base", false, false},
		{"http://127.0.0.1:8080", false, false},
		{"http://127.3.4.5", false, false},
		{"http://[::1]:9000", false, false},
		{"http://localhost:8080", false, false},
		{"http://LOCALHOST.", false, false},
		{"http://jit.example.com", true, false},
		{"http://10.0.0.5:8080", true, false},
		{"http://[::ffff:8.8.8.8]", true, false},
		{"http://128.0.0.1", true, false},
		{"http://localhost.example.com", true, false},
		{"http://127.0.0.1.nip.io", true, false},
		{"HTTP://jit.example.com", true, false},
		{"http://localhost@jit.example.com", true, false},
		{"http://localhost:80@jit.example.com/", true, false},
		{"http://127.1", true, false},
		{"ftp://jit.example.com", false, true},
		{"jit.example.com", false, true},
		{"", false, true},
	} {
		_, err := Check("server URL", tc.url)
		var ie *InsecureError
		switch {
		case tc.insecure:
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), "use https://") {
				t.Errorf("Check(%q) = %v, want an InsecureError saying to use https", tc.url, err)
			}
		case tc.invalid:
			if err == nil || errors.As(err, &ie) {
				t.Errorf("Check(%q) = %v, want a malformed-URL error", tc.url, err)
			}
		default:
			if err != nil {
				t.Errorf("Check(%q) = %v, want ok", tc.url, err)
			}
		}
	}
}

func TestCheckRedirectRefusesPlainHTTPTargetOffLoopback(t *testing.T) {
	for target, ok := range map[string]bool{
		"https://jit.example.com/v1/whoami": true,
		"http://127.0.0.1:8080/v1/whoami":   true,
		"http://jit.example.com/v1/whoami":  false,
		"HTTP://jit.example.com/v1/whoami":  false,
	} {
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckRedirect(req, []*http.Request{req})
		if ok != (err == nil) {
			t.Errorf("CheckRedirect(%s) = %v, want ok %v", target, err, ok)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "https://jit.example.com/", nil)
	if err := CheckRedirect(req, make([]*http.Request, maxRedirects)); err == nil {
		t.Error("an 11th redirect was followed")
	}
}

// TestDotLocalhostNameIsNotLoopback: names under .localhost counted as
// loopback (RFC 6761), but Go's resolver does not special-case them: it
// asks /etc/hosts, then the network's DNS, so whoever answers DNS for
// "jit.localhost" received the token over plain http. Only "localhost"
// itself (from /etc/hosts) and loopback IP literals count.
func TestDotLocalhostNameIsNotLoopback(t *testing.T) {
	for _, raw := range []string{"http://jit.localhost", "http://jit.localhost.:8080", "http://a.b.LOCALHOST"} {
		if _, err := Check("server URL", raw); !errors.As(err, new(*InsecureError)) {
			t.Errorf("Check(%q) = %v, want refused", raw, err)
		}
	}
}

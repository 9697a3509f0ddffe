package webapprove

import (
	"bytes"
	"strings"
	"testing"
)

func TestReturnPathsStayOnThisPage(t *testing.T) {
	for p, want := range map[string]bool{
		"/approve/":                true,
		"/approve/req_01abc":       true,
		"//evil.example/approve/":  false,
		"/approve//evil.example":   false,
		"https://evil.example/":    false,
		"/approve/\\evil.example":  false,
		"/v1/requests":             false,
		"/approve/x\r\nSet-Cookie": false,
		"":                         false,
		"/approve/../v1/requests":  false,
		"/approve/x?next=//evil":   false,
	} {
		if got := sameOriginPath(p); got != want {
			t.Errorf("sameOriginPath(%q) = %t, want %t", p, got, want)
		}
	}
}

func TestSealedCookiesRefuseTamperingAndSwapping(t *testing.T) {
	s, err := newSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.seal("jit-approve", session{IDToken: "a.b.c", CSRF: "x", Expires: 99})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(v, "a.b.c") {
		t.Error("the sealed value shows the token")
	}
	var got session
	if err := s.open("jit-approve", v, &got); err != nil || got.IDToken != "a.b.c" {
		t.Fatalf("open: %v %+v", err, got)
	}
	if err := s.open("jit-approve-login", v, &got); err == nil {
		t.Error("a session cookie opened as the login cookie")
	}
	flipped := []byte(v)
	flipped[len(flipped)/2] ^= 1
	if err := s.open("jit-approve", string(flipped), &got); err == nil {
		t.Error("a tampered cookie opened")
	}
	other, _ := newSealer(bytes.Repeat([]byte{8}, 32))
	if err := other.open("jit-approve", v, &got); err == nil {
		t.Error("a cookie opened under another key")
	}
	if _, err := newSealer([]byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
}

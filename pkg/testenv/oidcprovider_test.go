package testenv_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/testenv"
)

func idClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOIDCProviderIssuesIDTokensInTheGivenShape(t *testing.T) {
	p := testenv.OIDCProvider(t, testenv.OIDCProviderOptions{
		Users: []testenv.OIDCProviderUser{{Username: "alice", Claims: map[string]any{"email": "alice@example.com", "groups": "developers"}}},
		Clients: []testenv.OIDCProviderClient{{ID: "jit-cli"}, {ID: "other-app", ExtraAudiences: []string{"jit-cli"}}},
	})
	tok := p.DeviceToken(t, "", "alice")
	c := idClaims(t, tok.Extra("id_token").(string))
	t.Logf("%v refresh=%q", c, tok.RefreshToken)
	tok2 := p.DeviceToken(t, "other-app", "alice")
	t.Logf("%v", idClaims(t, tok2.Extra("id_token").(string)))
}

package devidp_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/jit-access/jit/pkg/devidp"
)

// TestConfiguredClaimsLifetimesAndAudiencesReachTheIDToken: the shapes the
// identity attack tests rely on are really in zitadel-signed tokens.
func TestConfiguredClaimsLifetimesAndAudiencesReachTheIDToken(t *testing.T) {
	users := []devidp.User{
		{Username: "str", Password: "p", Email: "s@example.com", Claims: map[string]any{"email_verified": "false", "groups": "Former admins"}},
		{Username: "none", Password: "p", Email: "n@example.com", Claims: map[string]any{"email_verified": nil}},
	}
	p := start(t, devidp.Options{Users: users, OtherClientID: "other-app", ExtraAudiences: map[string][]string{"other-app": {"jit-cli"}},
		IDTokenLifetime: 10 * 365 * 24 * time.Hour, AccessTokenLifetime: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	claimsOf := func(clientID, username string) map[string]any {
		t.Helper()
		cfg := p.OAuth2Config()
		cfg.ClientID = clientID
		tok, err := deviceFlow(ctx, t, p, cfg, username, "p", true)
		if err != nil {
			t.Fatal(err)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		var m map[string]any
		if err := idt.Claims(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	str := claimsOf("jit-cli", "str")
	if str["email_verified"] != "false" || str["groups"] != "Former admins" || str["email"] != "s@example.com" {
		t.Errorf("string claims: %s", dump(str))
	}
	if life := str["exp"].(float64) - str["iat"].(float64); life < 9*365*24*3600 {
		t.Errorf("lifetime %vs, want ten years", life)
	}
	if none := claimsOf("jit-cli", "none"); none["email"] != "n@example.com" || none["email_verified"] != nil {
		t.Errorf("no email_verified: %s", dump(none))
	} else if _, present := none["email_verified"]; present {
		t.Errorf("email_verified present: %s", dump(none))
	}
	other := claimsOf("other-app", "str")
	if aud, _ := other["aud"].([]any); len(aud) != 2 || other["azp"] != "other-app" {
		t.Errorf("other client's token: aud %v azp %v", other["aud"], other["azp"])
	}
}

func dump(m map[string]any) string { b, _ := json.Marshal(m); return string(b) }

package testenv_test

import (
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/devidp"
)

func TestDeviceTokenGivesAVerifiableIDTokenForTheUser(t *testing.T) {
	p := testenv.OIDC(t)
	tok := testenv.DeviceToken(t, p, "carol")

	provider, err := oidc.NewProvider(t.Context(), p.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: p.ClientID()}).Verify(t.Context(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var c struct {
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != devidp.SubjectFor("carol") || c.Email != "carol@example.com" || !slices.Equal(c.Groups, []string{"admins", "approvers"}) {
		t.Errorf("sub %q claims %+v", idt.Subject, c)
	}
}

func TestOIDCTakesCustomUsers(t *testing.T) {
	p := testenv.OIDC(t, devidp.User{Username: "erin", Password: "pw", Groups: []string{"auditors"}})
	if users := p.Users(); len(users) != 1 || users[0].Username != "erin" {
		t.Fatalf("users = %+v", users)
	}
}

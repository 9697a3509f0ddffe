package server

import (
	"strings"
	"testing"
	"time"
)

// TestSeveralAudiencesWithoutAzpRefused covers the one token shape the test
// IdP cannot issue (zitadel always sets azp): several audiences and no azp.
// The claims are checked after go-oidc verified the signature, so a claims
// map is what the check sees.
func TestSeveralAudiencesWithoutAzpRefused(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := NewOIDCVerifier(OIDCVerifierConfig{ClientID: "jit-cli", ClockSkew: 30 * time.Second, Now: func() time.Time { return now }})
	claims := func(kv ...any) map[string]any {
		m := map[string]any{"iat": float64(now.Unix()), "exp": float64(now.Add(time.Hour).Unix())}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   string // "" accepted
	}{
		{"one audience, no azp", claims("aud", "jit-cli"), ""},
		{"several audiences, no azp", claims("aud", []any{"jit-cli", "other-app"}), "no azp"},
		{"several audiences, azp jit", claims("aud", []any{"jit-cli", "other-app"}, "azp", "jit-cli"), ""},
		{"one audience, azp another client", claims("aud", "jit-cli", "azp", "other-app"), "azp other-app"},
		{"no iat", map[string]any{"aud": "jit-cli", "exp": float64(now.Unix())}, "no iat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := v.checkTimesAndParty(tc.claims)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestGroupsClaimShapes: an array of strings, one string as one group (never
// split), null or absent as none; anything else refused.
func TestGroupsClaimShapes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		claim any
		want  []string
		fails bool
	}{
		{"array", []any{"a b", "c,d"}, []string{"a b", "c,d"}, false},
		{"string with space", "Former admins", []string{"Former admins"}, false},
		{"string with comma", "ops,admins", []string{"ops,admins"}, false},
		{"null", nil, nil, false},
		{"number", 42.0, nil, true},
		{"array with a number", []any{"a", 1.0}, nil, true},
		{"object", map[string]any{"admins": true}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := groupsOf(map[string]any{"groups": tc.claim}, "groups")
			if (err != nil) != tc.fails || strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("groupsOf(%v) = %q, %v", tc.claim, got, err)
			}
		})
	}
}

// TestEmailIsVerifiedOnlyByJSONTrue: only email_verified true makes the email
// a username; the hint names the claim and the scope otherwise.
func TestEmailIsVerifiedOnlyByJSONTrue(t *testing.T) {
	for _, tc := range []struct {
		name     string
		claims   map[string]any
		username string
		hint     string
	}{
		{"true", map[string]any{"email": "a@x", "email_verified": true}, "a@x", ""},
		{"string true", map[string]any{"email": "a@x", "email_verified": "true"}, "", `is "true", not the JSON value true`},
		{"false", map[string]any{"email": "a@x", "email_verified": false}, "", "email_verified is false"},
		{"absent", map[string]any{"email": "a@x"}, "", "oidc.username_claim"},
		{"no email", map[string]any{}, "", `"email" scope`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, u, missing := usernameOf(tc.claims, "")
			if u != tc.username || (tc.hint == "") != (missing == "") || !strings.Contains(missing, tc.hint) {
				t.Fatalf("username %q, missing %q", u, missing)
			}
		})
	}
}

package vend_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/vend"
)

func sha256Hex8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

// Before: both became "j-rg@example.com", so CloudTrail could not tell
// jörg from jürg, and the revocation Deny keyed on one also hit the other.
func TestSourceIdentityOfUmlautNamesDoesNotCollide(t *testing.T) {
	jorg, jurg := vend.SourceIdentity("jörg@example.com"), vend.SourceIdentity("jürg@example.com")
	if jorg == jurg {
		t.Fatalf("jörg and jürg both map to %q", jorg)
	}
	if want := "jorg@example.com-" + sha256Hex8("jörg@example.com"); jorg != want {
		t.Fatalf("SourceIdentity(jörg@…) = %q, want %q (transliterated, then the hash of the original)", jorg, want)
	}
	// Nor does either collide with the ASCII spelling a different person may own.
	if plain := vend.SourceIdentity("jorg@example.com"); plain == jorg || plain != "jorg@example.com" {
		t.Fatalf("SourceIdentity(jorg@…) = %q, jörg → %q", plain, jorg)
	}
	if got, want := vend.RoleSessionName("jürg@example.com"), jurg; got != want {
		t.Fatalf("RoleSessionName = %q, SourceIdentity = %q; want one mapping", got, want)
	}
}

// Before: names were cut at 64 characters, so two users sharing a 64-character
// prefix had one SourceIdentity.
func TestSourceIdentityOfLongNamesSharingA64CharPrefixDoesNotCollide(t *testing.T) {
	prefix := strings.Repeat("a", 64)
	a, b := vend.SourceIdentity(prefix+"1@example.com"), vend.SourceIdentity(prefix+"2@example.com")
	if a == b {
		t.Fatalf("both map to %q", a)
	}
	for _, got := range []string{a, b} {
		if len(got) != 64 || !strings.HasPrefix(got, strings.Repeat("a", 55)+"-") {
			t.Fatalf("%q: want 55 characters of the name, '-' and 8 hex digits", got)
		}
	}
}

func TestSourceIdentityMapping(t *testing.T) {
	for user, want := range map[string]string{
		"alice@example.com":       "alice@example.com", // ASCII-clean and short: as is
		"a.b+c=d,e_f-g@x.example": "a.b+c=d,e_f-g@x.example",
		"Straße@example.com":      "Strasse@example.com-" + sha256Hex8("Straße@example.com"),
		"Ærøskøbing":              "AEroskobing-" + sha256Hex8("Ærøskøbing"),
		"ｆｕｌｌ":                    "full-" + sha256Hex8("ｆｕｌｌ"), // NFKD folds full-width letters
		"日本":                      "---" + sha256Hex8("日本"),
		"a":                       "a-" + sha256Hex8("a"), // under STS's 2 characters
		"":                        "-" + sha256Hex8(""),
		// A clean name that looks like a mapped one is mapped too, so that
		// nobody can pick a name equal to someone else's mapped value.
		"jorg@example.com-" + sha256Hex8("jörg@example.com"): "jorg@example.com-" + sha256Hex8("jörg@example.com") + "-" + sha256Hex8("jorg@example.com-"+sha256Hex8("jörg@example.com")),
	} {
		if got := vend.SourceIdentity(user); got != want {
			t.Errorf("SourceIdentity(%q) = %q, want %q", user, got, want)
		}
	}
}

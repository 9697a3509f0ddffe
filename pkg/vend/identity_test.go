package vend_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/vend"
)

func sha256Hex16(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}

// Before: both became "j-rg@example.com", so CloudTrail could not tell
// jörg from jürg, and the revocation Deny keyed on one also hit the other.
func TestSourceIdentityOfUmlautNamesDoesNotCollide(t *testing.T) {
	jorg, jurg := vend.SourceIdentity("jörg@example.com"), vend.SourceIdentity("jürg@example.com")
	if jorg == jurg {
		t.Fatalf("jörg and jürg both map to %q", jorg)
	}
	if want := "jorg@example.com-" + sha256Hex16("jörg@example.com"); jorg != want {
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
		if len(got) != 64 || !strings.HasPrefix(got, strings.Repeat("a", 47)+"-") {
			t.Fatalf("%q: want 47 characters of the name, '-' and 16 hex digits", got)
		}
	}
}

func TestSourceIdentityMapping(t *testing.T) {
	for user, want := range map[string]string{
		"alice@example.com":       "alice@example.com", // ASCII-clean and short: as is
		"a.b+c=d,e_f-g@x.example": "a.b+c=d,e_f-g@x.example",
		"Straße@example.com":      "Strasse@example.com-" + sha256Hex16("Straße@example.com"),
		"Ærøskøbing":              "AEroskobing-" + sha256Hex16("Ærøskøbing"),
		"ｆｕｌｌ":                    "full-" + sha256Hex16("ｆｕｌｌ"), // NFKD folds full-width letters
		"日本":                      "---" + sha256Hex16("日本"),
		"a":                       "a-" + sha256Hex16("a"), // under STS's 2 characters
		"":                        "-" + sha256Hex16(""),
		// A clean name that looks like a mapped one is mapped too, so that
		// nobody can pick a name equal to someone else's mapped value.
		"jorg@example.com-" + sha256Hex16("jörg@example.com"): "jorg@example.com-" + sha256Hex16("jörg@example.com") + "-" + sha256Hex16("jorg@example.com-"+sha256Hex16("jörg@example.com")),
	} {
		if got := vend.SourceIdentity(user); got != want {
			t.Errorf("SourceIdentity(%q) = %q, want %q", user, got, want)
		}
	}
}

// TestSourceIdentityBirthdayCollisionOfChosenNamesNotFound: with 8 hex
// digits (32 bits) of hash, anyone who can pick names at the IdP finds two
// that map to one SourceIdentity after about 2^16 tries (milliseconds):
// CloudTrail then cannot tell the two apart and a revocation Deny on one
// hits the other. With 16 hex digits (64 bits) a search of 2^18 names finds
// none, and hitting a given victim's value takes about 2^64 tries.
func TestSourceIdentityBirthdayCollisionOfChosenNamesNotFound(t *testing.T) {
	seen := make(map[string]string, 1<<18)
	for i := range 1 << 18 {
		// Two CJK characters each become '-': every name has the same
		// transliteration, only the hash tells them apart.
		name := fmt.Sprintf("%c%c@example.com", rune(0x4e00+i>>9), rune(0x4e00+i&511))
		id := vend.SourceIdentity(name)
		if other, ok := seen[id]; ok {
			t.Fatalf("%q and %q both map to %q", other, name, id)
		}
		seen[id] = name
	}
}

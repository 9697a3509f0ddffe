package cmdutil

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/cliconfig"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/iostreams"
)

// credential_process has no terminal: a file keyring without
// JIT_FILE_PASSPHRASE must fail at once (never prompt) and say how to set one.
func TestFileKeyringWithoutPassphraseSourceFailsWithHowToSetOne(t *testing.T) {
	ios, _, _, errOut := iostreams.Test() // not a terminal
	f := New(ios)
	dir := t.TempDir()
	f.Env = func(k string) string {
		switch k {
		case "JIT_KEYRING_BACKEND":
			return credcache.BackendFile
		case "JIT_KEYRING_FILE_DIR":
			return dir
		}
		return ""
	}
	f.Config = func() (*cliconfig.Config, error) { return &cliconfig.Config{}, nil }
	cache, err := f.Cache()
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = cache.GetTokens(context.Background(), "https://jit.example.com")
	if !errors.Is(err, credcache.ErrNoPassphrase) {
		t.Fatalf("GetTokens = %v, want ErrNoPassphrase", err)
	}
	var hint *HintError
	if !errors.As(err, &hint) {
		t.Fatalf("GetTokens = %v, want a HintError", err)
	}
	for _, want := range []string{"JIT_FILE_PASSPHRASE", "credential_process cannot prompt", "keyring: ", "JIT_KEYRING_BACKEND="} {
		if !strings.Contains(hint.Hint, want) {
			t.Errorf("hint %q lacks %q", hint.Hint, want)
		}
	}
	if errOut.Len() != 0 {
		t.Errorf("prompted on stderr: %q", errOut)
	}
}

func TestNoPassphraseHintNamesThePlatformsStore(t *testing.T) {
	for goos, want := range map[string]string{"darwin": "keychain", "windows": "wincred", "linux": "secret-service", "freebsd": "pass"} {
		var hint *HintError
		if !errors.As(noPassphraseError(goos), &hint) || !strings.Contains(hint.Hint, "keyring: "+want) {
			t.Errorf("%s: hint %v does not suggest %s", goos, hint, want)
		}
	}
}

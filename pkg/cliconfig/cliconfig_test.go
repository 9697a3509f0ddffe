package cliconfig

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jit", "config.yaml")
	want := &Config{Server: "https://jit.example.com", Keyring: "file", KeyringTimeout: 3 * time.Second}
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *want {
		t.Fatalf("got %+v want %+v", got, want)
	}
}

func TestMissingFileIsEmpty(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err != nil || c.Server != "" {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestUnknownKeyNamesTheLine(t *testing.T) {
	_, err := Parse("config.yaml", []byte("server: https://x\nkeyrng: file\n"))
	if err == nil || !strings.Contains(err.Error(), "config.yaml") || !strings.Contains(err.Error(), "[2:1]") {
		t.Fatalf("err = %v", err)
	}
}

func TestPathPrefersEnv(t *testing.T) {
	env := map[string]string{"JIT_CONFIG": "/x/c.yaml", "HOME": "/home/a"}
	if p, _ := Path(func(k string) string { return env[k] }); p != "/x/c.yaml" {
		t.Fatal(p)
	}
	delete(env, "JIT_CONFIG")
	if p, _ := Path(func(k string) string { return env[k] }); p != "/home/a/.config/jit/config.yaml" {
		t.Fatal(p)
	}
}

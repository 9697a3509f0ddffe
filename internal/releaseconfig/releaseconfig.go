// Package releaseconfig reads the builds of .goreleaser.yaml and asks the go
// tool what each release binary would link, so a test (not a comment) says
// whether the darwin release binaries reach the macOS Keychain.
//
// 99designs/keyring's Keychain backend is compiled only under `darwin && cgo`;
// a darwin build with CGO_ENABLED=0 silently has no Keychain and falls back to
// the file keyring. `go list -deps` with the build's GOOS, GOARCH, CGO setting
// and tags shows whether github.com/99designs/go-keychain is linked.
package releaseconfig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
)

// KeychainPackage is the package that exists in a binary only when it has the
// Keychain backend.
const KeychainPackage = "github.com/99designs/go-keychain"

// Config is the part of a goreleaser v2 config this package reads.
type Config struct {
	Builds []Build `yaml:"builds"`
}

// Build is one goreleaser build: what it compiles and with which settings.
type Build struct {
	ID      string   `yaml:"id"`
	Main    string   `yaml:"main"`
	Env     []string `yaml:"env"`
	Goos    []string `yaml:"goos"`
	Goarch  []string `yaml:"goarch"`
	Targets []string `yaml:"targets"`
	Flags   []string `yaml:"flags"`
	Tags    []string `yaml:"tags"`
	Skip    string   `yaml:"skip"`
}

// Target is one GOOS/GOARCH pair of a build.
type Target struct{ OS, Arch string }

func (t Target) String() string { return t.OS + "/" + t.Arch }

// Load reads a goreleaser config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read release config: %w", err)
	}
	var cfg Config
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("parse release config %s: %w", path, err)
	}
	return &cfg, nil
}

// EnvValue is the value the build's env gives key ("" when unset; the last
// entry wins, as in goreleaser).
func (b Build) EnvValue(key string) string {
	v := ""
	for _, kv := range b.Env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// CgoEnabled reports the build's CGO_ENABLED. Unset counts as off: release
// builds cross-compile, and the go tool turns cgo off when cross-compiling
// without a C compiler for the target.
func (b Build) CgoEnabled() bool { return b.EnvValue("CGO_ENABLED") == "1" }

// TargetList is the build's GOOS/GOARCH pairs: its targets, or goos × goarch
// (goreleaser's defaults when those are empty: linux, darwin, windows ×
// 386, amd64, arm64 — this config always names them).
func (b Build) TargetList() []Target {
	var out []Target
	if len(b.Targets) > 0 {
		for _, t := range b.Targets {
			parts := strings.Split(t, "_")
			if len(parts) >= 2 {
				out = append(out, Target{parts[0], parts[1]})
			}
		}
		return out
	}
	goos, goarch := b.Goos, b.Goarch
	if len(goos) == 0 {
		goos = []string{"linux", "darwin", "windows"}
	}
	if len(goarch) == 0 {
		goarch = []string{"386", "amd64", "arm64"}
	}
	for _, o := range goos {
		for _, a := range goarch {
			out = append(out, Target{o, a})
		}
	}
	return out
}

// BuildTags is the build's tags: the tags key and any -tags flag.
func (b Build) BuildTags() []string {
	tags := slices.Clone(b.Tags)
	for i, f := range b.Flags {
		var v string
		switch {
		case strings.HasPrefix(f, "-tags="):
			v = strings.TrimPrefix(f, "-tags=")
		case f == "-tags" && i+1 < len(b.Flags):
			v = b.Flags[i+1]
		default:
			continue
		}
		tags = append(tags, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })...)
	}
	return tags
}

// Deps lists the packages the build links for target, as `go list -deps` run
// in the module directory dir with the build's CGO setting and tags.
func Deps(ctx context.Context, dir string, b Build, t Target) ([]string, error) {
	main := b.Main
	if main == "" {
		main = "."
	}
	args := []string{"list", "-deps", "-f", "{{.ImportPath}}"}
	if tags := b.BuildTags(); len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	args = append(args, main)
	cgo := "0"
	if b.CgoEnabled() {
		cgo = "1"
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+t.OS, "GOARCH="+t.Arch, "CGO_ENABLED="+cgo, "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps for build %s %s (CGO_ENABLED=%s): %w: %s", b.ID, t, cgo, err, strings.TrimSpace(stderr.String()))
	}
	return strings.Fields(string(out)), nil
}

// ErrNoKeychain reports a darwin release target that would ship without the
// Keychain backend.
var ErrNoKeychain = errors.New("darwin release binary lacks the Keychain backend")

// CheckDarwinKeychain checks that every darwin target of cfg links the
// Keychain backend, and that there is at least one. Its error names each
// target that does not, with its CGO setting.
func CheckDarwinKeychain(ctx context.Context, dir string, cfg *Config) error {
	var errs []error
	darwin := 0
	for _, b := range cfg.Builds {
		// The slim credential process reads keyctl, file and Secret Service
		// items itself (pkg/keyread) and hands Keychain items to the full
		// jit, so only the full jit must link the Keychain.
		if strings.HasPrefix(b.ID, "jit-credential-process") {
			continue
		}
		for _, t := range b.TargetList() {
			if t.OS != "darwin" {
				continue
			}
			darwin++
			if b.Skip == "true" {
				errs = append(errs, fmt.Errorf("build %s %s: %w: the build is skipped", b.ID, t, ErrNoKeychain))
				continue
			}
			deps, err := Deps(ctx, dir, b, t)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !slices.Contains(deps, KeychainPackage) {
				errs = append(errs, fmt.Errorf("build %s %s (CGO_ENABLED=%s): %w (%s is not linked; the Keychain backend needs darwin && cgo)",
					b.ID, t, b.EnvValue("CGO_ENABLED"), ErrNoKeychain, KeychainPackage))
			}
		}
	}
	if darwin == 0 {
		errs = append(errs, errors.New("no build targets darwin"))
	}
	return errors.Join(errs...)
}

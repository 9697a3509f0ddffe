package releaseconfig

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

const repoRoot = "../.."

func loadRepoConfig(t *testing.T) *Config {
	t.Helper()
	cfg, err := Load(repoRoot + "/.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Builds) == 0 {
		t.Fatal(".goreleaser.yaml has no builds")
	}
	return cfg
}

// The release's darwin binaries must reach the Keychain: without it a Mac
// falls back to the file keyring, whose passphrase credential_process can
// never ask for.
func TestDarwinReleaseBinariesLinkTheKeychain(t *testing.T) {
	cfg := loadRepoConfig(t)
	if err := CheckDarwinKeychain(context.Background(), repoRoot, cfg); err != nil {
		t.Fatalf("darwin release configuration: %v", err)
	}
}

// The check above must be able to fail: the same darwin build with cgo off
// (what .goreleaser.yaml did before) links no Keychain and is reported.
func TestDarwinKeychainCheckFailsWithCgoOff(t *testing.T) {
	cfg := loadRepoConfig(t)
	var off Config
	for _, b := range cfg.Builds {
		if !slices.ContainsFunc(b.TargetList(), func(t Target) bool { return t.OS == "darwin" }) {
			continue
		}
		b.Env = append(slices.Clone(b.Env), "CGO_ENABLED=0")
		off.Builds = append(off.Builds, b)
	}
	if len(off.Builds) == 0 {
		t.Fatal("no darwin build in .goreleaser.yaml")
	}
	err := CheckDarwinKeychain(context.Background(), repoRoot, &off)
	if !errors.Is(err, ErrNoKeychain) {
		t.Fatalf("CheckDarwinKeychain with CGO_ENABLED=0 = %v, want ErrNoKeychain", err)
	}
	for _, want := range []string{"darwin/amd64", "darwin/arm64", "CGO_ENABLED=0", KeychainPackage} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestDarwinKeychainCheckFailsWithoutDarwinBuild(t *testing.T) {
	cfg := &Config{Builds: []Build{{ID: "x", Goos: []string{"linux"}, Goarch: []string{"amd64"}, Env: []string{"CGO_ENABLED=0"}}}}
	if err := CheckDarwinKeychain(context.Background(), repoRoot, cfg); err == nil || !strings.Contains(err.Error(), "no build targets darwin") {
		t.Fatalf("CheckDarwinKeychain without darwin = %v", err)
	}
}

func TestDarwinKeychainCheckFailsWhenDarwinBuildSkipped(t *testing.T) {
	cfg := &Config{Builds: []Build{{ID: "d", Goos: []string{"darwin"}, Goarch: []string{"arm64"}, Env: []string{"CGO_ENABLED=1"}, Skip: "true"}}}
	if err := CheckDarwinKeychain(context.Background(), repoRoot, cfg); !errors.Is(err, ErrNoKeychain) {
		t.Fatalf("CheckDarwinKeychain with a skipped darwin build = %v, want ErrNoKeychain", err)
	}
}

// Everything but darwin stays static: cgo off, so the linux binary runs on
// any distribution and in a FROM scratch image.
func TestNonDarwinReleaseBuildsAreStatic(t *testing.T) {
	for _, b := range loadRepoConfig(t).Builds {
		for _, tg := range b.TargetList() {
			if tg.OS != "darwin" && b.CgoEnabled() {
				t.Errorf("build %s %s has CGO_ENABLED=1; only darwin may use cgo", b.ID, tg)
			}
		}
	}
}

func TestBuildSettings(t *testing.T) {
	b := Build{
		Env:   []string{"CGO_ENABLED=1", "FOO=x", "CGO_ENABLED=0"},
		Flags: []string{"-trimpath", "-tags=a,b", "-tags", "c"},
		Tags:  []string{"z"},
		Goos:  []string{"darwin"}, Goarch: []string{"amd64", "arm64"},
	}
	if b.CgoEnabled() {
		t.Error("the last CGO_ENABLED entry (0) must win")
	}
	if got, want := b.BuildTags(), []string{"z", "a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("BuildTags = %v, want %v", got, want)
	}
	if got := b.TargetList(); len(got) != 2 || got[1] != (Target{"darwin", "arm64"}) {
		t.Errorf("TargetList = %v", got)
	}
	tb := Build{Targets: []string{"linux_amd64_v1", "darwin_arm64"}}
	if got := tb.TargetList(); len(got) != 2 || got[0] != (Target{"linux", "amd64"}) || got[1] != (Target{"darwin", "arm64"}) {
		t.Errorf("TargetList from targets = %v", got)
	}
}

// The darwin build needs Apple's toolchain for cgo: the release job that runs
// goreleaser must run on macOS, and check the Keychain before releasing.
func TestReleaseWorkflowRunsGoreleaserOnMacOS(t *testing.T) {
	data, err := os.ReadFile(repoRoot + "/.github/workflows/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			RunsOn string `yaml:"runs-on"`
			Steps  []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	releases := 0
	for name, job := range wf.Jobs {
		runs := ""
		for _, s := range job.Steps {
			runs += s.Run + "\n"
		}
		if !strings.Contains(runs, "goreleaser release") {
			continue
		}
		releases++
		if !strings.HasPrefix(job.RunsOn, "macos") {
			t.Errorf("job %s runs goreleaser release on %q, want a macOS runner", name, job.RunsOn)
		}
		if !strings.Contains(runs, "TestDarwin") || strings.Contains(runs, "JIT_RELEASE_SKIP_DARWIN") {
			t.Errorf("job %s must run the darwin Keychain test and must not skip darwin", name)
		}
	}
	if releases != 1 {
		t.Errorf("%d jobs run goreleaser release, want 1", releases)
	}
}

package releaseconfig

// Tests of what scripts/release-check.sh leaves in dist/: the .deb installed
// into a scratch root (dpkg -x) and the container image built with podman.
// They need a snapshot in dist/; scripts/test.sh and release-check.sh set
// JIT_REQUIRE_DIST=1 so that a missing dist/ fails instead of skipping.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/config"
)

// needDist returns the files of dist/ matching pattern, or skips (fails
// under JIT_REQUIRE_DIST=1) when there are none.
func needDist(t *testing.T, pattern string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(repoRoot, "dist", pattern))
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) == 0 {
		msg := fmt.Sprintf("no dist/%s: run bash scripts/release-check.sh first (make test does)", pattern)
		if os.Getenv("JIT_REQUIRE_DIST") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return matches
}

// needTool finds a command; without it the test fails under
// JIT_REQUIRE_DIST=1 and is otherwise a missing peer (testenv.MissingPeer:
// it fails under CI and is skipped elsewhere).
func needTool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("%s not found: %s", name, install)
		if os.Getenv("JIT_REQUIRE_DIST") == "1" {
			t.Fatal(msg)
		}
		testenv.MissingPeer(t, msg)
	}
	return p
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// unitDirectives reads a systemd unit's Key=Value lines (every value of a
// repeated key, in order).
func unitDirectives(data []byte) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			out[k] = append(out[k], v)
		}
	}
	return out
}

func TestDebPackageInstallsUnitConfigAndManPages(t *testing.T) {
	needTool(t, "dpkg-deb", "apt-get install dpkg")
	debs := needDist(t, "jit_*_amd64.deb")
	deb := debs[0]
	root := t.TempDir()
	run(t, "dpkg-deb", "-x", deb, root)

	wantModes := map[string]fs.FileMode{
		"usr/bin/jit":                               0o755,
		"usr/lib/systemd/system/jit.service":        0o644,
		"usr/lib/sysusers.d/jit.conf":               0o644,
		"etc/jit/jit.yaml":                          0o640, // may hold secrets: root:jit after postinst
		"usr/share/doc/jit/examples/jit.yaml":       0o644,
		"usr/share/bash-completion/completions/jit": 0o644,
	}
	mans, err := filepath.Glob(filepath.Join(repoRoot, "docs/man/*.1"))
	if err != nil || len(mans) == 0 {
		t.Fatalf("no docs/man/*.1 (%v)", err)
	}
	for _, m := range mans {
		wantModes["usr/share/man/man1/"+filepath.Base(m)] = 0o644
	}
	for p, mode := range wantModes {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Errorf("%s: /%s missing: %v", filepath.Base(deb), p, err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("/%s mode %o, want %o", p, fi.Mode().Perm(), mode)
		}
	}

	// /etc/jit/jit.yaml is a conffile: an upgrade keeps the admin's edits.
	ctrl := t.TempDir()
	run(t, "dpkg-deb", "-e", deb, ctrl)
	conffiles, err := os.ReadFile(filepath.Join(ctrl, "conffiles"))
	if err != nil || !slices.Contains(strings.Fields(string(conffiles)), "/etc/jit/jit.yaml") {
		t.Errorf("conffiles = %q (%v), want /etc/jit/jit.yaml", conffiles, err)
	}
	postinst, err := os.ReadFile(filepath.Join(ctrl, "postinst"))
	if err != nil || !strings.Contains(string(postinst), "systemd-sysusers") || !strings.Contains(string(postinst), "chgrp jit /etc/jit/jit.yaml") {
		t.Errorf("postinst does not create the jit user and hand it the config (%v):\n%s", err, postinst)
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		if _, err := os.Stat(filepath.Join(ctrl, script)); err != nil {
			t.Errorf("no %s maintainer script: %v", script, err)
			continue
		}
		run(t, "sh", "-n", filepath.Join(ctrl, script))
	}
	sysusers, _ := os.ReadFile(filepath.Join(root, "usr/lib/sysusers.d/jit.conf"))
	if !strings.Contains(string(sysusers), "u jit ") {
		t.Errorf("sysusers.d/jit.conf = %q, want a jit system user", sysusers)
	}

	unit, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/jit.service"))
	if err != nil {
		t.Fatal(err)
	}
	checkUnit(t, unitDirectives(unit))
	verifyUnit(t, root)

	checkConfigTemplate(t, filepath.Join(root, "etc/jit/jit.yaml"))
}

func checkUnit(t *testing.T, d map[string][]string) {
	t.Helper()
	want := map[string]string{
		"User":                    "jit",
		"ExecStart":               "/usr/bin/jit server --config /etc/jit/jit.yaml",
		"ExecStartPre":            "/usr/bin/jit server check-policy /etc/jit/jit.yaml",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"StateDirectory":          "jit",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"NoNewPrivileges":         "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"CapabilityBoundingSet":   "",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter":        "@system-service",
		"SystemCallArchitectures": "native",
		"MemoryDenyWriteExecute":  "yes",
		"RestrictSUIDSGID":        "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectControlGroups":    "yes",
		"WantedBy":                "multi-user.target",
	}
	for k, v := range want {
		if !slices.Contains(d[k], v) {
			t.Errorf("jit.service: %s=%q missing (has %q)", k, v, d[k])
		}
	}
}

// verifyUnit runs systemd-analyze verify on the unit as installed in root.
func verifyUnit(t *testing.T, root string) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed (apt-get install systemd): unit not verified by systemd")
		return
	}
	// verify also checks that ExecStart's binary exists: run it on a copy
	// whose paths point into the scratch root.
	unit, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/jit.service"))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "usr/bin/jit")
	unit = bytes.ReplaceAll(unit, []byte("=/usr/bin/jit "), []byte("="+bin+" "))
	dir := t.TempDir()
	p := filepath.Join(dir, "jit.service")
	if err := os.WriteFile(p, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(context.Background(), sa, "verify", "--man=no", p)
	out, err := cmd.CombinedOutput()
	// Outside a booted systemd (containers, CI sandboxes) verify may still
	// complain about the host; only lines about jit.service count.
	var problems []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "jit.service") {
			problems = append(problems, line)
		}
	}
	if len(problems) > 0 {
		t.Errorf("systemd-analyze verify jit.service (%v):\n%s", err, strings.Join(problems, "\n"))
	}
	t.Logf("systemd-analyze verify: %v; output:\n%s", err, out)
}

// checkConfigTemplate: every setting in the packaged config is commented out
// (the server refuses to start until an admin fills it in), and uncommented
// it is a valid config, so its keys cannot drift from pkg/config.
func checkConfigTemplate(t *testing.T, p string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var body []string
	inHeader := true
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed != "" && !strings.HasPrefix(trimmed, "#") {
			t.Errorf("%s: line %q is not commented out", p, line)
		}
		if inHeader {
			inHeader = trimmed != ""
			continue
		}
		// The tls line names files that exist only on a real host.
		if strings.HasPrefix(line, "# tls:") {
			continue
		}
		body = append(body, strings.TrimPrefix(strings.TrimPrefix(line, "#"), " "))
	}
	if _, err := config.Parse("jit.yaml (uncommented)", []byte(strings.Join(body, "\n"))); err != nil {
		t.Errorf("the packaged config, uncommented, is not valid: %v\n%s", err, strings.Join(body, "\n"))
	}
}

func TestContainerImage(t *testing.T) {
	podman := needTool(t, "podman", "apt-get install podman (scripts/deps.sh)")
	bins := needDist(t, "jit_linux_amd64*/jit")
	want, err := os.ReadFile(bins[0])
	if err != nil {
		t.Fatal(err)
	}
	version := strings.Fields(string(run(t, bins[0], "version")))[1]

	var b [6]byte
	_, _ = rand.Read(b[:])
	tag := "localhost/jit-test:" + hex.EncodeToString(b[:])
	run(t, "bash", filepath.Join(repoRoot, "scripts/image.sh"), "build", "--dist", filepath.Join(repoRoot, "dist"),
		"--tag", tag, "--platform", "linux/amd64")
	t.Cleanup(func() { _ = exec.Command(podman, "rmi", "-f", tag).Run() })

	var inspect []struct {
		Architecture string
		Os           string
		Config       struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			WorkingDir   string
			ExposedPorts map[string]struct{}
			Volumes      map[string]struct{}
			Labels       map[string]string
			Env          []string
		}
	}
	if err := json.Unmarshal(run(t, podman, "image", "inspect", tag), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("podman image inspect: %v (%d images)", err, len(inspect))
	}
	img := inspect[0]
	if img.Os != "linux" || img.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", img.Os, img.Architecture)
	}
	c := img.Config
	if c.User != "65532:65532" {
		t.Errorf("User = %q, want the non-root 65532:65532", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/usr/bin/jit", "server"}) || !slices.Equal(c.Cmd, []string{"--config", "/etc/jit/jit.yaml"}) {
		t.Errorf("Entrypoint %q Cmd %q, want jit server --config /etc/jit/jit.yaml", c.Entrypoint, c.Cmd)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("ExposedPorts = %v, want 8080/tcp", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/var/lib/jit"]; !ok {
		t.Errorf("Volumes = %v, want /var/lib/jit", c.Volumes)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.title":    "jit",
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.source":   "https://github.com/jit-access/jit",
	} {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if c.Labels["org.opencontainers.image.revision"] == "" {
		t.Error("no revision label")
	}

	// The filesystem, from the saved image's layers (running a container is
	// refused in this sandbox, so nothing here starts one).
	files := imageFiles(t, podman, tag)
	jit, ok := files["usr/bin/jit"]
	if !ok {
		t.Fatalf("no /usr/bin/jit in the image; files: %v", mapsKeys(files))
	}
	if sha256.Sum256(jit.data) != sha256.Sum256(want) {
		t.Error("/usr/bin/jit is not the release binary from dist/")
	}
	if jit.hdr.Mode&0o111 == 0 || jit.hdr.Uid != 0 {
		t.Errorf("/usr/bin/jit mode %o uid %d, want executable and owned by root", jit.hdr.Mode, jit.hdr.Uid)
	}
	if ca := files["etc/ssl/certs/ca-certificates.crt"]; !bytes.Contains(ca.data, []byte("BEGIN CERTIFICATE")) {
		t.Error("no CA bundle at /etc/ssl/certs/ca-certificates.crt")
	}
	if !bytes.Contains(files["etc/passwd"].data, []byte("jit:x:65532:65532:")) || !bytes.Contains(files["etc/group"].data, []byte("jit:x:65532:")) {
		t.Error("/etc/passwd or /etc/group does not name the jit user 65532")
	}
	if st, ok := files["var/lib/jit"]; !ok || st.hdr.Typeflag != tar.TypeDir || st.hdr.Uid != 65532 {
		t.Errorf("/var/lib/jit = %+v, want a directory owned by 65532", st.hdr)
	}
	// Only the state directory is the jit user's: /var and /var/lib stay
	// root's (a COPY --chown that creates them hands them over too).
	for _, dir := range []string{"var", "var/lib"} {
		if d, ok := files[dir]; !ok || d.hdr.Typeflag != tar.TypeDir || d.hdr.Uid != 0 || d.hdr.Gid != 0 || d.hdr.Mode&0o022 != 0 {
			t.Errorf("/%s = %+v, want a directory owned by root, writable only by it", dir, d.hdr)
		}
	}
	if d, ok := files["etc/jit"]; !ok || d.hdr.Typeflag != tar.TypeDir {
		t.Error("no /etc/jit directory to mount the config into")
	}
	if tmp, ok := files["tmp"]; !ok || tmp.hdr.Mode&0o1777 != 0o1777 {
		t.Error("no world-writable sticky /tmp")
	}
	// An empty base: nothing but what the Containerfile copies.
	for name := range files {
		if strings.HasPrefix(name, "bin/") || strings.HasPrefix(name, "usr/sbin/") || name == "bin" {
			t.Errorf("unexpected %s in a FROM scratch image", name)
		}
	}
}

type imageFile struct {
	hdr  *tar.Header
	data []byte
}

// imageFiles reads every file of the image's layers from `podman image save`.
func imageFiles(t *testing.T, podman, tag string) map[string]imageFile {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "image.tar")
	run(t, podman, "image", "save", "--format", "docker-archive", "-o", archive, tag)
	entries := map[string][]byte{}
	readTar(t, mustOpen(t, archive), func(h *tar.Header, r io.Reader) {
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		entries[h.Name] = data
	})
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(entries["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("image manifest.json: %v", err)
	}
	files := map[string]imageFile{}
	for _, layer := range manifest[0].Layers {
		data, ok := entries[layer]
		if !ok {
			t.Fatalf("layer %s missing from the saved image", layer)
		}
		readTar(t, bytes.NewReader(data), func(h *tar.Header, r io.Reader) {
			body, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			name := strings.TrimSuffix(path.Clean(strings.TrimPrefix(h.Name, "./")), "/")
			files[name] = imageFile{hdr: h, data: body}
		})
	}
	return files
}

func mustOpen(t *testing.T, p string) io.Reader {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func readTar(t *testing.T, r io.Reader, each func(*tar.Header, io.Reader)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		each(h, tr)
	}
}

func mapsKeys(m map[string]imageFile) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Every release binary gets a CycloneDX SBOM naming what was linked, and
// checksums.txt covers the archives, packages and SBOMs.
func TestSnapshotHasSBOMsAndChecksums(t *testing.T) {
	sboms := needDist(t, "*.cdx.json")
	for _, p := range sboms {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var bom struct {
			BOMFormat string `json:"bomFormat"`
			Metadata  struct {
				Component struct{ Name string } `json:"component"`
			} `json:"metadata"`
			Components []struct{ Name string } `json:"components"`
		}
		if err := json.Unmarshal(data, &bom); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Name != "github.com/jit-access/jit" {
			t.Errorf("%s: format %q component %q, want a CycloneDX SBOM of github.com/jit-access/jit", p, bom.BOMFormat, bom.Metadata.Component.Name)
		}
		// The full jit links 99designs/keyring; the slim credential process
		// reads the keyring without it (pkg/keyread), decrypting the file
		// backend's items with jose2go, so its SBOM must name that instead.
		want := "github.com/99designs/keyring"
		if strings.HasPrefix(filepath.Base(p), "jit-credential-process_") {
			want = "github.com/dvsekhvalnov/jose2go"
		}
		if !slices.ContainsFunc(bom.Components, func(c struct{ Name string }) bool { return c.Name == want }) {
			t.Errorf("%s lists no %s among %d components", p, want, len(bom.Components))
		}
	}
	sums, err := os.ReadFile(filepath.Join(repoRoot, "dist", "checksums.txt"))
	if err != nil {
		t.Fatalf("checksums.txt: %v", err)
	}
	listed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			listed[f[1]] = f[0]
		}
	}
	var artifacts []string
	for _, pattern := range []string{"*.tar.gz", "*.zip", "*.deb", "*.rpm", "*.cdx.json"} {
		m, _ := filepath.Glob(filepath.Join(repoRoot, "dist", pattern))
		artifacts = append(artifacts, m...)
	}
	for _, p := range artifacts {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if got := listed[filepath.Base(p)]; got != hex.EncodeToString(sum[:]) {
			t.Errorf("checksums.txt has %q for %s, want its sha256", got, filepath.Base(p))
		}
	}
}

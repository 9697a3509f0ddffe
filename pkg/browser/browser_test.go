package browser

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// fakeOpener writes a shell script named name into a new directory that
// records its arguments in a file and prints to stdout and stderr, as real
// openers do. It returns the directory and the record file.
func fakeOpener(t *testing.T, name string) (dir, record string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("shell scripts")
	}
	dir = t.TempDir()
	record = filepath.Join(dir, "opened")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" + record + "'\necho opener-stdout\necho opener-stderr >&2\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, record
}

func readRecord(t *testing.T, record string) string {
	t.Helper()
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("the opener did not run: %v", err)
	}
	return string(b)
}

// TestOpenRunsPlatformOpenerWithOutputOnStderr goes through
// github.com/pkg/browser, which runs the first of xdg-open, x-www-browser
// and www-browser on PATH; the fake xdg-open's output must land on our
// stderr writer, never on the process's stdout.
func TestOpenRunsPlatformOpenerWithOutputOnStderr(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("xdg-open is the Linux opener")
	}
	dir, record := fakeOpener(t, "xdg-open")
	t.Setenv("PATH", dir)

	var stderr bytes.Buffer
	o := New(&stderr, envOf(nil))
	const u = "https://idp.example.com/device?user_code=ABCD-EFGH"
	if err := o.Open(u); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got := readRecord(t, record); got != u+"\n" {
		t.Errorf("opener got %q, want %q", got, u)
	}
	if got := stderr.String(); !strings.Contains(got, "opener-stdout") || !strings.Contains(got, "opener-stderr") {
		t.Errorf("stderr = %q, want both of the opener's outputs", got)
	}
}

func TestOpenReportsMissingOpener(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux opener lookup")
	}
	t.Setenv("PATH", t.TempDir())
	err := New(nil, envOf(nil)).Open("https://example.com/")
	if err == nil || !strings.Contains(err.Error(), "open browser") {
		t.Errorf("Open with no opener on PATH = %v, want an error", err)
	}
}

func TestOpenHonoursBrowserVariables(t *testing.T) {
	dir, record := fakeOpener(t, "my-browser")
	cmd := filepath.Join(dir, "my-browser")
	for _, key := range []string{"JIT_BROWSER", "BROWSER"} {
		t.Run(key, func(t *testing.T) {
			_ = os.Remove(record)
			var stderr bytes.Buffer
			o := New(&stderr, envOf(map[string]string{key: cmd + " --new-window"}))
			if err := o.Open("http://127.0.0.1:8080/x"); err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got, want := readRecord(t, record), "--new-window\nhttp://127.0.0.1:8080/x\n"; got != want {
				t.Errorf("browser got args %q, want %q", got, want)
			}
			if !strings.Contains(stderr.String(), "opener-stdout") {
				t.Errorf("stderr = %q, want the browser's stdout there", stderr.String())
			}
		})
	}
}

func TestOpenRefusesNonWebURLs(t *testing.T) {
	dir, record := fakeOpener(t, "my-browser")
	o := New(nil, envOf(map[string]string{"JIT_BROWSER": filepath.Join(dir, "my-browser")}))
	for _, u := range []string{
		"file:///etc/passwd",
		"javascript:alert(1)",
		"-h",
		"--help https://example.com",
		"ms-settings:",
		"smb://host/share",
		"https://",
		"example.com/no-scheme",
		"",
		"https://exa mple.com/\x00",
	} {
		if err := o.Open(u); !errors.Is(err, ErrNotWebURL) {
			t.Errorf("Open(%q) = %v, want ErrNotWebURL", u, err)
		}
	}
	if _, err := os.Stat(record); err == nil {
		t.Error("the browser ran for a refused URL")
	}
}

func TestHeadless(t *testing.T) {
	tests := []struct {
		goos string
		env  map[string]string
		want bool
	}{
		{"linux", map[string]string{"DISPLAY": ":0"}, false},
		{"linux", map[string]string{"WAYLAND_DISPLAY": "wayland-0"}, false},
		{"linux", nil, true},
		{"freebsd", nil, true},
		{"darwin", nil, false},
		{"windows", nil, false},
		{"linux", map[string]string{"DISPLAY": ":0", "SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22"}, true},
		{"darwin", map[string]string{"SSH_TTY": "/dev/pts/1"}, true},
		{"darwin", map[string]string{"CI": "true"}, true},
		{"darwin", map[string]string{"CI": "false"}, false},
		{"windows", map[string]string{"JIT_NO_BROWSER": "1"}, true},
		{"linux", map[string]string{"DISPLAY": ":0", "JIT_NO_BROWSER": "0"}, false},
	}
	for _, tt := range tests {
		if got := headless(tt.goos, envOf(tt.env)); got != tt.want {
			t.Errorf("headless(%s, %v) = %v, want %v", tt.goos, tt.env, got, tt.want)
		}
	}
}

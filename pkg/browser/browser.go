// Package browser opens http(s) URLs in the user's web browser for the login
// and console flows, and tells whether there is a browser to open at all.
// Nothing it runs writes to jit's stdout, which is reserved for data.
package browser

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	pkgbrowser "github.com/pkg/browser"
)

// Opener opens a URL in a browser. Commands take it from the Factory so that
// tests can record URLs instead.
type Opener interface {
	Open(url string) error
}

// ErrNotWebURL is returned for anything but an absolute http or https URL:
// an IdP (or a server) must not be able to make jit open a file, a custom
// scheme handler or an option for the opener program.
var ErrNotWebURL = errors.New("refusing to open a URL that is not http(s)")

// libraryMu serialises use of github.com/pkg/browser, which takes the writers
// for the programs it runs from package variables. It is the one package
// variable here, forced by that library's API.
var libraryMu sync.Mutex

type opener struct {
	stderr io.Writer
	env    func(string) string
}

// New returns an Opener that writes the opener program's output to stderr.
// env is os.Getenv in production: $JIT_BROWSER, else $BROWSER, names a
// program to run with the URL as its last argument (it may carry arguments
// of its own, split on blanks); otherwise the platform's opener
// (xdg-open, open, rundll32) runs via github.com/pkg/browser.
func New(stderr io.Writer, env func(string) string) Opener {
	if stderr == nil {
		stderr = io.Discard
	}
	return &opener{stderr: stderr, env: env}
}

// Open opens rawURL after checking it is an http(s) URL.
func (o *opener) Open(rawURL string) error {
	if err := CheckURL(rawURL); err != nil {
		return err
	}
	for _, k := range []string{"JIT_BROWSER", "BROWSER"} {
		if v := strings.TrimSpace(o.env(k)); v != "" {
			return o.run(v, rawURL)
		}
	}
	libraryMu.Lock()
	defer libraryMu.Unlock()
	pkgbrowser.Stdout, pkgbrowser.Stderr = o.stderr, o.stderr
	if err := pkgbrowser.OpenURL(rawURL); err != nil {
		return fmt.Errorf("open browser: %w", err)
	}
	return nil
}

func (o *opener) run(command, rawURL string) error {
	args := strings.Fields(command)
	cmd := exec.Command(args[0], append(args[1:], rawURL)...)
	cmd.Stdout, cmd.Stderr = o.stderr, o.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("open browser with %s: %w", args[0], err)
	}
	return nil
}

// CheckURL returns ErrNotWebURL (wrapped, with the URL) unless rawURL is an
// absolute http or https URL with a host.
func CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.HasPrefix(rawURL, "-") {
		return fmt.Errorf("%w: %q", ErrNotWebURL, rawURL)
	}
	return nil
}

// Headless reports whether opening a browser is pointless or unwanted: the
// user asked (JIT_NO_BROWSER), jit runs in CI or over SSH, or, on Linux and
// the BSDs, there is no graphical display. The CLI then only prints the URL.
func Headless(env func(string) string) bool {
	return headless(runtime.GOOS, env)
}

func headless(goos string, env func(string) string) bool {
	for _, k := range []string{"JIT_NO_BROWSER", "CI", "SSH_CONNECTION", "SSH_TTY"} {
		if v := env(k); v != "" && v != "0" && !strings.EqualFold(v, "false") {
			return true
		}
	}
	switch goos {
	case "darwin", "windows", "ios", "android":
		return false
	}
	return env("DISPLAY") == "" && env("WAYLAND_DISPLAY") == ""
}

package awsconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SlimBinary is the credential_process binary shipped beside jit.
const SlimBinary = "jit-credential-process"

// Locate returns what profiles should run given the running jit's path: the
// slim binary beside it when that is there and executable (direct = true),
// else jit itself with its credential-process subcommand. jitExe is used as
// given, not with symlinks resolved, so a package manager's stable link
// (/opt/homebrew/bin/jit) keeps working across upgrades.
func Locate(jitExe string) (program string, direct bool) {
	if jitExe == "" {
		return "", false
	}
	slim := filepath.Join(filepath.Dir(jitExe), SlimBinary)
	if Executable(slim) == nil {
		return slim, true
	}
	return jitExe, false
}

// Executable reports why path cannot be run as a program, or nil.
func Executable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", path)
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not executable", path)
	}
	return nil
}

// Programs returns, for each profile in jit's block of data, the program its
// credential_process runs (the first word, unquoted), keyed by profile name.
func Programs(data []byte) (map[string]string, error) {
	lines := splitLines(data)
	begin, end, err := block(lines)
	if err != nil || begin < 0 {
		return nil, err
	}
	out := map[string]string{}
	profile := ""
	for _, l := range lines[begin+1 : end] {
		if name, ok := sectionProfile(l.text); ok {
			profile = name
			continue
		}
		k, v, ok := strings.Cut(l.text, "=")
		if !ok || strings.TrimSpace(k) != "credential_process" || profile == "" {
			continue
		}
		out[profile] = firstWord(strings.TrimSpace(v))
	}
	return out, nil
}

// firstWord undoes quoteArg on the command line's first word.
func firstWord(cmd string) string {
	if !strings.HasPrefix(cmd, `"`) {
		w, _, _ := strings.Cut(cmd, " ")
		return w
	}
	var b strings.Builder
	for i := 1; i < len(cmd); i++ {
		switch c := cmd[i]; {
		case c == '\\' && i+1 < len(cmd):
			i++
			b.WriteByte(cmd[i])
		case c == '"':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// StaleProgram says what is wrong with a profile's program given the one
// jit would write now (want), or "" when nothing is. A bare name (jit, found
// on PATH, as older versions wrote) is stale only when jit now ships a slim
// binary to use instead.
func StaleProgram(got, want string) string {
	if got == want {
		return ""
	}
	if filepath.IsAbs(got) {
		if err := Executable(got); err != nil {
			return err.Error()
		}
	}
	return fmt.Sprintf("runs %s, not %s beside this jit", got, want)
}

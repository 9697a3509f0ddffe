package tui

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// mruSize is how many recently used roles are remembered.
const mruSize = 10

// MRU is the small file of recently used role names, most recent first,
// one per line, kept under the user's cache directory so that the roles a
// person uses every day come first in the picker.
type MRU struct{ Path string }

// Load returns the remembered roles; a missing or unreadable file is an
// empty list (the picker works without it).
func (m *MRU) Load() []string {
	if m == nil || m.Path == "" {
		return nil
	}
	data, err := os.ReadFile(m.Path)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && len(out) < mruSize {
			out = append(out, line)
		}
	}
	return out
}

// Touch moves role to the front and writes the file atomically.
func (m *MRU) Touch(role string) error {
	if m == nil || m.Path == "" || role == "" || strings.ContainsAny(role, "\r\n") {
		return nil
	}
	list := []string{role}
	for _, r := range m.Load() {
		if r != role && len(list) < mruSize {
			list = append(list, r)
		}
	}
	if err := os.MkdirAll(filepath.Dir(m.Path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(m.Path), ".recent-*")
	if err != nil {
		return err
	}
	_, werr := tmp.WriteString(strings.Join(list, "\n") + "\n")
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), m.Path); err != nil {
		_ = os.Remove(tmp.Name())
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return nil
}

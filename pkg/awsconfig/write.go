package awsconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces the file at path with data atomically: a temporary file
// in the same directory, synced, then renamed over it, so a crash never
// leaves a half-written config. The existing file's mode is kept (0600 for
// a new file), and a symlinked config (a dotfiles repository) is written
// through to its target rather than replaced by a plain file.
func WriteFile(path string, data []byte) (err error) {
	mode := fs.FileMode(0o600)
	switch fi, statErr := os.Stat(path); {
	case statErr == nil:
		mode = fi.Mode().Perm()
		if resolved, err := filepath.EvalSymlinks(path); err == nil {
			path = resolved
		}
	case errors.Is(statErr, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	default:
		return fmt.Errorf("write %s: %w", path, statErr)
	}

	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".jit-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

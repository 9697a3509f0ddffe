// Package cliconfig reads and writes the CLI's own settings file
// ($JIT_CONFIG, else $XDG_CONFIG_HOME/jit/config.yaml, else
// ~/.config/jit/config.yaml): which server to use and how to reach the
// keyring. Flags and environment variables override it.
package cliconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/goccy/go-yaml"
)

// Config is the CLI's settings.
type Config struct {
	// Server is the jit server's URL (`jit login --server URL` saves it).
	Server string `yaml:"server,omitempty"`
	// Keyring picks the credential store backend ("" = the OS default):
	// keyctl, secret-service, file, pass, kwallet, keychain, wincred.
	Keyring string `yaml:"keyring,omitempty"`
	// KeyringFileDir is where the encrypted-file backend keeps its items.
	KeyringFileDir string `yaml:"keyring_file_dir,omitempty"`
	// KeyringTimeout bounds every keyring call [5s].
	KeyringTimeout time.Duration `yaml:"keyring_timeout,omitempty"`
	// ProfilePrefix is put before role names by `jit configure aws` [""].
	ProfilePrefix string `yaml:"profile_prefix,omitempty"`
	// Region is the default AWS region for exec, assume and profiles.
	Region string `yaml:"region,omitempty"`
}

// Path returns where the config file lives.
func Path(env func(string) string) (string, error) {
	if p := env("JIT_CONFIG"); p != "" {
		return p, nil
	}
	if x := env("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "jit", "config.yaml"), nil
	}
	home := env("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the config file: %w (set JIT_CONFIG)", err)
		}
		home = h
	}
	return filepath.Join(home, ".config", "jit", "config.yaml"), nil
}

// Load reads path; a missing file is an empty config.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse decodes a config strictly: unknown keys are errors with their line.
func Parse(name string, data []byte) (*Config, error) {
	var c Config
	if err := yaml.UnmarshalWithOptions(data, &c, yaml.DisallowUnknownField()); err != nil {
		return nil, fmt.Errorf("%s: %s", name, yaml.FormatError(err, false, true))
	}
	return &c, nil
}

// Save writes the config atomically with mode 0600.
func Save(path string, c *Config) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

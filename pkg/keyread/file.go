package keyread

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	jose "github.com/dvsekhvalnov/jose2go"
	"github.com/mtibben/percent"
)

// fileGet reads key from the file backend: one file per item, named by the
// percent-encoded key, holding a JWE (PBES2-HS256+A128KW, A256GCM) of the
// library's item, sealed with the passphrase.
func fileGet(cfg Config, key string) ([]byte, bool, error) {
	dir := cfg.FileDir
	if dir == "" {
		var err error
		if dir, err = DefaultFileDir(); err != nil {
			return nil, false, err
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, percent.Encode(key, "/")))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read file keyring item: %w", err)
	}
	if cfg.Passphrase == nil {
		return nil, false, ErrNoPassphrase
	}
	pw, err := cfg.Passphrase()
	if err != nil {
		return nil, false, err
	}
	if pw == "" {
		return nil, false, ErrNoPassphrase
	}
	payload, _, err := jose.Decode(string(raw), pw)
	if err != nil {
		return nil, false, fmt.Errorf("decrypt file keyring item (wrong passphrase?): %w", err)
	}
	data, err := decodeLibraryItem([]byte(payload), key)
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

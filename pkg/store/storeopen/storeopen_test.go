package storeopen_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/store/storeopen"
	"github.com/jit-access/jit/pkg/store/storetest"
)

func TestOpenChoosesSQLiteForPathsAndFileAndSQLiteURLs(t *testing.T) {
	dir := t.TempDir()
	for name, dsn := range map[string]string{
		"plain":  filepath.Join(dir, "plain.db"),
		"file":   "file:" + filepath.Join(dir, "file.db"),
		"sqlite": "sqlite://" + filepath.Join(dir, "url.db"),
	} {
		t.Run(name, func(t *testing.T) {
			st, err := storeopen.Open(context.Background(), dsn, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := st.Ping(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, name+".db")); name != "sqlite" && err != nil {
				t.Fatalf("database file not created at the named path: %v", err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "url.db")); err != nil {
		t.Fatalf("sqlite:// path not used: %v", err)
	}
}

func TestOpenChoosesPostgresForPostgresURLs(t *testing.T) {
	dsn := testenv.Postgres(t)
	for _, scheme := range []string{"postgres://", "postgresql://"} {
		d := scheme + strings.TrimPrefix(strings.TrimPrefix(dsn, "postgres://"), "postgresql://")
		st, err := storeopen.Open(context.Background(), d, nil)
		if err != nil {
			t.Fatalf("%s: %v", scheme, err)
		}
		r := storetest.NewRequest("r-"+strings.TrimSuffix(scheme, "://"), "alice", "dev", testTime)
		if err := st.Create(t.Context(), r, nil); err != nil {
			t.Fatalf("%s: %v", scheme, err)
		}
		st.Close()
	}
}

func TestOpenRejectsOtherDSNsNamingTheAcceptedForms(t *testing.T) {
	for _, dsn := range []string{"", "mysql://root@localhost/jit", "redis://x"} {
		_, err := storeopen.Open(context.Background(), dsn, nil)
		if err == nil {
			t.Fatalf("%q accepted", dsn)
		}
		for _, form := range []string{"postgres://", "sqlite://"} {
			if !strings.Contains(err.Error(), form) {
				t.Errorf("error for %q does not name %s: %v", dsn, form, err)
			}
		}
	}
}

var testTime = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

package sqlstore_test

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/store/sqlstore"
)

func encode(r *api.Request) ([]byte, error) { return json.Marshal(r) }

func TestMigrationsPickTheDialectsFilesInVersionOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"migrations/0010_late.sql":             {Data: []byte("C")},
		"migrations/0002_b.postgres.sql":       {Data: []byte("pg")},
		"migrations/0002_b.sqlite.sql":         {Data: []byte("B")},
		"migrations/0003_only_pg.postgres.sql": {Data: []byte("pg")},
		"migrations/0001_a.sql":                {Data: []byte("A")},
		"migrations/README":                    {Data: []byte("not a migration")},
	}
	ms, err := sqlstore.Migrations(fsys, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.SQL)
	}
	if strings.Join(got, "") != "ABC" || ms[2].Version != 10 {
		t.Fatalf("%+v", ms)
	}
	if ms, err := sqlstore.Migrations(fsys, "postgres"); err != nil || len(ms) != 4 || ms[2].Version != 3 {
		t.Fatalf("postgres: %+v, %v", ms, err)
	}
	_, err = sqlstore.Migrations(fstest.MapFS{"migrations/0002_a.sql": {}, "migrations/0002_b.sqlite.sql": {}}, "sqlite")
	if err == nil || !strings.Contains(err.Error(), "share version 2") {
		t.Fatalf("duplicate versions: %v", err)
	}
	if _, err := sqlstore.Migrations(fstest.MapFS{"migrations/x_a.sql": {}}, "sqlite"); err == nil {
		t.Fatal("a name without a version was accepted")
	}
}

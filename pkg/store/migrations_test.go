package store

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestMigrationsInVersionOrderAndNoDuplicates(t *testing.T) {
	ms, err := Migrations(fstest.MapFS{
		"migrations/0010_late.sql": {Data: []byte("C")},
		"migrations/0002_b.sql":    {Data: []byte("B")},
		"migrations/0001_a.sql":    {Data: []byte("A")},
		"migrations/README":        {Data: []byte("not a migration")},
	})
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
	_, err = Migrations(fstest.MapFS{"migrations/0002_a.sql": {}, "migrations/0002_b.sql": {}})
	if err == nil || !strings.Contains(err.Error(), "share version 2") {
		t.Fatalf("duplicate versions: %v", err)
	}
	if _, err := Migrations(fstest.MapFS{"migrations/x_a.sql": {}}); err == nil {
		t.Fatal("a name without a version was accepted")
	}
}

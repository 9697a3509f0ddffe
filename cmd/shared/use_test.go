package shared

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

func TestExecRefusesToNestInsideAnotherGrant(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	called := false
	opts := &UseOptions{IO: io, Role: "prod", Command: []string{"true"},
		Env:     func(k string) string { return map[string]string{"JIT_ROLE": "staging"}[k] },
		Session: func() (*session.Session, error) { called = true; return nil, errors.New("unused") },
	}
	err := ExecRun(context.Background(), opts)
	var hint *cmdutil.HintError
	if !errors.As(err, &hint) || hint.Code != cmdutil.ExitUsage || !strings.Contains(err.Error(), "already inside jit exec for staging") {
		t.Fatalf("err = %v", err)
	}
	if called {
		t.Fatal("fetched credentials before refusing")
	}
}

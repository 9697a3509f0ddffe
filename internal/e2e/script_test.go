package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs testdata/script/*.txtar, one security property or user
// story each, against one world where alice, bob (approver), carol (admin
// and approver) and dave (developer, no approver) are logged in.
// `as USER jit-args...` runs the jit binary as that user; its stdout and
// stderr are checked with stdout/stderr as usual.
func TestScripts(t *testing.T) {
	w := newWorld(t)
	jit := testenv.JitBinary(t)
	users := map[string]*user{}
	for _, name := range []string{"alice", "bob", "carol"} {
		u := w.user(name)
		u.login()
		users[name] = u
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("JIT_SERVER", w.server)
			env.Setenv("MINIO", w.minio.Endpoint())
			env.Setenv("BUCKET", w.bucket)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"as": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: as USER jit-args...")
				}
				u, ok := users[args[0]]
				if !ok {
					ts.Fatalf("no logged-in user %q", args[0])
				}
				cmd := exec.Command(jit, args[1:]...)
				cmd.Env = u.env
				cmd.Dir = ts.MkAbs(".")
				var out, errOut strings.Builder
				cmd.Stdout, cmd.Stderr = &out, &errOut
				err := cmd.Run()
				// What the command printed is what stdout/stderr check next.
				_, _ = ts.Stdout().Write([]byte(out.String()))
				_, _ = ts.Stderr().Write([]byte(errOut.String()))
				code := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("run jit: %v", err)
				}
				ts.Setenv("EXIT", strconv.Itoa(code))
				ts.Setenv("OUT", strings.TrimSpace(out.String()))
				if (code != 0) != neg {
					ts.Fatalf("jit %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args[1:], " "), code, out.String(), errOut.String())
				}
			},
			// jsonfield FIELD VAR sets VAR to the top-level FIELD of the last
			// `as` command's JSON output (-o json).
			"jsonfield": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 || neg {
					ts.Fatalf("usage: jsonfield FIELD VAR")
				}
				var v map[string]any
				if err := json.Unmarshal([]byte(ts.Getenv("OUT")), &v); err != nil {
					ts.Fatalf("the last output is not JSON: %v", err)
				}
				f, ok := v[args[0]]
				if !ok {
					ts.Fatalf("no field %q in the last output", args[0])
				}
				ts.Setenv(args[1], fmt.Sprint(f))
			},
			// exitcode N checks the last `as` command's exit code.
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: exitcode N")
				}
				if got := ts.Getenv("EXIT"); (got == args[0]) == neg {
					ts.Fatalf("exit code %s, want %s%s", got, map[bool]string{true: "not ", false: ""}[neg], args[0])
				}
			},
		},
	})
}

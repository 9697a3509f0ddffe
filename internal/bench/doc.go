// Package bench holds jit's side-by-side benchmark suite (issue 7): the
// cached credential-process against a floor program and aws-vault, the
// server's request → approve → credentials cycle, approval wake-up, expiry
// and revocation response times, growth with the store's size, and a
// simulated day that checks every vended credential is refused once its
// grant ends. It lives in _test.go files so that it can start the real peers
// through internal/testenv; it runs only with JIT_BENCH=1 (`make bench`, which
// writes docs/benchmarks.md), never as part of `go test ./...`. The
// exception is the fault suite (TestFaultsUnderLoad): its short runs are
// part of `go test ./...` (make test); JIT_BENCH=1 runs it longer and writes
// its table.
package bench

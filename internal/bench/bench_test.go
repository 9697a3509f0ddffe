package bench

import (
	"os"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
)

// TestBench runs every figure of docs/benchmarks.md side by side and writes
// the report. It is skipped unless JIT_BENCH=1: `make bench` sets it.
// JIT_BENCH_QUICK=1 shortens every section (for trying the runner).
func TestBench(t *testing.T) {
	if os.Getenv("JIT_BENCH") != "1" {
		t.Skip("benchmarks run with JIT_BENCH=1 (make bench)")
	}
	quick := os.Getenv("JIT_BENCH_QUICK") == "1"
	rep := newReport()
	runs, cycleDur, reps := 60, 2*time.Second, 3
	if quick {
		runs, cycleDur, reps = 12, 500*time.Millisecond, 1
	}

	t.Run("credential-process", func(t *testing.T) {
		rep.procs = benchCredentialProcess(t, runs)
	})

	r := newRig(t, benchUsers(12, 3))
	stores := []string{"sqlite"}
	if os.Getenv(testenv.PostgresDSNEnv) != "" {
		stores = append(stores, "postgres")
	} else {
		rep.notes = append(rep.notes, "PostgreSQL was not measured: "+testenv.PostgresDSNEnv+" was not set (make bench starts one).")
	}

	t.Run("cycle", func(t *testing.T) {
		for _, s := range stores {
			for _, vname := range []string{vendorFake, vendorMinIO} {
				t.Run(s+"/"+vname, func(t *testing.T) {
					o := serverOpts{store: openStore(t, s), vendor: fakeVendor{}}
					if vname == vendorMinIO {
						o.vendor = r.minioVendor(t, r.parent)
					}
					base := r.startServer(t, o)
					for _, c := range []int{1, 16, 128} {
						p := r.measureCycle(base, s, vname, c, reps, cycleDur)
						t.Logf("%s %s %d clients: %.0f cycles/s p50 %.1f ms p99 %.1f ms (%d errors)", s, vname, c, p.perSec, p.p50, p.p99, p.errors)
						rep.cycles = append(rep.cycles, p)
					}
				})
			}
		}
	})

	t.Run("wake", func(t *testing.T) {
		n := 15
		if quick {
			n = 3
		}
		for _, vname := range []string{vendorFake, vendorMinIO} {
			o := serverOpts{store: openStore(t, "sqlite"), vendor: fakeVendor{}}
			if vname == vendorMinIO {
				o.vendor = r.minioVendor(t, r.parent)
			}
			base := r.startServer(t, o)
			w := r.measureWake(t, base, vname, n, vname == vendorMinIO)
			rep.wakes = append(rep.wakes, w)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		sweep := time.Second
		base := r.startServer(t, serverOpts{store: openStore(t, "sqlite"), vendor: r.minioVendor(t, r.parent), sweep: sweep})
		n := 6
		if quick {
			n = 2
		}
		rep.expiry = r.measureExpiry(t, base, sweep, n, 6*time.Second)
	})

	t.Run("revoke", func(t *testing.T) {
		n := 6
		if quick {
			n = 2
		}
		v := newPerGrantVendor(t, r, n)
		base := r.startServer(t, serverOpts{store: openStore(t, "sqlite"), vendor: v, revoker: v, sweep: time.Second})
		rep.revoke = r.measureRevoke(t, base, n)
	})

	t.Run("keyctl-expiry", func(t *testing.T) {
		rep.keyctl = measureKeyctlExpiry(t, 5)
	})

	t.Run("scale", func(t *testing.T) {
		sizes := []scaleSize{{"1×", 100, 1000}, {"10×", 1000, 10000}, {"100×", 10000, 100000}}
		if quick {
			sizes = sizes[:2]
		}
		for _, s := range stores {
			for _, sz := range sizes {
				t.Run(s+"/"+sz.label, func(t *testing.T) {
					st := openStore(t, s)
					t0 := time.Now()
					seedStore(t, st, sz.grants, sz.events)
					seedTime := time.Since(t0)
					base := r.startServer(t, serverOpts{store: st, vendor: fakeVendor{}})
					p16 := r.measureCycle(base, s, vendorFake, 16, reps, cycleDur)
					p1 := r.measureCycle(base, s, vendorFake, 1, reps, cycleDur)
					rep.scale = append(rep.scale, scaleRow{size: sz, store: s, seed: seedTime, c16: p16, c1: p1, due: dueLatency(t, st)})
					t.Logf("%s %s: seeded in %s; 16 clients %.0f/s p99 %.1f ms", s, sz.label, seedTime.Round(time.Millisecond), p16.perSec, p16.p99)
				})
			}
		}
	})

	t.Run("day", func(t *testing.T) {
		n, span := 100, 50*time.Second
		if quick {
			n, span = 20, 15*time.Second
		}
		plans := planDay(n, 12, 3, span)
		v := newPerGrantVendor(t, r, n)
		base := r.startServer(t, serverOpts{store: openStore(t, "sqlite"), vendor: v, revoker: v, sweep: time.Second})
		rep.day = r.runDay(t, base, plans, 12)
		for _, e := range rep.day.errors {
			t.Log("day:", e)
		}
		if rep.day.lingering+rep.day.finalLingering > 0 {
			t.Errorf("lingering permissions: %d at end+grace, %d at the end of the day", rep.day.lingering, rep.day.finalLingering)
		}
	})

	t.Run("audit-log", func(t *testing.T) {
		d, n, big := cycleDur, reps, int64(1_000_000)
		if quick {
			big = 100_000
		}
		rep.auditLog = measureAuditLog(t, r, n, d, big)
	})

	t.Run("activity", func(t *testing.T) {
		rep.activity = r.runActivity(t, stores, quick)
	})

	out := os.Getenv("JIT_BENCH_OUT")
	if out == "" {
		out = "../../docs"
	}
	if err := rep.write(out); err != nil {
		t.Fatal(err)
	}
}

const (
	vendorFake  = "fake vendor (STS excluded)"
	vendorMinIO = "MinIO STS"
)

type scaleSize struct {
	label          string
	grants, events int
}

type scaleRow struct {
	size    scaleSize
	store   string
	seed    time.Duration
	c16, c1 cyclePoint
	due     float64
}

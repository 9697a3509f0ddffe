// Command seed fills a jit store with a deterministic history of requests
// and their audit records (internal/history), for measuring how jit grows
// with its history:
//
//	go run ./internal/seed -store postgres://… -requests 100000
//	go run ./internal/seed -store /tmp/jit.db -requests 10000 -end 2026-12-01T00:00:00Z
//
// The store should be empty. The same flags give the same store.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	"github.com/jit-access/jit/internal/history"
	"github.com/jit-access/jit/pkg/store/storeopen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("store", "", "the store: a SQLite path or a postgres:// URL (required)")
	n := fs.Int("requests", 10000, "how many requests")
	perDay := fs.Int("per-day", 300, "requests a day: the history spans requests/per-day days")
	seed := fs.Uint64("seed", 1, "the random seed")
	end := fs.String("end", "", "the history's last moment, RFC 3339 (default: now, to the second)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the seeding to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *dsn == "" {
		return fmt.Errorf("-store is required. Try: go run ./internal/seed -store /tmp/jit.db -requests 10000")
	}
	o := history.Options{Requests: *n, PerDay: *perDay, Seed: *seed, End: time.Now().UTC().Truncate(time.Second)}
	if *end != "" {
		t, err := time.Parse(time.RFC3339, *end)
		if err != nil {
			return fmt.Errorf("-end must be an RFC 3339 time such as 2026-12-01T00:00:00Z: %w", err)
		}
		o.End = t
	}
	st, err := storeopen.Open(ctx, *dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer st.Close()
	b, ok := st.(history.Batcher)
	if !ok {
		return fmt.Errorf("the store %T takes no batches", st)
	}
	if size, err := b.AuditTreeSize(ctx); err != nil {
		return err
	} else if size > 0 {
		return fmt.Errorf("the store already holds %d audit records: seed an empty one", size)
	}
	t0 := time.Now()
	last := t0
	o.Progress = func(created int) {
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			fmt.Fprintf(stderr, "seed: %d of %d requests (%.0f/s)\n", created, *n, float64(created)/time.Since(t0).Seconds())
		}
	}
	stats, err := history.Seed(ctx, b, o)
	if err != nil {
		return err
	}
	d := time.Since(t0)
	fmt.Fprintf(stdout, "seeded %d requests and %d audit records (%s to %s) in %s: %.0f requests/s, %.0f records/s\n",
		stats.Requests, stats.Records, stats.Start.Format(time.DateOnly), stats.End.Format(time.DateOnly), d.Round(time.Millisecond),
		float64(stats.Requests)/d.Seconds(), float64(stats.Records)/d.Seconds())
	return nil
}

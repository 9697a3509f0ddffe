package api

import (
	"testing"
	"time"
)

func TestFormatDurationReadsLikeAPerson(t *testing.T) {
	for d, want := range map[time.Duration]string{
		45 * time.Second: "45s", 30 * time.Minute: "30m", time.Hour: "1h", 90 * time.Minute: "1h30m",
		10 * time.Hour: "10h", 10 * time.Minute: "10m", 61 * time.Second: "1m1s", 1500 * time.Millisecond: "2s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

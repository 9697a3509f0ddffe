package requests

import "testing"

func TestDurReadsLikeAPerson(t *testing.T) {
	for sec, want := range map[int64]string{1800: "30m", 3600: "1h", 5400: "1h30m", 45: "45s", 900: "15m", 36000: "10h", 600: "10m"} {
		if got := dur(sec); got != want {
			t.Errorf("dur(%d) = %q, want %q", sec, got, want)
		}
	}
}

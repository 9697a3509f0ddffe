package freshness

import (
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

func TestEndsIsEarliest(t *testing.T) {
	early := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	late := early.Add(time.Hour)
	for _, tc := range []struct {
		name string
		c    api.Credentials
		want time.Time
	}{
		{"expiration only", api.Credentials{Expiration: late}, late},
		{"grant ends first", api.Credentials{Expiration: late, GrantEndsAt: early}, early},
		{"sts ends first", api.Credentials{Expiration: late, STSExpiration: early, GrantEndsAt: late}, early},
		{"expiration already earliest", api.Credentials{Expiration: early, STSExpiration: late, GrantEndsAt: late}, early},
		{"missing expiration", api.Credentials{GrantEndsAt: early}, early},
		{"nothing", api.Credentials{}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Ends(tc.c); !got.Equal(tc.want) {
				t.Fatalf("got %v want %v", got, tc.want)
			}
		})
	}
}

func TestFresh(t *testing.T) {
	c := api.Credentials{AccessKeyID: "x", Expiration: t0.Add(15 * time.Minute)}
	for _, tc := range []struct {
		now    time.Time
		window time.Duration
		want   bool
	}{
		{t0, 10 * time.Minute, true},
		{t0, 15 * time.Minute, false}, // exactly at the edge is not fresh
		{t0.Add(14 * time.Minute), 0, true},
		{t0.Add(15 * time.Minute), 0, false},
	} {
		if got := Fresh(c, tc.now, tc.window); got != tc.want {
			t.Errorf("Fresh(now=%v, window=%v) = %v", tc.now, tc.window, got)
		}
		if got := Ended(c, tc.now); got != !Fresh(c, tc.now, 0) {
			t.Errorf("Ended(now=%v) = %v, disagrees with Fresh", tc.now, got)
		}
	}
	if Fresh(api.Credentials{AccessKeyID: "x"}, t0, 0) {
		t.Error("credentials without an expiry are fresh")
	}
	if !Ended(api.Credentials{AccessKeyID: "x"}, t0) {
		t.Error("credentials without an expiry have not ended")
	}
}

func TestServableWindow(t *testing.T) {
	c := api.Credentials{Expiration: t0.Add(10 * time.Minute), STSExpiration: t0.Add(10 * time.Minute), GrantEndsAt: t0.Add(2 * time.Hour)}
	if !Servable(c, t0, 5*time.Minute) {
		t.Fatal("10 minutes of STS left on a 2h grant: should still serve")
	}
	if Servable(c, t0.Add(6*time.Minute), 5*time.Minute) {
		t.Fatal("4 minutes of STS left on a long grant: should re-vend")
	}
	if Servable(c, t0.Add(6*time.Minute), 0) {
		t.Fatal("0 is not the default refresh window of 5 minutes")
	}
	c.GrantEndsAt = c.STSExpiration
	if !Servable(c, t0.Add(9*time.Minute), 5*time.Minute) {
		t.Fatal("the grant ends with the STS session: nothing longer to vend, serve until the end")
	}
	if Servable(c, t0.Add(10*time.Minute).Add(-MinRemaining), 5*time.Minute) {
		t.Fatal("served in its last seconds, which an SDK would see as already expired")
	}
}

// TestServableNeverPastGrantEnd: a cache item whose Expiration outlives its
// grant (an old item, or a server that did not cap it) is served by the same
// rule as everything else, Ends, so not in the grant's last seconds nor after.
func TestServableNeverPastGrantEnd(t *testing.T) {
	c := api.Credentials{Expiration: t0.Add(time.Hour), STSExpiration: t0.Add(time.Hour), GrantEndsAt: t0.Add(10 * time.Minute)}
	if !Servable(c, t0, 0) {
		t.Fatal("10 minutes left on the grant: should serve")
	}
	if Servable(c, t0.Add(10*time.Minute).Add(-MinRemaining), 0) {
		t.Fatal("served in the grant's last seconds because its Expiration was later")
	}
	if Servable(c, t0.Add(11*time.Minute), 0) {
		t.Fatal("served after the grant ended because its Expiration was later")
	}
	if !Ended(c, t0.Add(10*time.Minute)) {
		t.Fatal("not ended at the grant's end")
	}
}

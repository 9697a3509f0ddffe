package grants

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/jit-access/jit/pkg/metrics"
)

// serviceMetrics are the service's Prometheus series, on a registry of its
// own that the server serves with its own.
type serviceMetrics struct {
	registry    *metrics.Registry
	transitions *metrics.CounterVec
	vends       *metrics.CounterVec
	sweepLag    *metrics.Histogram
	idleLag     *metrics.Histogram
}

func newMetrics() *serviceMetrics {
	r := metrics.NewRegistry()
	lags := []float64{.01, .05, .1, .25, .5, 1, 2, 5, 10, 30}
	return &serviceMetrics{
		registry:    r,
		transitions: r.NewCounterVec("jit_request_events_total", "Audit events written, by type.", "type"),
		vends:       r.NewCounterVec("jit_credentials_vended_total", "Credential vends by outcome.", "outcome"),
		sweepLag:    r.NewHistogram("jit_sweep_lag_seconds", "How long after its end a grant or pending request was swept.", lags),
		idleLag:     r.NewHistogram("jit_idle_revoke_lag_seconds", "How long after its idle timeout passed an idle grant was revoked.", lags),
	}
}

// limiter is a per-principal token bucket on request creation.
type limiter struct {
	mu     sync.Mutex
	rate   rate.Limit
	burst  int
	byUser map[string]*rate.Limiter
}

func newLimiter(perMinute float64, burst int) *limiter {
	return &limiter{rate: rate.Limit(perMinute / 60), burst: burst, byUser: map[string]*rate.Limiter{}}
}

func (l *limiter) allow(user string, now time.Time) bool {
	l.mu.Lock()
	lim, ok := l.byUser[user]
	if !ok {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.byUser[user] = lim
	}
	l.mu.Unlock()
	return lim.AllowN(now, 1)
}

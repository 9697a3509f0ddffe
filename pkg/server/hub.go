package server

import "sync"

// hub wakes the clients waiting on a request when it changes. The store's
// Listen feeds it, so a change made by any replica wakes waiters on all.
type hub struct {
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
	closed  chan struct{} // closed when the server begins shutting down
	count   func(delta float64)
}

func newHub(count func(float64)) *hub {
	return &hub{waiters: map[string]map[chan struct{}]struct{}{}, closed: make(chan struct{}), count: count}
}

// subscribe returns a channel that receives when request id changes, and a
// function to stop waiting.
func (h *hub) subscribe(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.waiters[id] == nil {
		h.waiters[id] = map[chan struct{}]struct{}{}
	}
	h.waiters[id][ch] = struct{}{}
	h.mu.Unlock()
	h.count(1)
	return ch, func() {
		h.mu.Lock()
		delete(h.waiters[id], ch)
		if len(h.waiters[id]) == 0 {
			delete(h.waiters, id)
		}
		h.mu.Unlock()
		h.count(-1)
	}
}

// notify wakes every waiter on id.
func (h *hub) notify(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.waiters[id] {
		select {
		case ch <- struct{}{}:
		default: // already woken
		}
	}
}

// shutdown tells every waiter, present and future, to give up.
func (h *hub) shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.closed:
	default:
		close(h.closed)
	}
}

package server

import "sync"

// Hub wakes the clients waiting on a request when it changes: the API's
// long-polls and the web app's live pages (server-sent events). The
// store's Listen feeds it, so a change made by any replica wakes waiters
// on all. A waiter costs one buffered channel and a map entry; nobody
// polls the store while waiting.
type Hub struct {
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
	closed  chan struct{} // closed when the server begins shutting down
	count   func(delta float64)
}

// NewHub makes a hub. Give it to one server (Options.Hub) and to the
// doors that wait beside the API (the web app); New makes one when unset.
func NewHub() *Hub {
	return &Hub{waiters: map[string]map[chan struct{}]struct{}{}, closed: make(chan struct{}), count: func(float64) {}}
}

// Watch returns a channel that receives when request id changes (a
// change that comes while the last one is unread is merged into it), and
// a function to stop watching.
func (h *Hub) Watch(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.waiters[id] == nil {
		h.waiters[id] = map[chan struct{}]struct{}{}
	}
	h.waiters[id][ch] = struct{}{}
	count := h.count
	h.mu.Unlock()
	count(1)
	return ch, func() {
		h.mu.Lock()
		delete(h.waiters[id], ch)
		if len(h.waiters[id]) == 0 {
			delete(h.waiters, id)
		}
		h.mu.Unlock()
		count(-1)
	}
}

// Notify wakes every waiter on id.
func (h *Hub) Notify(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.waiters[id] {
		select {
		case ch <- struct{}{}:
		default: // already woken
		}
	}
}

// Closed is closed when the server begins shutting down: waiters give up
// and tell their clients to come back.
func (h *Hub) Closed() <-chan struct{} { return h.closed }

// shutdown tells every waiter, present and future, to give up.
func (h *Hub) shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.closed:
	default:
		close(h.closed)
	}
}

// counted reports the number of waiters to count from now on.
func (h *Hub) counted(count func(float64)) {
	h.mu.Lock()
	h.count = count
	h.mu.Unlock()
}

package server

import "sync"

// mailbox is an unbounded queue between two goroutines: put never blocks,
// so the sender never waits for a receiver that may itself be waiting on
// it; the receiver selects on wake and then takes everything queued. A put
// while the receiver is busy leaves one wake-up pending, so nothing queued
// is missed.
type mailbox[T any] struct {
	mu    sync.Mutex
	items []T
	ready chan struct{}
}

func newMailbox[T any]() *mailbox[T] { return &mailbox[T]{ready: make(chan struct{}, 1)} }

func (m *mailbox[T]) put(v T) {
	m.mu.Lock()
	m.items = append(m.items, v)
	m.mu.Unlock()
	select {
	case m.ready <- struct{}{}:
	default:
	}
}

// wake is ready to receive when something may be queued.
func (m *mailbox[T]) wake() <-chan struct{} { return m.ready }

// take returns everything queued, oldest first, and empties the queue.
func (m *mailbox[T]) take() []T {
	m.mu.Lock()
	q := m.items
	m.items = nil
	m.mu.Unlock()
	return q
}

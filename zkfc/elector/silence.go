package elector

import (
	"net"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"
)

// An active's controller must self-fence once its last acknowledgment is
// a session timeout minus the margin old, and it does so from its loop.
// A request the loop sent into a connection that went silent (a frozen
// server, a partition that drops packets) waits for the library's receive
// timeout, two thirds of the session timeout after the last byte read,
// which for a margin above a third of the session is later than the
// self-fence deadline. BreakAfterSilence has the elector close the
// session's TCP connection at that deadline instead: the library fails
// every waiting request at once (zk.ErrConnectionClosed) and reconnects
// within the same session, and the loop is free to self-fence on time.

// silenceCheck is how often the deadline is checked.
const silenceCheck = 20 * time.Millisecond

// BreakAfterSilence arms (margin > 0) or disarms (0) the break: while
// armed, a connection of the current session whose last acknowledgment is
// older than the session timeout minus margin is closed, once per
// acknowledgment. The controller arms it while its service is active,
// with its self-fence margin.
func (e *Elector) BreakAfterSilence(margin time.Duration) { e.silenceMargin.Store(int64(margin)) }

// tcpConn holds the TCP (or TLS) connection a session dialed last.
type tcpConn struct {
	mu sync.Mutex
	c  net.Conn
}

// dialer records every connection dial makes in h.
func (h *tcpConn) dialer(dial zk.Dialer) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := dial(network, address, timeout)
		if err == nil {
			h.mu.Lock()
			h.c = c
			h.mu.Unlock()
		}
		return c, err
	}
}

func (h *tcpConn) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.c != nil {
		_ = h.c.Close()
	}
}

// watchSilence applies BreakAfterSilence to one session's connections.
func (e *Elector) watchSilence(conn *zk.Conn, h *tcpConn, stop <-chan struct{}) {
	defer e.wg.Done()
	t := time.NewTicker(silenceCheck)
	defer t.Stop()
	var brokeFor int64 // the acknowledgment whose age last broke the connection
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		margin := time.Duration(e.silenceMargin.Load())
		ack := e.lastAck.Load()
		at, timeout, ok := e.LastAck()
		if margin <= 0 || !ok || ack == brokeFor || conn.State() != zk.StateHasSession {
			continue
		}
		if silent := time.Since(at); silent >= timeout-margin {
			brokeFor = ack
			e.lg.Warn("no acknowledgment from zookeeper for session timeout minus the self-fence margin: closing the connection so that requests waiting on it fail now",
				zap.Duration("silent", silent), zap.Duration("session_timeout", timeout), zap.Duration("margin", margin), zap.String("server", conn.Server()))
			h.close()
		}
	}
}

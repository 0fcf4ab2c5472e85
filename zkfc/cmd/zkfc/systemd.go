package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/controller"
)

// notifier speaks systemd's notify protocol: READY=1 once the first
// election outcome is known, STATUS= with the role, WATCHDOG=1 from the
// controller's loop. Outside systemd (no NOTIFY_SOCKET) it does nothing.
type notifier struct {
	lg       *zap.Logger
	mu       sync.Mutex
	ready    bool
	watchdog time.Duration // 0: watchdog not enabled
	lastPing time.Time
}

func newNotifier(lg *zap.Logger) *notifier {
	n := &notifier{lg: lg}
	if d, err := daemon.SdWatchdogEnabled(false); err == nil && d > 0 {
		n.watchdog = d
		lg.Info("systemd watchdog enabled", zap.Duration("interval", d))
	}
	return n
}

func (n *notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.lg.Warn("sd_notify", zap.String("state", state), zap.Error(err))
	}
}

// onRole is the controller's OnRole callback.
func (n *notifier) onRole(r controller.Role, reason string) {
	n.mu.Lock()
	first := !n.ready
	n.ready = true
	n.mu.Unlock()
	status := fmt.Sprintf("STATUS=%s (%s)", r, reason)
	if first {
		n.send(daemon.SdNotifyReady + "\n" + status)
		return
	}
	n.send(status)
}

// onTick is the controller's OnTick callback: called only while the loop
// runs, so a stalled loop starves the watchdog and systemd restarts zkfc.
func (n *notifier) onTick() {
	if n.watchdog == 0 {
		return
	}
	n.mu.Lock()
	due := time.Since(n.lastPing) >= n.watchdog/3
	if due {
		n.lastPing = time.Now()
	}
	n.mu.Unlock()
	if due {
		n.send(daemon.SdNotifyWatchdog)
	}
}

func (n *notifier) stopping() { n.send(daemon.SdNotifyStopping) }

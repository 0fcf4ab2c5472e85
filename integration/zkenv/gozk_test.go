package zkenv

import (
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// WaitSession returns once the session event arrives, and fails at once,
// not at its bound, when the client closed the channel first.
func TestWaitSession(t *testing.T) {
	ev := make(chan zk.Event, 2)
	ev <- zk.Event{State: zk.StateConnecting}
	ev <- zk.Event{State: zk.StateHasSession}
	if err := WaitSession(ev, time.Minute); err != nil {
		t.Fatalf("session event: %v", err)
	}
	closed := make(chan zk.Event)
	close(closed)
	if err := WaitSession(closed, time.Minute); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("closed channel: %v, want the closed connection named", err)
	}
	if err := WaitSession(make(chan zk.Event), 50*time.Millisecond); err == nil {
		t.Fatal("no event: no error")
	}
}

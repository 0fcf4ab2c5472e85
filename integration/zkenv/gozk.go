package zkenv

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// Quiet is a go-zookeeper logger that drops everything (zk.WithLogger):
// a test reports what matters itself.
var Quiet zk.Logger = quietLogger{}

// SessionWait bounds how long a new go-zookeeper connection may take to
// get its session: generous, a failure bound and no measure of speed.
const SessionWait = 30 * time.Second

// DialZK opens a go-zookeeper/zk session to addr (DialZKAny).
func DialZK(addr string, sessionTimeout time.Duration) (*zk.Conn, <-chan zk.Event, error) {
	return DialZKAny([]string{addr}, sessionTimeout)
}

// DialZKAny opens a go-zookeeper/zk session to one of addrs (the client
// picks them in random order), silenced, and waits up to SessionWait for
// the session. The caller closes the connection.
func DialZKAny(addrs []string, sessionTimeout time.Duration) (*zk.Conn, <-chan zk.Event, error) {
	c, events, err := zk.Connect(addrs, sessionTimeout, zk.WithLogger(Quiet), zk.WithLogInfo(false))
	if err != nil {
		return nil, nil, fmt.Errorf("zk connect %s: %w", strings.Join(addrs, ","), err)
	}
	if err := WaitSession(events, SessionWait); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("zk connect %s: %w", strings.Join(addrs, ","), err)
	}
	return c, events, nil
}

// WaitSession waits up to within until a go-zookeeper connection's events
// report that it has its session.
func WaitSession(events <-chan zk.Event, within time.Duration) error {
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return errors.New("connection closed before it had a session")
			}
			if ev.State == zk.StateHasSession {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("no session within %v", within)
		}
	}
}

// ZKStat converts go-zookeeper's Stat (nil-safe) to the wire record.
func ZKStat(s *zk.Stat) proto.Stat {
	if s == nil {
		return proto.Stat{}
	}
	return proto.Stat{
		Czxid: s.Czxid, Mzxid: s.Mzxid, Ctime: s.Ctime, Mtime: s.Mtime,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion,
		EphemeralOwner: s.EphemeralOwner, DataLength: s.DataLength,
		NumChildren: s.NumChildren, Pzxid: s.Pzxid,
	}
}

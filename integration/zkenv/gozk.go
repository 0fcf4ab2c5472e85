package zkenv

import (
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// DialZK opens a go-zookeeper/zk session to addr, silenced, and waits up to
// 15s for the session to be established. The caller closes the connection.
func DialZK(addr string, sessionTimeout time.Duration) (*zk.Conn, <-chan zk.Event, error) {
	c, events, err := zk.Connect([]string{addr}, sessionTimeout,
		zk.WithLogger(quietLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return nil, nil, fmt.Errorf("zk connect %s: %w", addr, err)
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return c, events, nil
			}
		case <-deadline:
			c.Close()
			return nil, nil, fmt.Errorf("zk connect %s: no session within 15s", addr)
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

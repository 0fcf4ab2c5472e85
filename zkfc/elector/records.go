package elector

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
)

// Znodes of a replicated service, under the cluster path.
const (
	// PositionName: the active's last recorded replication position.
	PositionName = "Position"
	// SyncName: which standby the active keeps synchronous (durable mode).
	SyncName = "Sync"
)

// Position is the Position znode: the replication position the active
// under Token last recorded. It outlives the active, so that a candidate
// can compare itself with the old active's last known position.
type Position struct {
	Node     string    `json:"node"`
	Token    uint64    `json:"token"`
	Position uint64    `json:"position"`
	Time     time.Time `json:"time"`
}

// Sync is the Sync znode: the active under Token (node Active) waits for
// Standby's acknowledgment before it acknowledges a commit, and Standby
// had reached Position when it was recorded. Standby "" says nobody is in
// sync: no node may be promoted in durable mode on this record.
type Sync struct {
	Active   string    `json:"active"`
	Token    uint64    `json:"token"`
	Standby  string    `json:"standby"`
	Position uint64    `json:"position"`
	Time     time.Time `json:"time"`
}

// ErrStaleRecord refuses a write under an older fencing token than the
// record already holds: an old active must never overwrite a newer one's.
var ErrStaleRecord = errors.New("the znode holds a newer fencing token")

// ReadPosition reads the Position znode; nil if there is none.
func (e *Elector) ReadPosition() (*Position, error) {
	var p Position
	ok, _, err := e.readRecord(PositionName, &p)
	if !ok {
		return nil, err
	}
	return &p, err
}

// WritePosition records p, unless the znode holds a newer token.
func (e *Elector) WritePosition(p Position) error {
	var old Position
	return e.writeRecord(PositionName, p, p.Token, &old, func() uint64 { return old.Token })
}

// ReadSync reads the Sync znode; nil if there is none.
func (e *Elector) ReadSync() (*Sync, error) {
	var s Sync
	ok, _, err := e.readRecord(SyncName, &s)
	if !ok {
		return nil, err
	}
	return &s, err
}

// WriteSync records s, unless the znode holds a newer token. The write
// is acknowledged by the quorum before it returns: a caller may then act
// on it (turn synchronous replication off, for one).
func (e *Elector) WriteSync(s Sync) error {
	var old Sync
	return e.writeRecord(SyncName, s, s.Token, &old, func() uint64 { return old.Token })
}

// readRecord decodes the JSON znode name into v; ok is false if it is
// missing (err nil) or unreadable.
func (e *Elector) readRecord(name string, v any) (ok bool, version int32, err error) {
	var raw []byte
	var st *zk.Stat
	err = e.do(func(c *zk.Conn) (err error) { raw, st, err = c.Get(e.path(name)); return })
	if errors.Is(err, zk.ErrNoNode) {
		return false, -1, nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("read %s: %w", e.path(name), err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, 0, fmt.Errorf("decode %s %q: %w", e.path(name), raw, err)
	}
	return true, st.Version, nil
}

// writeRecord creates or replaces the znode name with v, by a versioned
// set over what it read, refusing if the stored token (oldToken, read
// into old) is above token.
func (e *Elector) writeRecord(name string, v any, token uint64, old any, oldToken func() uint64) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	p := e.path(name)
	for attempt := 0; attempt < 5; attempt++ {
		ok, version, err := e.readRecord(name, old)
		if err != nil {
			return err
		}
		if ok && oldToken() > token {
			return fmt.Errorf("write %s under token %d: %w (%d)", p, token, ErrStaleRecord, oldToken())
		}
		err = e.write(func(c *zk.Conn) error {
			if !ok {
				_, err := c.Create(p, data, 0, e.acl())
				return err
			}
			_, err := c.Set(p, data, version)
			return err
		})
		if errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrBadVersion) {
			continue // a concurrent writer: read again
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		return nil
	}
	return fmt.Errorf("write %s: too many concurrent writers", p)
}

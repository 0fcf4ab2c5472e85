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

func (p Position) fencingToken() uint64 { return p.Token }
func (s Sync) fencingToken() uint64     { return s.Token }

// record is a JSON znode written under a fencing token.
type record interface {
	Position | Sync
	fencingToken() uint64
}

// ErrStaleRecord refuses a write under an older fencing token than the
// record already holds: an old active must never overwrite a newer one's.
var ErrStaleRecord = errors.New("the znode holds a newer fencing token")

// ReadPosition reads the Position znode; nil if there is none.
func (e *Elector) ReadPosition() (*Position, error) {
	p, _, err := readJSON[Position](e, PositionName)
	return p, err
}

// WritePosition records p, unless the znode holds a newer token.
func (e *Elector) WritePosition(p Position) error { return writeRecord(e, PositionName, p) }

// ReadSync reads the Sync znode; nil if there is none.
func (e *Elector) ReadSync() (*Sync, error) {
	s, _, err := readJSON[Sync](e, SyncName)
	return s, err
}

// WriteSync records s, unless the znode holds a newer token. The write
// is acknowledged by the quorum before it returns: a caller may then act
// on it (turn synchronous replication off, for one).
func (e *Elector) WriteSync(s Sync) error { return writeRecord(e, SyncName, s) }

// readZnode reads the znode name: its data and version, or nil data and
// version -1 if it is missing.
func (e *Elector) readZnode(name string) ([]byte, int32, error) {
	p := e.path(name)
	var raw []byte
	var st *zk.Stat
	err := e.do(func(c *zk.Conn) (err error) { raw, st, err = c.Get(p); return })
	if errors.Is(err, zk.ErrNoNode) {
		return nil, -1, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", p, err)
	}
	return raw, st.Version, nil
}

// readJSON decodes the znode name; nil (and version -1) if it is missing.
func readJSON[T any](e *Elector, name string) (*T, int32, error) {
	raw, version, err := e.readZnode(name)
	if err != nil || version == -1 {
		return nil, version, err
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, 0, fmt.Errorf("decode %s %q: %w", e.path(name), raw, err)
	}
	return &v, version, nil
}

// writeRecord creates or replaces the znode name with v, by a versioned
// set over what it read, refusing if the stored token is above v's.
func writeRecord[T record](e *Elector, name string, v T) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	p := e.path(name)
	for attempt := 0; attempt < 5; attempt++ {
		old, version, err := readJSON[T](e, name)
		if err != nil {
			return err
		}
		if old != nil && (*old).fencingToken() > v.fencingToken() {
			return fmt.Errorf("write %s under token %d: %w (%d)", p, v.fencingToken(), ErrStaleRecord, (*old).fencingToken())
		}
		err = e.write(func(c *zk.Conn) error {
			if old == nil {
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

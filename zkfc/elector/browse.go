package elector

import (
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"
)

// WitnessesName holds one ephemeral entry per witness zkfc, so that a
// console on any node can find the witness's control API: the witness is
// no candidate and so never appears under MembersName.
const WitnessesName = "witnesses"

// Znode is one znode as read for the console's browser.
type Znode struct {
	Path     string
	Data     []byte
	Stat     zk.Stat
	ACL      []zk.ACL
	Children []string
}

// Znode reads path's data, stat, ACL and children on the current session.
// It only reads: the console's browser must never change the tree. The
// four reads are not atomic; the stat is the one read with the data.
func (e *Elector) Znode(p string) (Znode, error) {
	z := Znode{Path: p}
	err := e.do(func(c *zk.Conn) error {
		data, st, err := c.Get(p)
		if err != nil {
			return fmt.Errorf("get %s: %w", p, err)
		}
		z.Data, z.Stat = data, *st
		if z.ACL, _, err = c.GetACL(p); err != nil {
			return fmt.Errorf("get ACL of %s: %w", p, err)
		}
		if z.Children, _, err = c.Children(p); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("list %s: %w", p, err)
		}
		return nil
	})
	return z, err
}

// RegisterWitness publishes a witness zkfc's identity (its control URL)
// as an ephemeral entry under WitnessesName for as long as the session
// lives.
func (e *Elector) RegisterWitness(self Info) error { return e.register(WitnessesName, self) }

// Witnesses lists the registered witness zkfcs.
func (e *Elector) Witnesses() ([]Info, error) { return e.list(WitnessesName) }

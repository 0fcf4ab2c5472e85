package elector

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"
)

// Znodes the operator's records live in, beside the election's: the
// history log (sequential children, oldest trimmed by the writer) and the
// scheduled switchover.
const (
	HistoryName   = "history"
	historyPrefix = "entry-"
	ScheduledName = "ScheduledSwitchover"
)

// ErrScheduleExists: a switchover is already scheduled.
var ErrScheduleExists = errors.New("a switchover is already scheduled")

// Record is one history entry as stored: its sequence number (the
// sequential znode's counter, increasing across every writer) and data.
type Record struct {
	Seq  int64
	Data []byte
}

// AppendHistory stores data as the newest history entry and deletes the
// oldest entries beyond keep. A failed trim is not an error of the append:
// the next append trims again.
func (e *Elector) AppendHistory(data []byte, keep int) (int64, error) {
	dir := e.path(HistoryName)
	var name string
	err := e.do(func(c *zk.Conn) error {
		if _, err := c.Create(dir, nil, 0, e.acl()); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		var err error
		name, err = c.Create(dir+"/"+historyPrefix, data, zk.FlagSequence, e.acl())
		if err != nil {
			return fmt.Errorf("append to %s: %w", dir, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	seq, _ := historySeq(name[strings.LastIndex(name, "/")+1:])
	if err := e.trimHistory(keep); err != nil {
		e.lg.Warn("trim history", zap.Error(err))
	}
	return seq, nil
}

func historySeq(name string) (int64, bool) {
	if !strings.HasPrefix(name, historyPrefix) {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(name, historyPrefix), 10, 64)
	return n, err == nil
}

// historyNames lists the entries' names, oldest first.
func (e *Elector) historyNames(c *zk.Conn) ([]string, error) {
	dir := e.path(HistoryName)
	names, _, err := c.Children(dir)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	kept := names[:0]
	for _, n := range names {
		if _, ok := historySeq(n); ok {
			kept = append(kept, n)
		}
	}
	sort.Slice(kept, func(i, j int) bool {
		a, _ := historySeq(kept[i])
		b, _ := historySeq(kept[j])
		return a < b
	})
	return kept, nil
}

func (e *Elector) trimHistory(keep int) error {
	return e.do(func(c *zk.Conn) error {
		names, err := e.historyNames(c)
		if err != nil {
			return err
		}
		for len(names) > keep {
			p := e.path(HistoryName) + "/" + names[0]
			if err := c.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				return fmt.Errorf("delete %s: %w", p, err)
			}
			names = names[1:]
		}
		return nil
	})
}

// History reads every stored entry, oldest first.
func (e *Elector) History() ([]Record, error) {
	var out []Record
	err := e.do(func(c *zk.Conn) error {
		names, err := e.historyNames(c)
		if err != nil {
			return err
		}
		for _, n := range names {
			raw, _, err := c.Get(e.path(HistoryName) + "/" + n)
			if errors.Is(err, zk.ErrNoNode) {
				continue // trimmed meanwhile
			}
			if err != nil {
				return fmt.Errorf("read %s/%s: %w", e.path(HistoryName), n, err)
			}
			seq, _ := historySeq(n)
			out = append(out, Record{Seq: seq, Data: raw})
		}
		return nil
	})
	return out, err
}

// Schedule reads the scheduled switchover: nil data and version -1 if none.
func (e *Elector) Schedule() ([]byte, int32, error) { return e.readZnode(ScheduledName) }

// CreateSchedule stores a switchover; ErrScheduleExists if one is.
func (e *Elector) CreateSchedule(data []byte) error {
	return e.do(func(c *zk.Conn) error {
		_, err := c.Create(e.path(ScheduledName), data, 0, e.acl())
		if errors.Is(err, zk.ErrNodeExists) {
			return ErrScheduleExists
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", e.path(ScheduledName), err)
		}
		return nil
	})
}

// DeleteSchedule removes the scheduled switchover if it is still at
// version (-1: whatever it is); false if it was gone or changed, so that
// of two nodes claiming it only one runs it.
func (e *Elector) DeleteSchedule(version int32) (bool, error) {
	var ok bool
	err := e.do(func(c *zk.Conn) error {
		err := c.Delete(e.path(ScheduledName), version)
		switch {
		case errors.Is(err, zk.ErrNoNode), errors.Is(err, zk.ErrBadVersion):
			return nil
		case err != nil:
			return fmt.Errorf("delete %s: %w", e.path(ScheduledName), err)
		}
		ok = true
		return nil
	})
	return ok, err
}

// Package linearize records what concurrent ZooKeeper clients did to a few
// registers (setData, compare-and-set by version, sync+getData) and checks
// the history with porcupine against a sequential model of versioned
// registers. An operation whose outcome the client could not learn
// (connection loss) is kept with an open end, so the checker may place it
// anywhere after its start or not at all. It must never retry or hide an
// outcome: the history is what clients saw.
package linearize

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
)

// Kind of operation.
type Kind int

const (
	Write Kind = iota // setData(version -1)
	CAS               // setData(expected version)
	Read              // sync, then getData
)

// Input is what a client asked.
type Input struct {
	Key     string
	Kind    Kind
	Value   string
	Version int32 // expected version for CAS
}

// Output is what the client saw.
type Output struct {
	OK      bool   // write/CAS succeeded, or read returned
	Value   string // read
	Version int32  // read: the version read; write/CAS: the new version
	Unknown bool   // no answer (connection loss, timeout)
}

// state is one register: value and version.
type state struct {
	value   string
	version int32
}

// Model is the sequential specification of the registers, one partition
// per key.
var Model = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(Input).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return state{value: "init", version: 0} },
	Step: func(st, in, out interface{}) (bool, interface{}) {
		s, i, o := st.(state), in.(Input), out.(Output)
		switch i.Kind {
		case Write:
			if o.Unknown {
				return true, state{i.Value, s.version + 1}
			}
			return o.OK && o.Version == s.version+1, state{i.Value, s.version + 1}
		case CAS:
			match := s.version == i.Version
			if o.Unknown {
				if match {
					return true, state{i.Value, s.version + 1}
				}
				return true, s
			}
			if o.OK {
				return match && o.Version == s.version+1, state{i.Value, s.version + 1}
			}
			return !match, s
		case Read:
			if o.Unknown {
				return true, s
			}
			return o.Value == s.value && o.Version == s.version, s
		}
		return false, s
	},
	DescribeOperation: func(in, out interface{}) string {
		i, o := in.(Input), out.(Output)
		switch i.Kind {
		case Write:
			return fmt.Sprintf("write(%s,%s) -> %v", i.Key, i.Value, o)
		case CAS:
			return fmt.Sprintf("cas(%s,v%d,%s) -> %v", i.Key, i.Version, i.Value, o)
		}
		return fmt.Sprintf("read(%s) -> %v", i.Key, o)
	},
}

// History collects operations from concurrent clients.
type History struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
	// Acked holds every acknowledged write: key -> values, for the
	// durability check after the run.
	Acked map[string][]string
}

func NewHistory() *History { return &History{start: time.Now(), Acked: map[string][]string{}} }

func (h *History) now() int64 { return int64(time.Since(h.start)) }

func (h *History) add(client int, in Input, call int64, out Output) {
	ret := h.now()
	if out.Unknown {
		ret = math.MaxInt64
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	if out.OK && in.Kind != Read {
		h.Acked[in.Key] = append(h.Acked[in.Key], in.Value)
	}
}

// Len is the number of recorded operations.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ops)
}

// Counts returns ok, failed (definite) and unknown outcomes.
func (h *History) Counts() (ok, failed, unknown int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, op := range h.ops {
		o := op.Output.(Output)
		switch {
		case o.Unknown:
			unknown++
		case o.OK:
			ok++
		default:
			failed++
		}
	}
	return
}

// Check runs porcupine; it returns nil when the history is linearizable.
// A check that times out is an error too: it proves nothing.
func (h *History) Check(timeout time.Duration, visualize string) error {
	h.mu.Lock()
	ops := append([]porcupine.Operation(nil), h.ops...)
	h.mu.Unlock()
	res, info := porcupine.CheckOperationsVerbose(Model, ops, timeout)
	switch res {
	case porcupine.Ok:
		return nil
	case porcupine.Illegal:
		if visualize != "" {
			_ = porcupine.VisualizePath(Model, info, visualize)
		}
		return fmt.Errorf("history of %d operations is NOT linearizable (visualization: %s)", len(ops), visualize)
	}
	return fmt.Errorf("linearizability check of %d operations timed out after %v", len(ops), timeout)
}

// Setup creates the registers under root with value "init".
func Setup(c *zk.Conn, root string, keys int) ([]string, error) {
	if _, err := c.Create(root, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return nil, err
	}
	var out []string
	for i := 0; i < keys; i++ {
		k := fmt.Sprintf("%s/r%d", root, i)
		if _, err := c.Create(k, []byte("init"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// Client runs random operations on keys through conn until ctx is done,
// recording them. Each operation waits at most opTimeout for an answer.
func Client(ctx context.Context, h *History, id int, conn *zk.Conn, keys []string, seed int64, opTimeout time.Duration) {
	rng := rand.New(rand.NewSource(seed))
	for n := 0; ctx.Err() == nil; n++ {
		key := keys[rng.Intn(len(keys))]
		in := Input{Key: key}
		switch r := rng.Intn(10); {
		case r < 3:
			in.Kind = Write
		case r < 6:
			in.Kind = CAS
		default:
			in.Kind = Read
		}
		in.Value = fmt.Sprintf("c%d-%d", id, n)
		if in.Kind == CAS {
			// Read a recent version first (not recorded): a CAS with a
			// plausible version exercises both outcomes.
			_, st, err := timed(opTimeout, func() ([]byte, *zk.Stat, error) { return conn.Get(key) })
			if err != nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			in.Version = st.Version
		}
		call := h.now()
		out := do(conn, in, opTimeout)
		h.add(id, in, call, out)
		if out.Unknown {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func timed[T any](d time.Duration, f func() (T, *zk.Stat, error)) (T, *zk.Stat, error) {
	type r struct {
		v   T
		st  *zk.Stat
		err error
	}
	ch := make(chan r, 1)
	go func() { v, st, err := f(); ch <- r{v, st, err} }()
	select {
	case x := <-ch:
		return x.v, x.st, x.err
	case <-time.After(d):
		var zero T
		return zero, nil, errors.New("timeout")
	}
}

// definite reports whether err is an answer from the server (the operation
// certainly did not happen) rather than a lost connection.
func definite(err error) bool {
	return errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNoNode)
}

func do(conn *zk.Conn, in Input, timeout time.Duration) Output {
	switch in.Kind {
	case Write, CAS:
		ver := int32(-1)
		if in.Kind == CAS {
			ver = in.Version
		}
		_, st, err := timed(timeout, func() (struct{}, *zk.Stat, error) {
			st, err := conn.Set(in.Key, []byte(in.Value), ver)
			return struct{}{}, st, err
		})
		switch {
		case err == nil:
			return Output{OK: true, Version: st.Version}
		case definite(err):
			return Output{OK: false}
		}
		return Output{Unknown: true}
	default:
		data, st, err := timed(timeout, func() ([]byte, *zk.Stat, error) {
			if _, err := conn.Sync(in.Key); err != nil {
				return nil, nil, err
			}
			return conn.Get(in.Key)
		})
		if err != nil {
			return Output{Unknown: true}
		}
		return Output{OK: true, Value: string(data), Version: st.Version}
	}
}

// Package history is the cluster's durable log of transitions: promotions,
// demotions, fencings, self-fences, failover requests, pauses, scheduled
// switchovers and configuration changes, kept in the quorum under the
// cluster's znode (<parent>/<cluster>/history/entry-N, sequential znodes,
// the oldest beyond MaxEntries deleted by the writer).
//
// Recording must never hold up a failover: Log.Record only queues the
// entry (a bounded queue; when it is full the oldest queued entry is
// dropped and counted), and one goroutine writes the queue to the quorum,
// retrying while the quorum is away. Entries carry the time they were
// recorded, not the time they were written.
//
// It must never decide anything: it records what the controller and the
// control API did and reads it back.
package history

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Kinds of entries (the control API's /history and the web console use
// these names).
const (
	Promotion           = "promotion"
	Demotion            = "demotion"
	Fence               = "fence"
	SelfFence           = "self-fence"
	FailoverRequest     = "failover-request"
	SwitchoverScheduled = "switchover-scheduled"
	SwitchoverCancelled = "switchover-cancelled"
	Pause               = "pause"
	Resume              = "resume"
	Config              = "config"
	// Lost notes entries a node dropped while the quorum was away.
	Lost = "lost"
)

// Bounds: at most MaxEntries entries are kept in the quorum, each at most
// MaxEntryBytes once encoded (a longer reason is cut), so the log holds at
// most MaxEntries × MaxEntryBytes (4 MiB) however long the cluster runs.
const (
	MaxEntries    = 1000
	MaxEntryBytes = 4 << 10
	maxReason     = 2 << 10
)

// Entry is one transition.
type Entry struct {
	Seq    int64     `json:"seq,omitempty"`
	Time   time.Time `json:"time"`
	Node   string    `json:"node"`
	Kind   string    `json:"kind"`
	Token  uint64    `json:"token,omitempty"`
	Reason string    `json:"reason,omitempty"`
	// Phases of a failover as measured by the node that recorded it
	// (see Phases).
	Phases *Phases      `json:"phases_ms,omitempty"`
	Fence  *FenceResult `json:"fence,omitempty"`
	// ConfigHash: a config entry's hash of the running configuration.
	ConfigHash string `json:"config_hash,omitempty"`
	// Failure and BudgetMs are added to promotions when the log is read
	// (Annotate): the kind of failure the promotion ended, as the budget
	// names it, and that kind's worst case under the reader's
	// configuration.
	Failure  string `json:"failure,omitempty"`
	BudgetMs int64  `json:"budget_ms,omitempty"`
}

// Phases are milliseconds. On a promotion, measured by the new active:
// Lock from its first attempt after the lock was free to holding it,
// Fence the fencing of the previous active, Promote the promote action
// (with the breadcrumb and token writes); Detection is taken, when the log
// is read, from the old active's demotion (Annotate). On a demotion for a
// failed health check, Detection runs from the first failed probe to the
// health state's change.
type Phases struct {
	Detection *int64 `json:"detection,omitempty"`
	Lock      *int64 `json:"lock,omitempty"`
	Fence     *int64 `json:"fence,omitempty"`
	Promote   *int64 `json:"promote,omitempty"`
}

// Ms is a phase value from a duration.
func Ms(d time.Duration) *int64 { v := d.Milliseconds(); return &v }

// FenceResult is the outcome of one fencing of a previous active.
type FenceResult struct {
	Method     string `json:"method"`
	Target     string `json:"target"`
	Outcome    string `json:"outcome"` // ok | failed | superseded
	DurationMs int64  `json:"duration_ms"`
}

// encode bounds an entry to MaxEntryBytes.
func encode(e Entry) ([]byte, error) {
	e.Seq = 0
	if len(e.Reason) > maxReason {
		e.Reason = e.Reason[:maxReason] + "…"
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxEntryBytes {
		return nil, fmt.Errorf("history entry of %d bytes over the %d-byte bound", len(b), MaxEntryBytes)
	}
	return b, nil
}

// Decode turns stored records into entries, oldest first, keeping those
// at or after since (zero: all). A record that does not decode is
// returned as an entry saying so, not dropped silently.
func Decode(seqs []int64, data [][]byte, since time.Time) []Entry {
	out := make([]Entry, 0, len(data))
	for i, raw := range data {
		var e Entry
		if err := json.Unmarshal(raw, &e); err != nil {
			e = Entry{Kind: "unreadable", Reason: err.Error()}
		}
		e.Seq = seqs[i]
		if !since.IsZero() && e.Time.Before(since) {
			continue
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

package drill

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Timing is one drill run's measured failover, as the bench report draws
// it on its timeline. Every offset is measured from Fault, the moment the
// test injected the fault; a phase the drill did not reach is zero and its
// Reached flag false, never a guessed value.
//
// The phases follow the takeover: the fault is injected; the candidate's
// zkfc detects it (Detect: the old active's health failure was seen, its
// session expired, or the lock became free — whichever the candidate logs
// first); the old active is fenced (Fence: the fencing method succeeded,
// or the old active demoted itself); the new active serves (Promote: the
// new active's role interval starts in its roles file). Total equals
// Promote: time from fault to a new active serving.
type Timing struct {
	Drill string    `json:"drill"` // e.g. "service-crash", "partition"
	Run   int       `json:"run"`   // 1-based repetition within one suite run
	Fault time.Time `json:"fault"` // wall clock when the fault was injected

	Detect  time.Duration `json:"detect_ns"`  // fault -> failure detected
	Fence   time.Duration `json:"fence_ns"`   // fault -> old active fenced or demoted
	Promote time.Duration `json:"promote_ns"` // fault -> new active serving
	Total   time.Duration `json:"total_ns"`   // = Promote when a new active served

	// OldDemoted is fault -> end of the old active's last interval (its own
	// demotion or its death); for a partition it must come before Promote.
	OldDemoted time.Duration `json:"old_demoted_ns"`

	Promoted   bool   `json:"promoted"`    // a new active served
	OldActive  string `json:"old_active"`  // node that was active before the fault
	NewActive  string `json:"new_active"`  // node active afterwards ("" if none)
	OldToken   uint64 `json:"old_token"`   // fencing token of the old active
	NewToken   uint64 `json:"new_token"`   // fencing token of the new active (0 if none)
	Target     string `json:"target"`      // the target the drill checks, in words
	TargetHeld bool   `json:"target_held"` // whether Total met Target
	Note       string `json:"note,omitempty"`
}

// File is the content of $DRILL_TIMINGS: every drill run of one suite run.
type File struct {
	Generated time.Time `json:"generated"`
	// Settings the numbers depend on, so the report can print them.
	HealthInterval time.Duration `json:"health_interval_ns"`
	SessionTimeout time.Duration `json:"session_timeout_ns"`
	TickTime       time.Duration `json:"tick_time_ns"`
	Runs           []Timing      `json:"runs"`
}

// Append adds t to the timings file at path (created if missing), so that
// drills run as separate tests accumulate into one file. It is not safe for
// concurrent writers; the integration suite runs its tests one at a time.
func Append(path string, settings File, t Timing) error {
	f, err := Read(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if f == nil {
		f = &settings
	}
	f.Generated = time.Now().UTC()
	f.Runs = append(f.Runs, t)
	return Write(path, f)
}

// Write writes f to path atomically (temp file, then rename).
func Write(path string, f *File) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode drill timings: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".drill-timings-*")
	if err != nil {
		return fmt.Errorf("write drill timings %s: %w", path, err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write drill timings %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write drill timings %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write drill timings %s: %w", path, err)
	}
	return nil
}

// Read reads a timings file written by Write or Append. A missing file is
// returned as an error satisfying os.IsNotExist.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("drill timings %s: %w", path, err)
	}
	return &f, nil
}

package bench

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/drill"
)

// The rolling-restart section: per drill one row with the outage range,
// each run's switchovers, and the quorum's and the zkfc's recovery per
// restarted role; absent without runs. The runs also go through the
// drill's JSON-lines file as the bench reads them.
func TestRestartsSection(t *testing.T) {
	ms := time.Millisecond
	step := func(node, role string, q, r time.Duration) drill.RestartStep {
		return drill.RestartStep{Node: node, Role: role, QuorumFull: q, Recovered: r}
	}
	path := filepath.Join(t.TempDir(), "restarts.jsonl")
	for _, run := range []drill.RollingRestart{
		{Drill: "paused", Steps: []drill.RestartStep{step("nn2", "standby", 1400*ms, 1500*ms), step("witness", "", 2000*ms, 2001*ms)}},
		{Drill: "paused", Steps: []drill.RestartStep{step("nn1", "standby", 1200*ms, 1300*ms), step("witness", "", 1900*ms, 1901*ms)}},
		{Drill: "unpaused", Outage: 250 * ms, Switchovers: 1, Steps: []drill.RestartStep{step("nn1", "active", 900*ms, 1000*ms)}},
	} {
		if err := drill.AppendJSONLine(path, run); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := drill.ReadJSONLines[drill.RollingRestart](path)
	if err != nil || len(runs) != 3 {
		t.Fatalf("read back %d runs: %v", len(runs), err)
	}
	r := fakeReport()
	if strings.Contains(r.Markdown(nil), "## Rolling restarts") {
		t.Fatal("a report without rolling-restart runs has the section")
	}
	r.Restarts = Restarts{Source: "made up.", Runs: runs}
	md := r.Markdown(nil)
	for _, want := range []string{
		"| f. paused | 2 | 0 / 0 / 0 ms | 0, 0 | the standby's zkfc 1200–1400 ms; 1300–1500 ms; the witness's zkfc 1900–2000 ms; 1901–2001 ms |",
		"| g. unpaused | 1 | 250 / 250 / 250 ms | 1 | the active's zkfc 900–900 ms; 1000–1000 ms |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

package bench

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/drill"
)

// quorumOutageDrills: drill a on our quorum, drill h on Apache ZooKeeper
// (failsafe on and off).
const quorumOutageDrills = "^TestDrillQuorumOutage(Failsafe|Apache)$"

// quorumOutages runs the quorum-outage drills with the quorum stopped for
// $BENCH_QUORUM_STOP (default 60s, issue 16's figure; CI uses 12s) and
// returns what they measured.
func quorumOutages(b testing.TB) []drill.QuorumOutageRun {
	stop := envDuration("BENCH_QUORUM_STOP", 60*time.Second)
	out := filepath.Join(b.TempDir(), "quorum-outages.jsonl")
	progress("quorum-outage drills, quorum stopped %s each", stop)
	_, runErr := goTest(b, 30*time.Minute, []string{"QUORUM_OUTAGE_OUT=" + out, "ZKFC_QUORUM_STOP=" + stop.String()},
		"-count=1", "-run", quorumOutageDrills, "-v", "-timeout", "25m", "./integration")
	runs, err := drill.ReadJSONLines[drill.QuorumOutageRun](out)
	if runErr != nil {
		b.Errorf("quorum-outage drills: %v", runErr)
	}
	if err != nil {
		b.Errorf("quorum-outage drills wrote nothing: %v", err)
	}
	for _, q := range runs {
		progress("%s (%s, failsafe %v): outage %d ms, quorum recovery %d ms", q.Drill, q.Backend, q.Failsafe, q.OutageMs, q.RecoveryMs)
	}
	return runs
}

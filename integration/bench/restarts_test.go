package bench

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/drill"
)

// restartDrills are drills f and g of integration/restart_test.go.
const restartDrills = "^TestDrillRollingRestart(Paused|Unpaused)$"

// rollingRestarts runs the rolling-restart drills runs times each and
// collects what they wrote to $DRILL_RESTARTS.
func rollingRestarts(b testing.TB, runs int) (Restarts, error) {
	progress("running the rolling-restart drills x %d runs", runs)
	out := filepath.Join(b.TempDir(), "restarts.jsonl")
	_, runErr := goTest(b, 30*time.Minute, []string{"DRILL_RESTARTS=" + out},
		"-count="+strconv.Itoa(runs), "-run", restartDrills, "-v", "-timeout", "25m", "./integration")
	rs, err := drill.ReadJSONLines[drill.RollingRestart](out)
	if err != nil {
		return Restarts{}, fmt.Errorf("the rolling-restart drills wrote nothing (%v; drill run: %v)", err, runErr)
	}
	src := fmt.Sprintf("From `%s` in integration/, %d runs each (DRILL_RESTARTS): the drill topology (nn1, nn2, the witness, each zkfc "+
		"hosting a member of the embedded quorum); each zkfc is stopped with SIGTERM and started again, the standby's, the witness's, "+
		"then the active's, the quorum full again before the next; f with failover paused, g without.", restartDrills, runs)
	return Restarts{Source: src, Runs: rs}, runErr
}

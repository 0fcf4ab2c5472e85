package bench

import (
	"fmt"
	"strings"
	"time"
)

// quorumOutage renders the quorum-outage drills (issue 16): the whole
// quorum stopped under a healthy pair, with failover.failsafe on and off.
func (r *Report) quorumOutage(s *strings.Builder) {
	s.WriteString("## The whole quorum stopped under a healthy pair\n\n")
	s.WriteString("integration/failsafe_drills_test.go, drills a and h: nn1 and nn2 guard a demo-service each on a 3-member ensemble ")
	s.WriteString("(ours, `zkfc quorum`, or Apache ZooKeeper 3.8), session timeout 4s, margin 1.5s; every member is killed, ")
	s.WriteString("then started again after the stop. *Service outage*: time without an active service from the stop to the end of the drill, ")
	s.WriteString("from the services' own roles files. *Quorum recovery*: from the restart until every member serves and both zkfc have a fresh session. ")
	s.WriteString("With `failover.failsafe` the active keeps its service while its peer answers that it cannot reach the quorum either.\n\n")
	s.WriteString("| drill | quorum | failsafe | stopped for | service outage | quorum recovery | promotions |\n|---|---|---|---|---|---|---|\n")
	for _, q := range r.QuorumOutages {
		fmt.Fprintf(s, "| %s | %s | %v | %s | %d ms | %d ms | %d |\n", q.Drill, q.Backend, q.Failsafe,
			time.Duration(q.StopMs)*time.Millisecond, q.OutageMs, q.RecoveryMs, q.Promotions)
	}
	s.WriteString("\n")
}

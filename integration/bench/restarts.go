package bench

import (
	"fmt"
	"strings"
	"time"

	"github.com/zkfc-project/zkfc/integration/drill"
)

// Restarts is the rolling-restart part of the report: drills f (paused)
// and g (unpaused) of integration/restart_test.go.
type Restarts struct {
	Source string // how the runs were produced, in words
	Runs   []drill.RollingRestart
}

// restarts writes the rolling-restart section: per drill, the service
// outage and switchovers of each run, and per restarted zkfc the time
// until the quorum was full again.
func (r *Report) restarts(s *strings.Builder) {
	s.WriteString("## Rolling restarts: zkfc upgraded one node at a time\n\n")
	s.WriteString(r.Restarts.Source + " ")
	s.WriteString("The service outage is the time within the drill when no service was active (from the roles file); ")
	s.WriteString("per restarted zkfc, the quorum's recovery is the time from its SIGTERM until all three quorum members serve again ")
	s.WriteString("(the witness, the preferred leader, leading the two others, as `srvr` says), and the zkfc's until it also reports a role again.\n\n")
	s.WriteString("| drill | runs | service outage min / median / max | switchovers per run | after each zkfc's SIGTERM (min–max): quorum full; zkfc back |\n|---|---|---|---|---|\n")
	for _, name := range []string{"paused", "unpaused"} {
		var outages []time.Duration
		var switches []string
		quorum, recovery := map[string][]time.Duration{}, map[string][]time.Duration{}
		var order []string
		for _, run := range r.Restarts.Runs {
			if run.Drill != name {
				continue
			}
			outages = append(outages, run.Outage)
			switches = append(switches, fmt.Sprint(run.Switchovers))
			for _, st := range run.Steps {
				what := "the " + st.Role + "'s zkfc"
				if st.Role == "" {
					what = "the witness's zkfc"
				}
				if _, ok := recovery[what]; !ok {
					order = append(order, what)
				}
				quorum[what] = append(quorum[what], st.QuorumFull)
				recovery[what] = append(recovery[what], st.Recovered)
			}
		}
		if len(outages) == 0 {
			continue
		}
		lo, med, hi := stats(outages)
		var rec []string
		for _, what := range order {
			qa, _, qb := stats(quorum[what])
			a, _, b := stats(recovery[what])
			rec = append(rec, fmt.Sprintf("%s %.0f–%.0f ms; %.0f–%.0f ms", what, ms(qa), ms(qb), ms(a), ms(b)))
		}
		label := map[string]string{"paused": "f. paused", "unpaused": "g. unpaused"}[name]
		fmt.Fprintf(s, "| %s | %d | %.0f / %.0f / %.0f ms | %s | %s |\n", label, len(outages), ms(lo), ms(med), ms(hi),
			strings.Join(switches, ", "), strings.Join(rec, "; "))
	}
	s.WriteString("\n")
}

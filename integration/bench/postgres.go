package bench

import (
	"fmt"
	"image/color"
	"math"
	"strings"
	"time"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// The two systems of the PostgreSQL section and its faults, as the
// report names them.
const (
	SystemZKFC    = "zkfc"
	SystemPatroni = "Patroni 3.0.2"

	FaultNodeDeath  = "node death"
	FaultCrash      = "PostgreSQL crash"
	FaultCutOff     = "host cut off"
	FaultSwitchover = "switchover"
)

var pgSystems = []string{SystemZKFC, SystemPatroni}

// PGRun is one fault injected into one system's fresh cluster.
type PGRun struct {
	System, Fault string
	Run           int
	// Outage: from the last commit acknowledged before the fault, the
	// longest time without an acknowledged commit (pgenv.Outage).
	Outage     time.Duration
	Acked      int // commits acknowledged over the run
	Lost       int // acknowledged commits missing on the final primary
	NewPrimary string
	// Rejoin: from the old primary's host returning (node death: its agent
	// started again; otherwise the fault) until it streams from the new
	// primary as a standby; 0 with RejoinNote saying why.
	Rejoin     time.Duration
	RejoinNote string
	Note       string // checker findings beyond lost commits (zkfc only)
}

// PGBench is the PostgreSQL section's measurements.
type PGBench struct {
	Quorum  string
	Runs    int
	Results []PGRun
}

const plotPostgres = "postgres-outage.png"

func (pb *PGBench) faults() []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range []string{FaultNodeDeath, FaultCrash, FaultCutOff, FaultSwitchover} {
		for _, r := range pb.Results {
			if r.Fault == f && !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

func (pb *PGBench) of(system, fault string) []PGRun {
	var out []PGRun
	for _, r := range pb.Results {
		if r.System == system && r.Fault == fault {
			out = append(out, r)
		}
	}
	return out
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// markdown renders the section.
func (pb *PGBench) markdown(s *strings.Builder, drawn map[string]bool) {
	s.WriteString("## PostgreSQL 15: zkfc beside Patroni\n\n")
	fmt.Fprintf(s, "A PostgreSQL 15 primary and streaming standby on this machine, guarded by zkfc ([examples/postgresql](../../examples/postgresql), "+
		"durable mode, restart in place once per 10 minutes) or by Patroni 3.0.2 from Debian (synchronous_mode on, use_pg_rewind), "+
		"a fresh cluster per run, runs alternating which system goes first. Same detection budget: zkfc's session timeout 10 s "+
		"(health check every 500 ms, fall 2); Patroni's ttl 10 s, loop_wait 2 s, retry_timeout 3 s. Quorum: %s. "+
		"One writer (integration/pgenv) commits numbered rows to both servers at once, 5 ms apart per server; "+
		"the **outage** is the longest time without an acknowledged commit from the last one before the fault; "+
		"**lost** counts acknowledged commits missing on the final primary; **back as standby** runs from the old primary's host returning "+
		"(node death: its agent started again right after the takeover; otherwise from the fault) until it streams from the new primary. "+
		"Faults: node death = the primary's agent and every PostgreSQL process killed with SIGKILL; "+
		"PostgreSQL crash = every PostgreSQL process of the primary killed with SIGKILL, the agent left running; "+
		"host cut off = the primary's agent and PostgreSQL in a network namespace whose every packet to and from the host is dropped "+
		"(zkfc with lease_expired first and a 4.5 s self-fence margin; Patroni reaching the quorum through TCP proxies on the host's veth address), "+
		"healed once the other node took over; "+
		"switchover = `zkfc failover --to` / Patroni's `POST /switchover`.\n\n", pb.Quorum)
	if drawn[plotPostgres] {
		fmt.Fprintf(s, "![write outage per fault, zkfc beside Patroni](%s)\n\n", plotPostgres)
	}
	s.WriteString("| fault | system | runs | outage min / median / max | acknowledged commits lost | back as standby: min / median / max | every outage |\n|---|---|---|---|---|---|---|\n")
	for _, f := range pb.faults() {
		for _, sys := range pgSystems {
			rs := pb.of(sys, f)
			if len(rs) == 0 {
				continue
			}
			var outs, rej, all []time.Duration
			lost, acked := 0, 0
			notes := map[string]int{}
			for _, r := range rs {
				outs = append(outs, r.Outage)
				lost += r.Lost
				acked += r.Acked
				if r.Rejoin > 0 {
					rej = append(rej, r.Rejoin)
				} else if r.RejoinNote != "" {
					notes[r.RejoinNote]++
				}
				all = append(all, r.Outage)
			}
			lo, med, hi := stats(outs)
			rejoin := ""
			if len(rej) > 0 {
				a, m, b := stats(rej)
				rejoin = fmt.Sprintf("%s / %s / %s", secs(a), secs(m), secs(b))
			}
			for note, n := range notes {
				if rejoin != "" {
					rejoin += "; "
				}
				rejoin += fmt.Sprintf("%d× %s", n, note)
			}
			var each []string
			for _, d := range all {
				each = append(each, fmt.Sprintf("%.1f", d.Seconds()))
			}
			fmt.Fprintf(s, "| %s | %s | %d | %s / %s / %s | %d of %d | %s | %s s |\n", f, sys, len(rs), secs(lo), secs(med), secs(hi),
				lost, acked, rejoin, strings.Join(each, ", "))
		}
	}
	s.WriteString("\n")
	var notes []string
	for _, r := range pb.Results {
		if r.Note != "" {
			notes = append(notes, fmt.Sprintf("- %s %s #%d: %s", r.System, r.Fault, r.Run, strings.TrimSuffix(r.Note, "; ")))
		}
	}
	if len(notes) > 0 {
		s.WriteString("Checker findings (zkfc runs):\n\n" + strings.Join(notes, "\n") + "\n\n")
	}
	var better []string
	for _, f := range pb.faults() {
		z, p := pb.of(SystemZKFC, f), pb.of(SystemPatroni, f)
		if len(z) == 0 || len(p) == 0 {
			continue
		}
		_, zm, _ := stats(outages(z))
		_, pm, _ := stats(outages(p))
		if pm < zm {
			better = append(better, fmt.Sprintf("%s (median outage %s against zkfc's %s)", f, secs(pm), secs(zm)))
		}
	}
	if len(better) > 0 {
		s.WriteString("**Where Patroni was better in this run:** " + strings.Join(better, "; ") + ".\n\n")
	} else {
		s.WriteString("**Where Patroni was better in this run:** no fault had a shorter median outage under Patroni.\n\n")
	}
}

func outages(rs []PGRun) []time.Duration {
	var out []time.Duration
	for _, r := range rs {
		out = append(out, r.Outage)
	}
	return out
}

var pgColor = map[string]color.Color{
	SystemZKFC:    serverColor[Ours],
	SystemPatroni: color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

// plot draws each fault's outages, one box per system with every run as
// a dot.
func (pb *PGBench) plot(path string) error {
	p := valuePlot("PostgreSQL write outage per fault (same detection budget)", "client-observed write outage, s")
	faults := pb.faults()
	top := 0.0
	for k, sys := range pgSystems {
		var dots *plotter.Scatter
		for i, f := range faults {
			rs := pb.of(sys, f)
			if len(rs) == 0 {
				continue
			}
			vals := make([]float64, len(rs))
			for j, r := range rs {
				vals[j] = r.Outage.Seconds()
				top = math.Max(top, vals[j])
			}
			sc, err := boxWithDots(p, float64(i)+0.2*(float64(k)*2-1), 0.12, vg.Points(22), vals, pgColor[sys])
			if err != nil {
				return err
			}
			dots = sc
		}
		if dots != nil {
			p.Legend.Add(sys, dots)
		}
	}
	p.NominalX(faults...)
	p.Y.Max = top * 1.2
	p.Legend.Top = true
	return p.Save(18*vg.Centimeter, 11*vg.Centimeter, path)
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/budget"
	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/history"
	"github.com/zkfc-project/zkfc/zkfc/switchover"
)

func init() {
	register("history", "show the cluster's durable history of transitions", cmdHistory)
}

const historyUsage = `zkfc history: what happened in the cluster, and when.

Prints the durable history kept in the quorum (<parent>/<cluster>/history,
the newest 1000 entries): promotions, demotions, fencings, self-fences,
failover requests, scheduled and cancelled switchovers, pauses and
configuration changes, each with its time, node, fencing token and reason.
A promotion that ended a failover shows the kind of failure, its measured
phases (detection, lock, fence, promote) and, beside them, the budget for
that kind under the asked zkfc's configuration (see 'zkfc status').

--since takes a duration (1h: the last hour) or an RFC 3339 time.

Example:
  zkfc history --config /etc/zkfc/zkfc.yaml --since 24h
  zkfc history --url http://10.0.0.2:8019 --json
`

func cmdHistory(args []string) int {
	fs := newFlagSet("history", historyUsage)
	cf := addConfigFlags(fs)
	url := addAPIFlags(fs, cf, "control API of any zkfc of the cluster")
	asJSON := fs.Bool("json", false, "print the entries as JSON")
	sinceFlag := fs.String("since", "", "only entries since a duration ago (24h) or an RFC 3339 time")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	since, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		return fail("history: --since: %v", err)
	}
	client, base, err := cliClient(*url, cf)
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := cliContext(15 * time.Second)
	defer cancel()
	entries, err := client.History(ctx, base, since)
	if err != nil {
		return apiFail("history", err, base)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"entries": entries})
		return 0
	}
	var b *budget.Budget
	if st, err := client.FullStatus(ctx, base); err == nil {
		b = st.Budget
	}
	printHistory(os.Stdout, entries, b)
	return 0
}

// parseSince reads --since: empty (everything), a duration back from now,
// or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%q: want a positive duration (24h) or an RFC 3339 time", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a duration (24h) or an RFC 3339 time (%s)", s, now.Add(-time.Hour).UTC().Format(time.RFC3339))
	}
	return t, nil
}

func msText(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%dms", *p)
}

// printHistory writes the entries as a table, like patronictl history;
// each failover gets a second line with its phases and its budget.
func printHistory(w io.Writer, entries []history.Entry, b *budget.Budget) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no history entries")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tNODE\tKIND\tTOKEN\tREASON")
	for _, e := range entries {
		tok := "-"
		if e.Token != 0 {
			tok = fmt.Sprint(e.Token)
		}
		reason := e.Reason
		if f := e.Fence; f != nil {
			reason = fmt.Sprintf("%s %s: %s in %dms (%s)", f.Method, f.Target, f.Outcome, f.DurationMs, reason)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Local().Format("2006-01-02 15:04:05.000"), e.Node, e.Kind, tok, oneLine(reason))
		if e.Failure != "" || e.Phases != nil {
			fmt.Fprintf(tw, "\t\t\t\t\t%s\n", phasesText(e, b))
		}
	}
	_ = tw.Flush()
}

func phasesText(e history.Entry, b *budget.Budget) string {
	var parts []string
	if e.Failure != "" {
		parts = append(parts, "failover after: "+e.Failure)
	}
	if p := e.Phases; p != nil {
		parts = append(parts, fmt.Sprintf("phases: detection %s, lock %s, fence %s, promote %s",
			msText(p.Detection), msText(p.Lock), msText(p.Fence), msText(p.Promote)))
	}
	if e.Failure != "" && b != nil {
		if k, ok := b.Of(e.Failure); ok {
			parts = append(parts, fmt.Sprintf("budget %dms", k.WorstMs))
		}
	}
	return "  " + strings.Join(parts, "; ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// printOperator writes the parts of the status the operator endpoints
// add: the scheduled switchover and the failover budget.
func printOperator(w io.Writer, st control.StatusReply) {
	if sw := st.Scheduled; sw != nil {
		fmt.Fprintf(w, "scheduled:     switchover %s -> %s at %s (in %s)\n", orDash(sw.From), sw.To,
			sw.At.Format(time.RFC3339), time.Until(sw.At).Round(time.Second))
	}
	if st.Budget == nil {
		return
	}
	fmt.Fprintln(w, "failover budget (worst case to a new active, from this configuration):")
	for _, k := range st.Budget.Kinds {
		fmt.Fprintf(w, "  %-22s %7.1fs = %s\n", k.Kind, float64(k.WorstMs)/1000, k.Terms)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// scheduleText describes a switchover for the CLI's answer.
func scheduleText(sw switchover.Switchover) string {
	return fmt.Sprintf("switchover %s -> %s at %s", orDash(sw.From), sw.To, sw.At.Local().Format(time.RFC3339))
}

// scheduledFailover is 'zkfc failover --at' and '--cancel'.
func scheduledFailover(url string, cf *configFlags, to, at string, cancelIt bool) int {
	switch {
	case cancelIt && (to != "" || at != ""):
		return fail("failover: --cancel takes neither --to nor --at")
	case !cancelIt && to == "":
		return fail("failover: --at needs --to NODE")
	}
	var when time.Time
	if !cancelIt {
		var err error
		if when, err = switchover.ParseAt(at, time.Now()); err != nil {
			return fail("failover: --at: %v", err)
		}
	}
	client, base, err := cliClient(url, cf)
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := cliContext(15 * time.Second)
	defer cancel()
	if cancelIt {
		sw, err := client.CancelSwitchover(ctx, base)
		if err != nil {
			return apiFail("failover --cancel", err, base)
		}
		fmt.Printf("cancelled: %s\n", scheduleText(sw))
		return 0
	}
	sw, err := client.ScheduleSwitchover(ctx, base, to, when)
	if err != nil {
		return apiFail("failover --to "+to+" --at "+at, err, base)
	}
	fmt.Printf("scheduled: %s\n", scheduleText(sw))
	return 0
}

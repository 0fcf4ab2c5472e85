package controller

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// Durable mode (replication.durable): the active keeps one standby
// synchronous, so that a commit is acknowledged only once that standby
// has it, and records which in the Sync znode; a candidate promotes only
// if Sync names it (or it was the last node to promote). Two orderings
// make the record never claim more than the service does:
//
//   - turning off: the active records "nobody in sync" (Standby "") and
//     only once the quorum acknowledged that write runs sync_off. The
//     other way round, the service would acknowledge commits the standby
//     may lack while Sync still made that standby eligible;
//   - turning on: the active runs sync_on for the standby, reads its own
//     position P, waits until the standby's recorded position reaches P,
//     and only then records the standby in sync. Commits acknowledged
//     before sync_on lie below P; those after waited for the standby.
//
// A new active records "nobody in sync" under its token before its
// promote action runs (its service may acknowledge commits alone from
// the first moment), then runs sync_off and looks for a standby.
//
// With the standby gone, replication.when_alone continue records nobody
// and turns synchronous replication off: writes go on, on the active
// alone; block keeps it on: writes wait until the standby is back.

type syncState struct {
	// seen: on a node that is not the active, the Sync record as last
	// read, for its status; seenErr if it could not be read.
	seen     *elector.Sync
	seenErr  string
	nextRead time.Time
	token    uint64       // the active token rec belongs to; 0: nothing written
	rec      elector.Sync // the record as this active last wrote it
	needOff  bool         // sync_off is owed (after promotion, or turning off)
	// catching: sync_on ran for this standby, which must reach target.
	catching string
	target   uint64
	next     time.Time // no sync job before (after a failed one)
	note     string
}

// reset forgets the active's part; what was read as a standby stays.
func (s *syncState) reset() { *s = syncState{seen: s.seen, seenErr: s.seenErr, nextRead: s.nextRead} }

// recordNobodyInSync writes Sync{Active: self, Token: token, Standby: ""}
// and returns only once the quorum acknowledged it.
func (c *Controller) recordNobodyInSync(token uint64) error {
	if !c.cfg.Replication.Durable {
		return nil
	}
	rec := elector.Sync{Active: c.cfg.Self.NodeID, Token: token, Time: c.now().UTC()}
	if err := c.cfg.Replication.Records.WriteSync(rec); err != nil {
		return fmt.Errorf("record nobody in sync: %w", err)
	}
	c.repl.sync = syncState{token: token, rec: rec, needOff: true, note: "nobody in sync"}
	c.lg.Info("recorded: nobody in sync", zap.Uint64("token", token))
	return nil
}

// syncStep advances the active's durable mode by at most one step.
func (c *Controller) syncStep(now time.Time) {
	st := &c.repl.sync
	if c.svc.role != Active || !c.elec.holdsLock || c.svc.token == 0 {
		if st.token != 0 {
			st.reset()
		}
		c.readSync(now)
		return
	}
	if c.repl.svcJob != nil || now.Before(st.next) {
		return
	}
	if st.token != c.svc.token {
		// Active without having recorded its own Sync (cannot happen
		// through promote; kept as the safe default).
		if err := c.recordNobodyInSync(c.svc.token); err != nil {
			c.syncFailed(now, err)
		}
		return
	}
	if st.needOff {
		c.startSyncOff()
		return
	}
	members, err := c.el.Members()
	if err != nil {
		c.syncFailed(now, err)
		return
	}
	byID := map[string]elector.Info{}
	for _, m := range members {
		byID[m.NodeID] = m
	}
	if s := st.rec.Standby; s != "" {
		// Gone: its session ended, or it left the election (its service
		// failed, it ceded, it is rejoining).
		if m, ok := byID[s]; ok && m.Candidate {
			st.note = "in sync with " + s
			return
		}
		if c.cfg.Replication.WhenAloneBlock {
			st.note = fmt.Sprintf("in sync with %s, which is gone: writes wait for it (replication.when_alone block)", s)
			return
		}
		c.lg.Warn("the synchronous standby is gone; turning synchronous replication off (replication.when_alone continue)", zap.String("standby", s))
		if err := c.recordNobodyInSync(c.svc.token); err != nil {
			c.syncFailed(now, err)
			return
		}
		c.startSyncOff()
		return
	}
	if s := st.catching; s != "" {
		m, ok := byID[s]
		switch {
		case !ok || !m.Candidate:
			c.lg.Warn("the standby left while catching up; synchronous replication off", zap.String("standby", s))
			st.catching, st.needOff = "", true
			c.startSyncOff()
		case m.Position != nil && *m.Position >= st.target:
			rec := elector.Sync{Active: c.cfg.Self.NodeID, Token: c.svc.token, Standby: s, Position: st.target, Time: c.now().UTC()}
			if err := c.cfg.Replication.Records.WriteSync(rec); err != nil {
				c.syncFailed(now, err)
				return
			}
			st.rec, st.catching = rec, ""
			st.note = "in sync with " + s
			c.lg.Info("standby in sync", zap.String("standby", s), zap.Uint64("position", st.target))
		default:
			at := "unknown"
			if m.Position != nil {
				at = fmt.Sprint(*m.Position)
			}
			st.note = fmt.Sprintf("%s catching up: at %s of %d", s, at, st.target)
		}
		return
	}
	if s := syncCandidate(members, c.cfg.Self.NodeID); s != "" {
		act, token := c.cfg.Replication.Actions, c.svc.token
		st.note = "turning synchronous replication on for " + s
		c.startJob(jobSyncOn, jobResult{token: token, standby: s}, func(ctx context.Context, r *jobResult) {
			if r.err = act.DoSyncOn(ctx, s, token); r.err == nil {
				r.pos, r.err = act.QueryPosition(ctx)
			}
		})
		return
	}
	st.note = "nobody in sync: synchronous replication off, no standby is a candidate"
}

// syncCandidate picks the standby to keep in sync: a registered candidate
// whose position is known, the first by node id.
func syncCandidate(members []elector.Info, self string) string {
	var ids []string
	for _, m := range members {
		if m.NodeID != self && m.Candidate && m.Position != nil {
			ids = append(ids, m.NodeID)
		}
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// startSyncOff runs sync_off, only while this active's own record, as
// the quorum acknowledged it, says nobody is in sync.
func (c *Controller) startSyncOff() {
	st := &c.repl.sync
	if st.token != c.svc.token || st.rec.Standby != "" {
		c.lg.Error("sync_off refused: the Sync record does not say nobody is in sync",
			zap.String("standby", st.rec.Standby), zap.Uint64("record_token", st.token))
		return
	}
	act, token := c.cfg.Replication.Actions, c.svc.token
	c.startJob(jobSyncOff, jobResult{token: token}, func(ctx context.Context, r *jobResult) {
		r.err = act.DoSyncOff(ctx, token)
	})
}

func (c *Controller) syncJobDone(r jobResult) {
	st := &c.repl.sync
	if st.token != r.token || c.svc.role != Active {
		return
	}
	if r.err != nil {
		if r.kind == jobSyncOn {
			st.needOff = true // it may have half-worked; Sync says nobody
		}
		c.syncFailed(c.now(), r.err)
		return
	}
	switch r.kind {
	case jobSyncOff:
		st.needOff = false
		st.note = "nobody in sync: synchronous replication off"
	case jobSyncOn:
		st.catching, st.target = r.standby, r.pos
		st.note = fmt.Sprintf("%s catching up to %d", r.standby, r.pos)
	}
}

func (c *Controller) syncFailed(now time.Time, err error) {
	st := &c.repl.sync
	st.next = now.Add(c.cfg.BackoffInitial)
	st.note = "durable mode step failed: " + err.Error()
	c.lg.Warn("durable mode step failed; retrying", zap.Error(err))
}

// readSync reads the Sync record once per position interval on a node
// that is not the active, so that its status says whether it is the
// synchronous standby (and so eligible).
func (c *Controller) readSync(now time.Time) {
	st := &c.repl.sync
	if now.Before(st.nextRead) {
		return
	}
	st.nextRead = now.Add(c.posInterval())
	s, err := c.cfg.Replication.Records.ReadSync()
	st.seen, st.seenErr = s, ""
	if err != nil {
		st.seenErr = err.Error()
	}
}

func (c *Controller) syncText() string {
	st := &c.repl.sync
	switch {
	case c.svc.role == Active:
		return st.note
	case st.seenErr != "":
		return "unknown: " + st.seenErr
	case st.seen == nil:
		return "no Sync record yet"
	case st.seen.Active == c.cfg.Self.NodeID:
		return fmt.Sprintf("this node was the last active (token %d)", st.seen.Token)
	case st.seen.Standby == c.cfg.Self.NodeID:
		return fmt.Sprintf("in sync with %s (token %d) since position %d", st.seen.Active, st.seen.Token, st.seen.Position)
	case st.seen.Standby == "":
		return fmt.Sprintf("not in sync: %s (token %d) has nobody in sync", st.seen.Active, st.seen.Token)
	}
	return fmt.Sprintf("not in sync: %s (token %d) waits for %s", st.seen.Active, st.seen.Token, st.seen.Standby)
}

package controller

import (
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// Transition is one recorded role change.
type Transition struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
	Token  uint64    `json:"token,omitempty"`
}

// Status is a snapshot for the control API.
type Status struct {
	NodeID  string `json:"node_id"`
	Cluster string `json:"cluster"`
	Role    string `json:"role"`
	// Reason is the last decision step's sentence: why the node is in
	// its role and what it waits for ("standby: lock held by nn2").
	Reason     string `json:"reason,omitempty"`
	Health     string `json:"health"`
	Healthy    bool   `json:"healthy"`
	Connected  bool   `json:"zk_connected"`
	InElection bool   `json:"in_election"`
	HoldsLock  bool   `json:"holds_lock"`
	// Draining: the active service is about to be demoted and is reported
	// as not active to load balancers meanwhile (control.lb_drain).
	Draining bool `json:"draining,omitempty"`
	Paused   bool `json:"paused"`
	// PauseGeneration is the pause this node's loop has applied (see
	// elector.PauseState): 'zkfc pause' waits until every node reports it.
	PauseGeneration int64 `json:"pause_generation,omitempty"`
	// PauseUnknown: connected, but the pause flag could not be read yet;
	// the node takes no election step until it can.
	PauseUnknown bool `json:"pause_unknown,omitempty"`
	// ClusterToken is the last fencing token issued in the cluster (the
	// counter in ZooKeeper), read when the status is asked; FencingToken
	// is this node's own last promotion.
	ClusterToken     uint64        `json:"cluster_fencing_token,omitempty"`
	FencingToken     uint64        `json:"fencing_token"`
	SessionEpoch     uint64        `json:"session_epoch"`
	SessionTimeoutMs int64         `json:"session_timeout_ms"`
	LastAckAgeMs     int64         `json:"last_ack_age_ms"`
	SelfFenceInMs    int64         `json:"self_fence_in_ms,omitempty"`
	NotBefore        time.Time     `json:"not_before,omitempty"`
	Priority         int           `json:"priority"`
	NoFailover       bool          `json:"no_failover"`
	Active           *elector.Info `json:"active,omitempty"`
	LastError        string        `json:"last_error,omitempty"`
	Transitions      []Transition  `json:"transitions"`
	// LockSince is when this node last acquired the lock (zero while it
	// does not hold it); LastFence is the last fencing this node ran.
	// Both let 'zkfc drill' time a takeover from the outside.
	LockSince time.Time `json:"lock_since,omitempty"`
	// HealthSince is when the health state last changed; HealthHistory
	// holds the last changes, oldest first (the console's health strip).
	HealthSince   time.Time      `json:"health_since,omitempty"`
	HealthHistory []HealthChange `json:"health_history,omitempty"`
	LastFence     *FenceRecord   `json:"last_fence,omitempty"`
	// HealthDrillUntil: the health check is overridden as failing until
	// then ('zkfc drill --mode fail-health').
	HealthDrillUntil time.Time `json:"health_drill_until,omitempty"`
	// Replication: rejoin, position, eligibility, durable mode and restart
	// in place, when configured.
	Replication *ReplicationStatus `json:"replication,omitempty"`
	// QuorumUnreachableSince: since when the session has been
	// disconnected or without a fresh acknowledgment (zero while fine).
	QuorumUnreachableSince time.Time `json:"quorum_unreachable_since,omitempty"`
	QuorumUnreachableMs    int64     `json:"quorum_unreachable_ms,omitempty"`
	// Failsafe: failover.failsafe's state; absent when it is off.
	Failsafe *FailsafeStatus `json:"failsafe,omitempty"`
}

// FenceRecord is one fencing of a previous active, successful or not.
type FenceRecord struct {
	At          time.Time `json:"at"`
	Target      string    `json:"target"`
	TargetToken uint64    `json:"target_token,omitempty"`
	TookMs      int64     `json:"took_ms"`
	Error       string    `json:"error,omitempty"`
}

const maxTransitions = 50

// HealthChange is one change of the health monitor's state.
type HealthChange struct {
	At    time.Time `json:"at"`
	State string    `json:"state"`
}

const maxHealthLog = 20

func (c *Controller) setRole(r Role, reason string) {
	from := c.svc.role
	c.svc.role = r
	if r == Active {
		c.el.BreakAfterSilence(c.cfg.SelfFenceMargin)
	} else {
		c.el.BreakAfterSilence(0)
	}
	c.m.active.Set(b2f(r == Active))
	c.m.transitions.WithLabelValues(r.String()).Inc()
	t := Transition{At: c.now(), From: from.String(), To: r.String(), Reason: reason}
	if r == Active {
		t.Token = c.svc.token
	}
	c.transitions = append(c.transitions, t)
	if len(c.transitions) > maxTransitions {
		c.transitions = c.transitions[len(c.transitions)-maxTransitions:]
	}
	c.recordRole(from, r, reason)
	c.lg.Info("role changed", zap.String("from", from.String()), zap.String("to", r.String()),
		zap.String("reason", reason), zap.Uint64("token", c.svc.token))
	if c.cfg.OnRole != nil {
		c.cfg.OnRole(r, reason)
	}
}

func (c *Controller) publish() {
	s := Status{
		NodeID: c.cfg.Self.NodeID, Cluster: c.cfg.Cluster, Role: c.svc.role.String(), Reason: c.reason,
		Health: c.svc.health.State, Healthy: c.svc.health.Healthy, Connected: c.sess.connected,
		InElection: c.elec.joined, HoldsLock: c.elec.holdsLock, Paused: c.sess.pause.Paused, PauseGeneration: c.sess.pause.Generation,
		PauseUnknown: c.sess.pauseUnknown, Draining: c.svc.draining,
		FencingToken: c.svc.token, SessionEpoch: c.sess.epoch, NotBefore: c.elec.notBefore,
		Priority: c.cfg.Self.Priority, NoFailover: c.cfg.Self.NoFailover,
		Active: c.elec.holder, LastError: c.lastErr,
		Transitions:      append([]Transition(nil), c.transitions...),
		HealthDrillUntil: c.svc.drillUntil, HealthSince: c.svc.healthSince,
		Replication:   c.replStatus(),
		HealthHistory: append([]HealthChange(nil), c.svc.healthLog...),
	}
	if c.elec.holdsLock {
		s.LockSince = c.elec.lockSince
	}
	if c.lastFence != nil {
		f := *c.lastFence
		s.LastFence = &f
	}
	if c.el != nil {
		at, timeout, ok := c.el.LastAck()
		s.SessionTimeoutMs = timeout.Milliseconds()
		if ok {
			s.LastAckAgeMs = c.now().Sub(at).Milliseconds()
			if d, _ := c.selfFenceDeadline(); c.svc.role == Active {
				s.SelfFenceInMs = d.Sub(c.now()).Milliseconds()
			}
		}
		s.Failsafe = c.failsafeStatus(c.now())
	}
	if !c.fs.lostAt.IsZero() {
		s.QuorumUnreachableSince = c.fs.lostAt
		s.QuorumUnreachableMs = c.now().Sub(c.fs.lostAt).Milliseconds()
	}
	if c.svc.role != Active && c.elec.holder != nil && c.elec.holder.NodeID == c.cfg.Self.NodeID {
		s.Active = nil
	}
	c.statusMu.Lock()
	c.status = s
	c.statusMu.Unlock()
}

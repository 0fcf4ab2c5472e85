package controller

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Restarts without failover. While automatic failover is paused, a zkfc
// that stops leaves its service as it is, and a zkfc that starts takes
// over the role its service already has instead of demoting it first, so
// that zkfc (and the quorum member it hosts) can be upgraded one node at
// a time with the active service serving throughout.
//
// Why adopting cannot make two actives. Every promotion holds the lock,
// fences the node the breadcrumb names, takes the next fencing token and
// writes a breadcrumb naming itself with that token. A starting node
// therefore adopts the active role only while it holds the lock and the
// breadcrumb names it with the last token issued in the cluster: then no
// node has been promoted since this node's own promotion, and no node can
// be while it holds the lock. Its breadcrumb is rewritten by a versioned
// set (failing if anyone wrote it in between) to name the new session, for
// lease_expired. The service keeps the token it already has, which is
// still the highest issued: adopting issues none. In every other case
// (another node holds the lock, the breadcrumb names another node or an
// older token) the service is demoted, as at any start.

// adopt is the decision step of a node whose role is still unknown while
// failover is paused; it returns the decision's sentence.
func (c *Controller) adopt(now time.Time) string {
	waiting := fmt.Sprintf("paused (generation %d): the service's role is not adopted yet: ", c.sess.pause.Generation)
	switch {
	case !c.sess.connected:
		return waiting + "not connected"
	case !c.sess.checked || c.sess.pauseUnknown:
		return waiting + "the cluster znode or the pause flag is not read yet"
	case now.Before(c.elec.notBefore):
		return waiting + c.elec.held
	}
	queried, err := c.queryRole()
	noRoleCheck := errors.Is(err, ErrNoRoleCheck)
	switch {
	case noRoleCheck:
		// Without actions.role, the recorded active re-runs its promote
		// action with the token it holds (promote actions must be
		// idempotent); any other node is demoted as at any start.
	case err != nil:
		c.holdOff(now.Add(c.cfg.BackoffInitial), "role check failed: "+err.Error())
		return waiting + c.elec.held
	case queried == "standby":
		why := fmt.Sprintf("paused (generation %d): adopted the service's role: standby", c.sess.pause.Generation)
		c.setRole(Standby, why)
		return why
	}

	held, holder, err := c.el.TryAcquire(c.cfg.Self)
	switch {
	case err != nil:
		c.holdOff(now.Add(c.cfg.BackoffInitial), "lock attempt failed: "+err.Error())
		return waiting + c.elec.held
	case !held && holder != nil && holder.NodeID == c.cfg.Self.NodeID:
		// The previous process of this node died without closing its
		// session: its lock goes when the quorum expires that session.
		c.holdOff(now.Add(c.cfg.BackoffInitial), "the lock is held by this node's previous session until it expires")
		return waiting + c.elec.held
	case !held && holder != nil:
		why := fmt.Sprintf("paused (generation %d): standby: lock held by %s", c.sess.pause.Generation, holder.NodeID)
		c.elec.holder = holder
		c.demoteService(why, true)
		return why
	case !held:
		return waiting + "the lock was freed meanwhile"
	}
	c.elec.holdsLock = true
	c.elec.holder = &c.cfg.Self
	c.elec.lockSince = c.now()
	token, notActive, err := c.recordedActive()
	if err != nil {
		// The quorum could not be asked: keep the lock and ask again.
		c.holdOff(now.Add(c.cfg.BackoffInitial), err.Error())
		return waiting + c.elec.held
	}
	if notActive == "" && noRoleCheck {
		if err := c.actions.DoPromote(context.Background(), token); err != nil {
			notActive = fmt.Sprintf("the promote action with the recorded token %d failed: %v", token, err)
		}
	}
	if notActive != "" {
		// Demote before releasing: the service must be down before
		// another node can win.
		why := fmt.Sprintf("paused (generation %d): standby: %s", c.sess.pause.Generation, notActive)
		c.demoteService(why, true)
		c.releaseLock()
		return why
	}
	c.svc.token = token
	c.m.token.Set(float64(token))
	c.elec.joined = true
	c.register()
	how := "the running active service"
	if noRoleCheck {
		how = "the recorded active role, promote re-run with its token"
	}
	why := fmt.Sprintf("paused (generation %d): adopted %s (token %d)", c.sess.pause.Generation, how, token)
	c.setRole(Active, why)
	return why
}

// recordedActive returns the token this node was last promoted with if,
// holding the lock, it is still the recorded active: the breadcrumb names
// it with the last token issued. It then rewrites the breadcrumb, compared
// by version, to name this session. Otherwise notActive says why it is
// not; err means the quorum could not be asked.
func (c *Controller) recordedActive() (token uint64, notActive string, err error) {
	bc, version, err := c.el.Breadcrumb()
	if err != nil {
		return 0, "", err
	}
	last, err := c.el.CurrentToken()
	if err != nil {
		return 0, "", err
	}
	switch {
	case bc == nil:
		return 0, "no breadcrumb: this node is not the recorded active", nil
	case bc.NodeID != c.cfg.Self.NodeID:
		return 0, fmt.Sprintf("the breadcrumb names %s: this node is not the recorded active", bc.NodeID), nil
	case bc.Token != last || last == 0:
		return 0, fmt.Sprintf("the breadcrumb's token %d is not the last issued (%d)", bc.Token, last), nil
	}
	session, err := c.el.MarkSession(c.cfg.Self.NodeID)
	if err != nil {
		return 0, "", err
	}
	self := c.cfg.Self
	self.Token, self.Session = last, session
	if err := c.el.WriteBreadcrumb(self, version); err != nil {
		// A versioned set that failed: someone wrote the breadcrumb in
		// between, or the write did not reach the quorum; read it again.
		return 0, "", err
	}
	return last, "", nil
}

// queryRole asks the service for its role once, bounded like any action.
func (c *Controller) queryRole() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
	defer cancel()
	return c.actions.QueryRole(ctx)
}

// keepOnStop: a stop while paused leaves the service in its role. Not
// when a peer may fence this node with lease_expired, which trusts that
// a zkfc demotes its service before its session ends.
func (c *Controller) keepOnStop() bool {
	return c.sess.pause.Paused && !c.sess.pauseUnknown && c.cfg.KeepServiceWhenPaused
}

package server

// Dynamic reconfiguration, as ZooKeeper 3.8's reconfig request (opcode
// 16) with reconfigEnabled=true. The member a client asks checks the
// request as ZooKeeper's PrepRequestProcessor does, in its order, against
// the membership in /zookeeper/config, and proposes the new membership as
// one raft ConfChangeV2 that enters a joint configuration (raft leaves it
// by itself once the change is applied), carrying the tree entry that sets
// /zookeeper/config. Every member applies both from the same log entry, so
// the replicated configuration and raft's never disagree; the entry's index
// is the configuration's version.

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/config"
	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// handleReconfig answers a reconfig request.
func (c *conn) handleReconfig(hdr proto.RequestHeader, req *proto.ReconfigRequest, start time.Time) bool {
	s := c.s
	if !s.cfg.ReconfigEnabled {
		return c.answer(c.errReply(hdr, proto.ErrReconfigDisabled, start))
	}
	if !s.standalone && !c.catchUp() {
		// No leader answered in time: as for a sync, the client sees a
		// connection loss and asks again elsewhere.
		r := c.errReply(hdr, proto.ErrConnectionLoss, start)
		r.closeAfter = true
		c.answer(r)
		return false
	}
	members, code := s.checkReconfig(req, c.authIDs())
	if code != proto.ErrOK {
		s.lg.Info("reconfig refused", zap.String("session", sessionHex(c.sessionID)), zap.String("error", code.Error()),
			zap.String("joining", req.JoiningServers), zap.String("leaving", req.LeavingServers),
			zap.String("members", req.NewMembers), zap.Int64("version", req.CurConfigID))
		return c.answer(c.errReply(hdr, code, start))
	}
	s.lg.Info("reconfig proposed", zap.String("session", sessionHex(c.sessionID)), zap.String("members", strings.TrimSpace(config.FormatServers(members))))
	e := &tree.Entry{Op: proto.OpReconfig, Req: &proto.ReconfigRequest{NewMembers: config.FormatServers(members), CurConfigID: -1}}
	return c.submitWrite(hdr, e, start, false, confMembers(members))
}

// catchUp waits, as a sync does, until this member has applied everything
// the leader had committed when the request reached it. ZooKeeper checks a
// reconfig on its leader; here the member the client asked checks it, and
// without this a follower that has not yet applied the end of the previous
// change would answer ReconfigInProgress, or judge a stale membership.
func (c *conn) catchUp() bool {
	done := make(chan bool, 1)
	if !c.s.rep.sync(func(ok bool) { done <- ok }, c.closed) {
		return false
	}
	select {
	case ok := <-done:
		return ok
	case <-c.closed:
		return false
	}
}

// checkReconfig runs ZooKeeper's checks of a reconfig request in
// ZooKeeper's order and returns the membership it asks for.
func (s *Server) checkReconfig(req *proto.ReconfigRequest, auth []proto.Id) ([]config.Server, proto.Err) {
	if s.standalone {
		// ZooKeeper: reconfiguration is not supported in standalone mode.
		return nil, proto.ErrUnimplemented
	}
	if s.rep.joint.Load() {
		return nil, proto.ErrReconfigInProgress
	}
	s.mu.RLock()
	data, _, _ := s.tree.Get(configPath, []proto.Id{{Scheme: "super"}})
	aclOK := s.cfg.SkipACL || s.tree.Permitted(configPath, proto.PermWrite, auth) == proto.ErrOK
	s.mu.RUnlock()
	current, version, err := config.ParseMembership(string(data))
	if err != nil {
		s.lg.Error("/zookeeper/config does not parse", zap.Error(err))
		return nil, proto.ErrSystemError
	}
	if req.CurConfigID != -1 && uint64(req.CurConfigID) != version {
		return nil, proto.ErrBadVersion
	}
	next, err := nextMembers(current, req)
	if errors.Is(err, errNotNumber) {
		return nil, proto.ErrMarshallingError
	}
	if err != nil {
		s.lg.Info("reconfig: bad arguments", zap.Error(err))
		return nil, proto.ErrBadArguments
	}
	voters := 0
	for _, m := range next {
		if !m.Observer {
			voters++
		}
	}
	if voters < 1 || (s.cfg.StandaloneEnabled && voters < 2) {
		return nil, proto.ErrBadArguments
	}
	if !s.rep.newConfigHasQuorum(confMembers(next)) {
		return nil, proto.ErrNewConfigNoQuorum
	}
	if !aclOK {
		return nil, proto.ErrNoAuth
	}
	return next, proto.ErrOK
}

const configPath = "/zookeeper/config"

// errNotNumber is what ZooKeeper's incremental reconfig meets with a
// leaving id that is not a number (a NumberFormatException, which is not
// one of its argument errors).
var errNotNumber = errors.New("not a number")

// nextMembers applies an incremental change (joining, leaving) or a whole
// new membership to current, as ZooKeeper's PrepRequestProcessor does.
func nextMembers(current []config.Server, req *proto.ReconfigRequest) ([]config.Server, error) {
	if req.NewMembers != "" {
		// ZooKeeper checks a whole new membership for syntax only; a
		// member sharing another's address cannot be in sync and fails
		// the quorum check.
		next, _, err := config.ParseMembership(strings.ReplaceAll(req.NewMembers, ",", "\n"))
		return next, err
	}
	byID := map[uint64]config.Server{}
	for _, m := range current {
		byID[m.ID] = m
	}
	for _, l := range splitList(req.LeavingServers) {
		id, err := strconv.ParseInt(l, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("leaving server %q: %w", l, errNotNumber)
		}
		delete(byID, uint64(id))
	}
	for _, j := range splitList(req.JoiningServers) {
		key, spec, ok := strings.Cut(j, "=")
		if !ok || strings.Contains(spec, "=") {
			return nil, fmt.Errorf("joining server %q: wrong format of server string", j)
		}
		key = strings.TrimSpace(key)
		if !strings.HasPrefix(key, "server.") {
			key = "server." + key[strings.LastIndex(key, ".")+1:]
		}
		m, err := config.ParseServer(key, strings.TrimSpace(spec))
		if err != nil {
			return nil, err
		}
		if m.ClientPort == 0 {
			return nil, fmt.Errorf("joining server %q: each server needs its peer, election and client ports", j)
		}
		byID[m.ID] = m
	}
	next := make([]config.Server, 0, len(byID))
	for _, m := range byID {
		next = append(next, m)
	}
	slices.SortFunc(next, func(a, b config.Server) int { return cmp.Compare(a.ID, b.ID) })
	if err := checkAddresses(next); err != nil {
		return nil, err
	}
	return next, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// checkAddresses refuses two members sharing a peer or election address.
func checkAddresses(ms []config.Server) error {
	seen := map[string]uint64{}
	for _, m := range ms {
		for _, port := range []int{m.PeerPort, m.ElectionPort} {
			a := net.JoinHostPort(m.Host, strconv.Itoa(port))
			if other, dup := seen[a]; dup && other != m.ID {
				return fmt.Errorf("server.%d and server.%d share the address %s", other, m.ID, a)
			}
			seen[a] = m.ID
		}
	}
	return nil
}

func confMembers(ms []config.Server) []member {
	out := make([]member, len(ms))
	for i, m := range ms {
		out[i] = member{id: m.ID, learner: m.Observer}
	}
	return out
}

// membershipApplied follows a committed reconfig on this member: peers
// learn new addresses, the configuration is written where a restart reads
// it, and a member the change removed stops serving. Runs on the raft
// goroutine.
func (s *Server) membershipApplied(text string) {
	members, version, err := config.ParseMembership(text)
	if err != nil {
		s.lg.Error("a committed reconfig does not parse; membership unchanged", zap.Error(err))
		return
	}
	s.setMembers(members, version, true)
	if !s.inEnsemble(s.cfg.MyID) {
		s.lg.Warn("this member was removed from the ensemble by a reconfig; it serves its clients as a non-voting member until the leader drops it",
			zap.Uint64("member", s.cfg.MyID), zap.String("version", strconv.FormatUint(version, 16)))
	}
}

// setMembers makes members this member's view of the ensemble.
func (s *Server) setMembers(members []config.Server, version uint64, persist bool) {
	s.membersMu.Lock()
	s.members, s.configVersion = members, version
	s.membersMu.Unlock()
	var me *config.Server
	for i := range members {
		m := &members[i]
		if m.ID == s.cfg.MyID {
			me = m
			continue
		}
		if s.transport != nil {
			s.transport.SetPeer(m.ID, net.JoinHostPort(m.Host, strconv.Itoa(m.PeerPort)))
		}
	}
	if me != nil {
		s.observer.Store(me.Observer)
	}
	if persist {
		if err := s.writeDynamicConfig(members, version); err != nil {
			s.lg.Error("could not write the new configuration; a restart would use the old membership until the log is replayed",
				zap.Error(err), zap.String("zoo_cfg", s.cfg.Source))
		}
	}
}

// inEnsemble reports whether the membership lists member id. Without
// reconfig no change ever leaves a member out, and raft's configuration
// is left as it is.
func (s *Server) inEnsemble(id uint64) bool {
	if !s.cfg.ReconfigEnabled {
		return true
	}
	members, _ := s.currentMembers()
	return slices.ContainsFunc(members, func(m config.Server) bool { return m.ID == id })
}

// membershipFinal follows a configuration change that raft has completed
// (no longer joint): a member it left out stops serving, a member it
// brought back serves again. Runs on the raft goroutine.
func (s *Server) membershipFinal(member bool) {
	_, version := s.currentMembers()
	switch {
	case !member && !s.removed.Load():
		s.removed.Store(true)
		s.lg.Warn("this member was removed from the ensemble by a reconfig; it no longer serves clients",
			zap.Uint64("member", s.cfg.MyID), zap.String("version", strconv.FormatUint(version, 16)))
		// Each connection closes after the replies already queued on it,
		// so the reply to a reconfig asked of this member reaches its
		// client.
		s.connMu.Lock()
		cs := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			cs = append(cs, c)
		}
		s.connMu.Unlock()
		for _, c := range cs {
			c.closeAfterReplies()
		}
	case member && s.removed.Load():
		s.removed.Store(false)
		s.lg.Info("this member was added to the ensemble again", zap.String("version", strconv.FormatUint(version, 16)))
	}
}

// currentMembers is the membership as of the last reconfig applied here
// (or the configuration files).
func (s *Server) currentMembers() ([]config.Server, uint64) {
	s.membersMu.Lock()
	defer s.membersMu.Unlock()
	return s.members, s.configVersion
}

// membersFromTree adopts the membership in /zookeeper/config when it is
// newer than what the configuration files said (a snapshot taken after a
// reconfig whose file was never written, or a member that joined from the
// leader's snapshot).
func (s *Server) membersFromTree(persist bool) {
	s.mu.RLock()
	data, _, _ := s.tree.Get(configPath, []proto.Id{{Scheme: "super"}})
	s.mu.RUnlock()
	members, version, err := config.ParseMembership(string(data))
	if err != nil {
		return
	}
	if _, have := s.currentMembers(); version > have {
		s.setMembers(members, version, persist)
	}
}

// writeDynamicConfig writes the membership as ZooKeeper does after a
// reconfig: <zoo.cfg>.dynamic.<hex version> with the server lines, and
// zoo.cfg pointing at it (dynamicConfigFile) without server lines of its
// own. Each file is replaced whole, so a crash leaves the old or the new.
func (s *Server) writeDynamicConfig(members []config.Server, version uint64) error {
	static := s.cfg.Source
	if static == "" || !filepath.IsAbs(static) && !fileExists(static) {
		return nil
	}
	dyn := fmt.Sprintf("%s.dynamic.%x", static, version)
	if err := writeFileAtomic(dyn, []byte(config.FormatServers(members))); err != nil {
		return err
	}
	old, err := os.ReadFile(static)
	if err != nil {
		return err
	}
	var out []string
	for _, line := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "server.") || strings.HasPrefix(t, "dynamicConfigFile") {
			continue
		}
		out = append(out, line)
	}
	abs, err := filepath.Abs(dyn)
	if err != nil {
		return err
	}
	out = append(out, "dynamicConfigFile="+abs)
	if err := writeFileAtomic(static, []byte(strings.Join(out, "\n")+"\n")); err != nil {
		return err
	}
	s.lg.Info("wrote the new configuration", zap.String("dynamic_config_file", abs), zap.String("zoo_cfg", static))
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// confChange is the raft change from the current configuration to
// members: every member added as a voter or learner, entered jointly.
// Every other voter becomes a learner rather than leaving at once, and
// every other learner stays one, for a while (dropRemoved): ZooKeeper
// likewise keeps a removed follower connected as a non-voting follower, so
// the requests its clients sent while the change committed are answered,
// and adding it back finds it in sync. A change that keeps the membership
// re-adds an existing voter (a no-op for raft) so that it still commits
// as a change.
func confChange(cs *raftpb.ConfState, members []member) *raftpb.ConfChangeV2 {
	have := map[uint64]bool{}
	for _, id := range cs.GetVoters() {
		have[id] = false
	}
	for _, id := range cs.GetLearners() {
		have[id] = true
	}
	cc := &raftpb.ConfChangeV2{Transition: raftpb.ConfChangeTransition_ConfChangeTransitionJointImplicit.Enum()}
	want := map[uint64]bool{}
	add := func(t raftpb.ConfChangeType, id uint64) {
		cc.Changes = append(cc.Changes, &raftpb.ConfChangeSingle{Type: t.Enum(), NodeId: u64(id)})
	}
	for _, m := range members {
		want[m.id] = true
		learner, present := have[m.id]
		switch {
		case present && learner == m.learner:
		case m.learner:
			add(raftpb.ConfChangeType_ConfChangeAddLearnerNode, m.id)
		default:
			add(raftpb.ConfChangeType_ConfChangeAddNode, m.id)
		}
	}
	ids := make([]uint64, 0, len(have))
	for id := range have {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if !want[id] && !have[id] {
			add(raftpb.ConfChangeType_ConfChangeAddLearnerNode, id)
		}
	}
	if len(cc.Changes) == 0 {
		for _, m := range members {
			if !m.learner {
				add(raftpb.ConfChangeType_ConfChangeAddNode, m.id)
				break
			}
		}
	}
	return cc
}

package server

import (
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/zkfc-project/zkfc/quorum/config"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

func TestNextMembers(t *testing.T) {
	cur, _, err := config.ParseMembership("server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nversion=1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		req  proto.ReconfigRequest
		want string // the ids and roles, or the error
	}{
		{"remove", proto.ReconfigRequest{LeavingServers: "3"}, "1p 2p"},
		{"remove unknown", proto.ReconfigRequest{LeavingServers: "9"}, "1p 2p 3p"},
		{"add observer", proto.ReconfigRequest{JoiningServers: "server.4=d:1:2:observer;4"}, "1p 2p 3p 4o"},
		{"add without server.", proto.ReconfigRequest{JoiningServers: "4=d:1:2;4"}, "1p 2p 3p 4p"},
		{"re-role", proto.ReconfigRequest{JoiningServers: "server.3=c:1:2:observer;4"}, "1p 2p 3o"},
		{"members", proto.ReconfigRequest{NewMembers: "server.5=e:1:2,server.6=f:1:2"}, "5p 6p"},
		{"no client port", proto.ReconfigRequest{JoiningServers: "server.4=d:1:2"}, "error"},
		{"shared address", proto.ReconfigRequest{JoiningServers: "server.4=a:1:7;4"}, "error"},
		{"malformed", proto.ReconfigRequest{JoiningServers: "server.4=d"}, "error"},
		{"not a number", proto.ReconfigRequest{LeavingServers: "x"}, "not a number"},
	} {
		next, err := nextMembers(cur, &c.req)
		got := ""
		switch {
		case errors.Is(err, errNotNumber):
			got = "not a number"
		case err != nil:
			got = "error"
		default:
			for i, m := range next {
				if i > 0 {
					got += " "
				}
				role := "p"
				if m.Observer {
					role = "o"
				}
				got += fmt.Sprintf("%d%s", m.ID, role)
			}
		}
		if got != c.want {
			t.Errorf("%s: got %q (%v), want %q", c.name, got, err, c.want)
		}
	}
}

func TestConfChange(t *testing.T) {
	cs := &raftpb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}
	text := func(cc *raftpb.ConfChangeV2) string {
		s := cc.GetTransition().String()
		for _, c := range cc.Changes {
			s += fmt.Sprintf(" %s(%d)", c.GetType(), c.GetNodeId())
		}
		return s
	}
	for _, c := range []struct {
		members []member
		want    string
	}{
		// A removed voter becomes a learner, a removed learner stays one,
		// until dropRemoved takes them out.
		{[]member{{id: 1}, {id: 2}, {id: 4}}, "ConfChangeTransitionJointImplicit ConfChangeAddNode(4) ConfChangeAddLearnerNode(3)"},
		{[]member{{id: 1}, {id: 2}, {id: 3}, {id: 4, learner: true}}, "ConfChangeTransitionJointImplicit ConfChangeAddNode(1)"},
		{[]member{{id: 1}, {id: 2}, {id: 3, learner: true}}, "ConfChangeTransitionJointImplicit ConfChangeAddLearnerNode(3)"},
	} {
		if got := text(confChange(cs, c.members)); got != c.want {
			t.Errorf("%v: got %s, want %s", c.members, got, c.want)
		}
	}
}

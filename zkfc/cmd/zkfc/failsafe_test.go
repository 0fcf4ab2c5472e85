package main

import (
	"strings"
	"testing"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

func TestLeaseUnproven(t *testing.T) {
	cases := []struct {
		peers []string
		self  string
		want  string // "" or part of the reason
	}{
		{nil, "nn2", ""},                     // failsafe off: its self-fencing deadline holds
		{[]string{"nn2"}, "nn2", ""},         // it asked us: our promise covers its hold
		{[]string{"nn2"}, "nn3", "only nn2"}, // it never asked nn3
	}
	for _, c := range cases {
		got := leaseUnproven(elector.Info{NodeID: "nn1", FailsafePeers: c.peers}, c.self)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("peers %v, self %s: %q, want %q", c.peers, c.self, got, c.want)
		}
	}
}

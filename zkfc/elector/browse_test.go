package elector

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// A witness's entry lives as long as its session and is found by another
// session; the browser reads data, stat, ACL and children and reports a
// missing znode as such.
func TestWitnessRegistryAndBrowse(t *testing.T) {
	const cp = "/zkfc/browse"
	cfg := testCluster(t, Config{ClusterPath: cp})
	w, _ := openConnected(t, cfg)
	r, _ := openConnected(t, cfg)
	self := Info{NodeID: "witness", ControlURL: "http://127.0.0.1:8019"}
	for range 2 { // again in the same session: no error, one entry
		if err := w.RegisterWitness(self); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := r.Witnesses()
	if err != nil || len(ws) != 1 || !reflect.DeepEqual(ws[0], self) {
		t.Fatalf("witnesses: %+v %v", ws, err)
	}
	z, err := r.Znode(cp + "/" + WitnessesName + "/witness")
	if err != nil || z.Stat.EphemeralOwner == 0 || len(z.ACL) == 0 || len(z.Children) != 0 || len(z.Data) == 0 {
		t.Fatalf("witness entry: %+v %v", z, err)
	}
	z, err = r.Znode(cp)
	if err != nil || len(z.Children) != 1 || z.Children[0] != WitnessesName {
		t.Fatalf("cluster znode: %+v %v", z, err)
	}
	if _, err := r.Znode(cp + "/nothing"); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("missing znode: %v, want ErrNoNode", err)
	}
	w.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ws, err := r.Witnesses()
		if err == nil && len(ws) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("witness entry outlived its session: %+v %v", ws, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

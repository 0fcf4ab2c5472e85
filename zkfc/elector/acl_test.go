package elector

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"
)

// TestACLsAgainstServer: Format applies the configured ACL (read back with
// getACL), the elector works through it with its credentials, a client
// without them cannot write the lock, and RefuseWorldWritable rejects an
// open cluster znode.
func TestACLsAgainstServer(t *testing.T) {
	acl := zk.DigestACL(zk.PermAll, "zkfc", "s3cret")
	cfg := testCluster(t, Config{ClusterPath: "/zkfc/secure", ACL: acl, Auth: []Auth{{Scheme: "digest", Cred: []byte("zkfc:s3cret")}}, RefuseWorldWritable: true})
	servers := cfg.Servers

	anon, _, err := zk.Connect(servers, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	// getACL needs READ, which the anonymous client lacks: read it with
	// the credentials on a second connection.
	owner, _, err := zk.Connect(servers, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if err := owner.AddAuth("digest", []byte("zkfc:s3cret")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/zkfc", "/zkfc/secure"} {
		got, _, err := owner.GetACL(p)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(acl) {
			t.Fatalf("getACL %s = %v, %v; want %v", p, got, err, acl)
		}
	}

	e, _ := openConnected(t, cfg)
	if err := e.CheckFormatted(); err != nil {
		t.Fatalf("CheckFormatted with credentials: %v", err)
	}
	if held, _, err := e.TryAcquire(Info{NodeID: "a"}); err != nil || !held {
		t.Fatalf("acquire with credentials: held=%v err=%v", held, err)
	}
	lock := cfg.ClusterPath + "/" + LockName
	if got, _, err := owner.GetACL(lock); err != nil || fmt.Sprint(got) != fmt.Sprint(acl) {
		t.Fatalf("lock ACL = %v, %v; want %v", got, err, acl)
	}
	if err := e.Release(); err != nil {
		t.Fatal(err)
	}
	// Without credentials: neither creating the lock nor deleting or
	// overwriting znodes works.
	if _, err := anon.Create(lock, []byte(`{"node_id":"intruder"}`), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("anonymous create of the lock: %v, want ErrNoAuth", err)
	}
	if err := anon.Delete(cfg.ClusterPath, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("anonymous delete of the cluster znode: %v, want ErrNoAuth", err)
	}

	// An elector with the wrong password is refused too.
	bad := cfg
	bad.Auth = []Auth{{Scheme: "digest", Cred: []byte("zkfc:wrong")}}
	eb, _ := openConnected(t, bad)
	if _, _, err := eb.TryAcquire(Info{NodeID: "b"}); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("acquire with a wrong password: %v, want ErrNoAuth", err)
	}

	// An open cluster znode is refused when asked to.
	open := Config{Servers: servers, SessionTimeout: 4 * time.Second, ClusterPath: "/open/c", ConnectWait: 60 * time.Second}
	if err := Format(open, false, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	open.RefuseWorldWritable = true
	eo, _ := openConnected(t, open)
	if err := eo.CheckFormatted(); !errors.Is(err, ErrWorldWritable) || !strings.Contains(err.Error(), "zookeeper.allow_world_writable") {
		t.Fatalf("CheckFormatted on an open znode: %v", err)
	}
	js, err := json.Marshal(cfg.Auth)
	if err != nil || !strings.Contains(string(js), "[redacted]") {
		t.Fatalf("Auth as JSON: %s %v", js, err)
	}
	if out := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg.Auth, js); strings.Contains(out, "s3cret") || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte("zkfc:s3cret"))) {
		t.Fatalf("Config prints its credential: %s", out)
	}
}

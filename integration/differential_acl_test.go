package integration

// Differential scenario on ACLs and authentication.

import (
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

func scenarioACL(e env, tr *zkenv.Transcript) error {
	admin, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer admin.Close()
	other, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer other.Close()
	_, err = admin.Create(e.root, nil, zk.FlagPersistent, openACL)
	tr.Printf("create root %s", errText(err))

	// world: read-only node.
	ro := e.path("readonly")
	_, err = admin.Create(ro, []byte("r"), zk.FlagPersistent, zk.WorldACL(zk.PermRead))
	tr.Printf("create readonly %s", errText(err))
	_, err = other.Set(ro, []byte("w"), -1)
	tr.Printf("set readonly (NoAuth): %s", errText(err))
	_, err = other.Create(ro+"/kid", nil, zk.FlagPersistent, openACL)
	tr.Printf("create under readonly (NoAuth): %s", errText(err))
	acl, st, err := other.GetACL(ro)
	tr.Printf("getACL readonly -> %s %s %s", aclText(acl), statText(st), errText(err))
	_, err = other.SetACL(ro, openACL, -1)
	tr.Printf("setACL readonly without ADMIN (NoAuth): %s", errText(err))

	// setACL/getACL with aversion.
	av := e.path("aversion")
	_, err = admin.Create(av, []byte("a"), zk.FlagPersistent, openACL)
	tr.Printf("create aversion %s", errText(err))
	st, err = admin.SetACL(av, zk.WorldACL(zk.PermRead|zk.PermWrite|zk.PermAdmin), 0)
	tr.Printf("setACL aversion v0 -> %s %s", statText(st), errText(err))
	st, err = admin.SetACL(av, zk.WorldACL(zk.PermAll), 0)
	tr.Printf("setACL aversion v0 again (BadVersion) -> %s", errText(err))
	st, err = admin.SetACL(av, zk.WorldACL(zk.PermAll), 1)
	tr.Printf("setACL aversion v1 -> %s %s", statText(st), errText(err))
	acl, st, err = admin.GetACL(av)
	tr.Printf("getACL aversion -> %s %s %s", aclText(acl), statText(st), errText(err))

	// digest: a node only alice can use.
	alice := digestID("alice", "pw-a")
	dn := e.path("digest")
	_, err = admin.Create(dn, []byte("d"), zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: alice}})
	tr.Printf("create digest node %s", errText(err))
	_, _, err = other.Get(dn)
	tr.Printf("get digest node unauthenticated (NoAuth): %s", errText(err))
	_, _, err = other.GetACL(dn)
	tr.Printf("getACL digest node unauthenticated: %s", errText(err))
	ok, st, err := other.Exists(dn)
	tr.Printf("exists digest node unauthenticated (no check): %v %s %s", ok, statText(st), errText(err))
	kids, _, err := other.Children(e.root)
	tr.Printf("children of root: %s %s", zkenv.SortedList(kids), errText(err))
	tr.Printf("addAuth digest bob: %s", errText(other.AddAuth("digest", []byte("bob:pw-b"))))
	_, _, err = other.Get(dn)
	tr.Printf("get digest node as bob (NoAuth): %s", errText(err))
	tr.Printf("addAuth digest alice: %s", errText(other.AddAuth("digest", []byte("alice:pw-a"))))
	data, st, err := other.Get(dn)
	tr.Printf("get digest node as alice -> %q %s %s", data, statText(st), errText(err))
	acl, _, err = other.GetACL(dn)
	tr.Printf("getACL digest node as alice -> %s %s", aclText(acl), errText(err))

	// auth: expands to every id of the session (other has bob and alice).
	an := e.path("auth")
	_, err = admin.Create(an, nil, zk.FlagPersistent, zk.AuthACL(zk.PermAll))
	tr.Printf("create auth-ACL node without any auth (InvalidACL): %s", errText(err))
	_, err = other.Create(an, nil, zk.FlagPersistent, zk.AuthACL(zk.PermAll))
	tr.Printf("create auth-ACL node as bob+alice: %s", errText(err))
	acl, _, err = other.GetACL(an)
	tr.Printf("getACL auth node -> %s %s", aclText(acl), errText(err))
	_, err = other.SetACL(an, []zk.ACL{{Perms: zk.PermRead, Scheme: "auth", ID: ""}}, -1)
	tr.Printf("setACL auth scheme read-only: %s", errText(err))
	acl, _, err = other.GetACL(an)
	tr.Printf("getACL auth node -> %s %s", aclText(acl), errText(err))

	// ip: loopback allowed, another network refused.
	ipOK, ipNo := e.path("ip-ok"), e.path("ip-no")
	_, err = admin.Create(ipOK, []byte("i"), zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "127.0.0.1"}})
	tr.Printf("create ip 127.0.0.1 node %s", errText(err))
	_, err = admin.Create(ipNo, []byte("i"), zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "10.0.0.0/8"}})
	tr.Printf("create ip 10.0.0.0/8 node %s", errText(err))
	_, err = admin.Create(e.path("ip-bad"), nil, zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "not-an-ip"}})
	tr.Printf("create ip not-an-ip (InvalidACL): %s", errText(err))
	_, err = admin.Create(e.path("digest-bad"), nil, zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: "nocolon"}})
	tr.Printf("create digest without colon (InvalidACL): %s", errText(err))
	data, _, err = other.Get(ipOK)
	tr.Printf("get ip 127.0.0.1 node -> %q %s", data, errText(err))
	_, _, err = other.Get(ipNo)
	tr.Printf("get ip 10.0.0.0/8 node (NoAuth): %s", errText(err))

	// super: sees and changes everything.
	su, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer su.Close()
	tr.Printf("addAuth digest super: %s", errText(su.AddAuth("digest", []byte(superUser+":"+superPassword))))
	for _, p := range []string{dn, ipNo, ro} {
		data, _, err := su.Get(p)
		tr.Printf("super get %s -> %q %s", strings.TrimPrefix(p, e.root), data, errText(err))
		_, err = su.Set(p, []byte("by-super"), -1)
		tr.Printf("super set %s -> %s", strings.TrimPrefix(p, e.root), errText(err))
	}
	tr.Printf("super delete digest node: %s", errText(su.Delete(dn, -1)))
	tr.Printf("addAuth with a wrong super password: %s", errText(other.AddAuth("digest", []byte(superUser+":wrong"))))
	_, _, err = other.Get(ipNo)
	tr.Printf("get ip 10.0.0.0/8 node after wrong super password: %s", errText(err))

	// An unknown scheme in addAuth fails the session (AuthFailed) in Apache.
	bad, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer bad.Close()
	if _, err := rcallXid(tr, bad, "raw auth scheme nosuch", proto.XidAuth, proto.OpAuth,
		&proto.AuthPacket{Scheme: "nosuch", Auth: []byte("x")}, nil); err != nil {
		tr.Printf("  connection: %v", closedText(err))
	}
	tr.Printf("  connection closed after AuthFailed: %v", bad.WaitClosed(5*time.Second))
	return nil
}

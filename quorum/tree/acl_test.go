package tree

import (
	"reflect"
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// kazoo's make_digest_acl("alice", "pw") on 3.8.0 gives
// "alice:V55/p2T0OpjQ+low3NVAH4aLvm0=".
func TestDigestID(t *testing.T) {
	if got := DigestID("alice", "pw"); got != "alice:V55/p2T0OpjQ+low3NVAH4aLvm0=" {
		t.Errorf("DigestID = %s", got)
	}
}

func TestACLMatrix(t *testing.T) {
	alice := proto.Id{Scheme: "digest", ID: DigestID("alice", "pw")}
	bob := proto.Id{Scheme: "digest", ID: DigestID("bob", "pw")}
	super := proto.Id{Scheme: "super", ID: ""}
	ip := func(a string) proto.Id { return proto.Id{Scheme: "ip", ID: a} }
	acl := func(perms int32, scheme, id string) []proto.ACL {
		return []proto.ACL{{Perms: perms, ID: proto.Id{Scheme: scheme, ID: id}}}
	}
	cases := []struct {
		name string
		acl  []proto.ACL
		auth []proto.Id
		perm int32
		want bool
	}{
		{"world read", acl(proto.PermRead, "world", "anyone"), nil, proto.PermRead, true},
		{"world read, want write", acl(proto.PermRead, "world", "anyone"), nil, proto.PermWrite, false},
		{"digest match", acl(proto.PermAll, "digest", alice.ID), []proto.Id{alice}, proto.PermWrite, true},
		{"digest other user", acl(proto.PermAll, "digest", alice.ID), []proto.Id{bob}, proto.PermWrite, false},
		{"digest no auth", acl(proto.PermAll, "digest", alice.ID), nil, proto.PermRead, false},
		{"digest wrong perm", acl(proto.PermRead, "digest", alice.ID), []proto.Id{alice}, proto.PermAdmin, false},
		{"super bypasses", acl(proto.PermRead, "digest", alice.ID), []proto.Id{super}, proto.PermAdmin, true},
		{"super bypasses zero perms", acl(0, "world", "anyone"), []proto.Id{super}, proto.PermDelete, true},
		{"ip exact", acl(proto.PermAll, "ip", "127.0.0.1"), []proto.Id{ip("127.0.0.1")}, proto.PermRead, true},
		{"ip exact other", acl(proto.PermAll, "ip", "127.0.0.1"), []proto.Id{ip("127.0.0.2")}, proto.PermRead, false},
		{"ip cidr in", acl(proto.PermAll, "ip", "10.1.0.0/16"), []proto.Id{ip("10.1.200.3")}, proto.PermRead, true},
		{"ip cidr out", acl(proto.PermAll, "ip", "10.1.0.0/16"), []proto.Id{ip("10.2.0.1")}, proto.PermRead, false},
		{"ip cidr odd bits", acl(proto.PermAll, "ip", "10.0.0.0/9"), []proto.Id{ip("10.127.255.255")}, proto.PermRead, true},
		{"ip cidr odd bits out", acl(proto.PermAll, "ip", "10.0.0.0/9"), []proto.Id{ip("10.128.0.0")}, proto.PermRead, false},
		{"ip /0", acl(proto.PermAll, "ip", "0.0.0.0/0"), []proto.Id{ip("192.168.1.1")}, proto.PermRead, true},
		{"ip6 exact", acl(proto.PermAll, "ip", "::1"), []proto.Id{ip("::1")}, proto.PermRead, true},
		{"ip6 cidr", acl(proto.PermAll, "ip", "fd00::/8"), []proto.Id{ip("fd12:3456::1")}, proto.PermRead, true},
		{"ip6 cidr out", acl(proto.PermAll, "ip", "fd00::/8"), []proto.Id{ip("fe80::1")}, proto.PermRead, false},
		{"ip family mismatch", acl(proto.PermAll, "ip", "0.0.0.0/0"), []proto.Id{ip("::1")}, proto.PermRead, false},
		{"ip mapped v4", acl(proto.PermAll, "ip", "127.0.0.0/8"), []proto.Id{ip("::ffff:127.0.0.1")}, proto.PermRead, true},
		{"ip scheme needs ip identity", acl(proto.PermAll, "ip", "127.0.0.1"), []proto.Id{{Scheme: "digest", ID: "127.0.0.1"}}, proto.PermRead, false},
		{"create needs create", acl(proto.PermAll&^proto.PermCreate, "world", "anyone"), nil, proto.PermCreate, false},
		{"create granted", acl(proto.PermCreate, "world", "anyone"), nil, proto.PermCreate, true},
		{"delete needs delete", acl(proto.PermAll&^proto.PermDelete, "world", "anyone"), nil, proto.PermDelete, false},
		{"delete granted by ip", acl(proto.PermDelete, "ip", "127.0.0.0/8"), []proto.Id{ip("127.3.2.1")}, proto.PermDelete, true},
		{"second entry grants", append(acl(proto.PermRead, "digest", bob.ID), acl(proto.PermWrite, "digest", alice.ID)...), []proto.Id{alice}, proto.PermWrite, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Through Apply: setData needs WRITE, check READ, setACL ADMIN,
			// create CREATE on the parent, delete DELETE on the parent.
			h := newHarness(t)
			opPerm := map[int32]int32{proto.PermWrite: proto.OpSetData, proto.PermRead: proto.OpCheck,
				proto.PermAdmin: proto.OpSetACL, proto.PermCreate: proto.OpCreate, proto.PermDelete: proto.OpDelete}
			r := h.do(proto.OpCreate, &proto.CreateRequest{Path: "/n", ACL: c.acl})
			wantErr(t, "create /n", r.Err, proto.ErrOK)
			h.mustCreateAs("/n/child", super)
			var req proto.Record
			switch opPerm[c.perm] {
			case proto.OpSetData:
				req = &proto.SetDataRequest{Path: "/n", Version: -1}
			case proto.OpCheck:
				req = &proto.PathVersionRequest{Path: "/n", Version: -1}
			case proto.OpSetACL:
				req = &proto.SetACLRequest{Path: "/n", ACL: proto.OpenACL, Version: -1}
			case proto.OpCreate:
				req = &proto.CreateRequest{Path: "/n/new", ACL: proto.OpenACL}
			case proto.OpDelete:
				req = &proto.PathVersionRequest{Path: "/n/child", Version: -1}
			}
			r = h.do(opPerm[c.perm], req, c.auth...)
			want := proto.ErrNoAuth
			if c.want {
				want = proto.ErrOK
			}
			wantErr(t, "apply", r.Err, want)
			if got := allowed(c.acl, c.perm, c.auth); got != c.want {
				t.Errorf("allowed = %v, want %v", got, c.want)
			}
		})
	}
}

func (h *harness) mustCreateAs(path string, auth ...proto.Id) {
	h.t.Helper()
	if _, err := h.create(path, "", proto.ModePersistent, auth...); err != proto.ErrOK {
		h.t.Fatalf("create %s: %v", path, err)
	}
}

// ACL validation at create/setACL, observed on 3.8.0 (kazoo):
// auth without identities, ip 300.1.1.1, ip 10.0.0.0/33, digest
// "nocolon", world:bob, super:x and foo:x are all InvalidACL; ip ::1 is
// InvalidACL in 3.8 (IPv6 unsupported there) and accepted here; a
// duplicated entry is stored once; auth after addauth digest alice
// expands to alice's digest id.
func TestFixupACL(t *testing.T) {
	alice := proto.Id{Scheme: "digest", ID: DigestID("alice", "pw")}
	one := func(scheme, id string) []proto.ACL {
		return []proto.ACL{{Perms: proto.PermAll, ID: proto.Id{Scheme: scheme, ID: id}}}
	}
	cases := []struct {
		name string
		acl  []proto.ACL
		auth []proto.Id
		want []proto.ACL
		err  proto.Err
	}{
		{"nil", nil, nil, nil, proto.ErrInvalidACL},
		{"world anyone", one("world", "anyone"), nil, one("world", "anyone"), proto.ErrOK},
		{"world other", one("world", "bob"), nil, nil, proto.ErrInvalidACL},
		{"auth without ids", one("auth", ""), nil, nil, proto.ErrInvalidACL},
		{"auth with only ip", one("auth", ""), []proto.Id{{Scheme: "ip", ID: "127.0.0.1"}}, nil, proto.ErrInvalidACL},
		{"auth with super only", one("auth", ""), []proto.Id{{Scheme: "super"}}, nil, proto.ErrInvalidACL},
		{"auth expands", one("auth", "whatever"),
			[]proto.Id{{Scheme: "ip", ID: "127.0.0.1"}, alice, {Scheme: "super"}}, one("digest", alice.ID), proto.ErrOK},
		{"digest ok", one("digest", alice.ID), nil, one("digest", alice.ID), proto.ErrOK},
		{"digest empty user", one("digest", ":h"), nil, one("digest", ":h"), proto.ErrOK},
		{"digest no colon", one("digest", "nocolon"), nil, nil, proto.ErrInvalidACL},
		{"digest trailing colon", one("digest", "u:"), nil, nil, proto.ErrInvalidACL},
		{"digest two colons", one("digest", "u:h:x"), nil, nil, proto.ErrInvalidACL},
		{"ip v4", one("ip", "10.0.0.1"), nil, one("ip", "10.0.0.1"), proto.ErrOK},
		{"ip cidr", one("ip", "10.0.0.0/8"), nil, one("ip", "10.0.0.0/8"), proto.ErrOK},
		{"ip bad octet", one("ip", "300.1.1.1"), nil, nil, proto.ErrInvalidACL},
		{"ip bad bits", one("ip", "10.0.0.0/33"), nil, nil, proto.ErrInvalidACL},
		{"ip bad bits text", one("ip", "10.0.0.0/x"), nil, nil, proto.ErrInvalidACL},
		{"ip three octets", one("ip", "10.0.0"), nil, nil, proto.ErrInvalidACL},
		{"ip6 (extension)", one("ip", "::1"), nil, one("ip", "::1"), proto.ErrOK},
		{"ip6 bad bits", one("ip", "::1/129"), nil, nil, proto.ErrInvalidACL},
		{"super", one("super", "x"), nil, nil, proto.ErrInvalidACL},
		{"unknown", one("foo", "x"), nil, nil, proto.ErrInvalidACL},
		{"duplicates", append(one("world", "anyone"), one("world", "anyone")...), nil, one("world", "anyone"), proto.ErrOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.do(proto.OpCreate, &proto.CreateRequest{Path: "/n", ACL: c.acl}, c.auth...)
			wantErr(t, "create", r.Err, c.err)
			if c.err != proto.ErrOK {
				return
			}
			got, _, err := h.tree.GetACL("/n", []proto.Id{{Scheme: "super"}})
			if err != proto.ErrOK || !reflect.DeepEqual(got, c.want) {
				t.Errorf("stored ACL %v %v, want %v", got, err, c.want)
			}
			// setACL validates and expands the same way.
			r = h.do(proto.OpSetACL, &proto.SetACLRequest{Path: "/n", ACL: c.acl, Version: -1}, append(c.auth, proto.Id{Scheme: "super"})...)
			wantErr(t, "setACL", r.Err, proto.ErrOK)
		})
	}
}

// getACL on 3.8.0 (kazoo): needs READ or ADMIN; world:anyone READ plus
// alice ALL read by a stranger shows "alice:x"; ADMIN-only is readable
// in full; WRITE-only is NoAuth; alice herself sees her hash.
func TestGetACLVisibility(t *testing.T) {
	h := newHarness(t)
	alice := proto.Id{Scheme: "digest", ID: DigestID("alice", "pw")}
	aliceACL := proto.ACL{Perms: proto.PermAll, ID: alice}
	mk := func(path string, acl ...proto.ACL) {
		r := h.do(proto.OpCreate, &proto.CreateRequest{Path: path, ACL: acl})
		wantErr(t, "create "+path, r.Err, proto.ErrOK)
	}
	mk("/readable", aliceACL, proto.ACL{Perms: proto.PermRead, ID: proto.WorldAnyone})
	mk("/adminonly", proto.ACL{Perms: proto.PermAdmin, ID: proto.WorldAnyone}, aliceACL)
	mk("/writeonly", proto.ACL{Perms: proto.PermWrite, ID: proto.WorldAnyone}, aliceACL)
	mk("/aliceonly", aliceACL)

	cases := []struct {
		path string
		auth []proto.Id
		want []proto.ACL
		err  proto.Err
	}{
		{"/readable", nil, []proto.ACL{{Perms: proto.PermAll, ID: proto.Id{Scheme: "digest", ID: "alice:x"}},
			{Perms: proto.PermRead, ID: proto.WorldAnyone}}, proto.ErrOK},
		{"/readable", []proto.Id{alice}, []proto.ACL{aliceACL, {Perms: proto.PermRead, ID: proto.WorldAnyone}}, proto.ErrOK},
		{"/adminonly", nil, []proto.ACL{{Perms: proto.PermAdmin, ID: proto.WorldAnyone}, aliceACL}, proto.ErrOK},
		{"/writeonly", nil, nil, proto.ErrNoAuth},
		{"/aliceonly", nil, nil, proto.ErrNoAuth},
		{"/aliceonly", []proto.Id{alice}, []proto.ACL{aliceACL}, proto.ErrOK},
		{"/aliceonly", []proto.Id{{Scheme: "super"}}, []proto.ACL{aliceACL}, proto.ErrOK},
	}
	for _, c := range cases {
		got, _, err := h.tree.GetACL(c.path, c.auth)
		if err != c.err || !reflect.DeepEqual(got, c.want) {
			t.Errorf("GetACL(%s, %v) = %v %v, want %v %v", c.path, c.auth, got, err, c.want, c.err)
		}
	}
	// Masking must not leak into the tree.
	got, _, _ := h.tree.GetACL("/readable", []proto.Id{alice})
	if got[0].ID.ID != alice.ID {
		t.Errorf("stored ACL was modified by a masked read: %v", got)
	}
}

// Equal ACLs are shared and released with their last node.
func TestACLInterning(t *testing.T) {
	h := newHarness(t)
	alice := proto.Id{Scheme: "digest", ID: DigestID("alice", "pw")}
	own := []proto.ACL{{Perms: proto.PermAll, ID: alice}}
	for _, p := range []string{"/a", "/b"} {
		h.do(proto.OpCreate, &proto.CreateRequest{Path: p, ACL: own})
	}
	if h.tree.lookup("/a").acl != h.tree.lookup("/b").acl {
		t.Error("equal ACLs not shared")
	}
	before := len(h.tree.acls.byKey)
	for _, p := range []string{"/a", "/b"} {
		r := h.do(proto.OpDelete, &proto.PathVersionRequest{Path: p, Version: -1}, alice)
		wantErr(t, "delete", r.Err, proto.ErrOK)
	}
	if len(h.tree.acls.byKey) != before-1 {
		t.Errorf("ACL cache %d entries, want %d after last user deleted", len(h.tree.acls.byKey), before-1)
	}
}

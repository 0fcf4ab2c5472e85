package tree

import (
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// aclList is an interned ACL: nodes with equal ACLs share one, as
// ZooKeeper's ReferenceCountedACLCache does, which keeps a tree of a
// million nodes with a handful of distinct ACLs small.
type aclList struct {
	acl  []proto.ACL
	key  string
	refs int
}

type aclCache struct {
	byKey map[string]*aclList
	kbuf  []byte // scratch for lookups, so a hit allocates nothing
}

func aclKey(acl []proto.ACL) string { return string(appendACLKey(nil, acl)) }

func appendACLKey(b []byte, acl []proto.ACL) []byte {
	for _, a := range acl {
		b = strconv.AppendInt(b, int64(a.Perms), 10)
		b = append(b, 0)
		b = append(b, a.ID.Scheme...)
		b = append(b, 0)
		b = append(b, a.ID.ID...)
		b = append(b, 0)
	}
	return b
}

// intern returns the shared list equal to acl without taking a reference;
// insert takes it.
func (c *aclCache) intern(acl []proto.ACL) *aclList {
	c.kbuf = appendACLKey(c.kbuf[:0], acl)
	if l := c.byKey[string(c.kbuf)]; l != nil {
		return l
	}
	k := string(c.kbuf)
	own := make([]proto.ACL, len(acl))
	copy(own, acl)
	l := &aclList{acl: own, key: k}
	c.byKey[k] = l
	return l
}

func (c *aclCache) acquire(l *aclList) {
	if l.refs == 0 {
		c.byKey[l.key] = l
	}
	l.refs++
}

func (c *aclCache) release(l *aclList) {
	l.refs--
	if l.refs <= 0 {
		delete(c.byKey, l.key)
	}
}

// DigestID is the id a digest ACL names for user and password:
// "user:" + base64(sha1("user:password")), as ZooKeeper's
// DigestAuthenticationProvider.generateDigest.
func DigestID(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// allowed is ZooKeeper's checkACL: an empty ACL allows everything, a
// "super" identity bypasses every check, otherwise some entry granting
// one of perm must match one of the caller's identities.
func allowed(acl []proto.ACL, perm int32, auth []proto.Id) bool {
	if len(acl) == 0 {
		return true
	}
	for _, id := range auth {
		if id.Scheme == "super" {
			return true
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		switch a.ID.Scheme {
		case "world":
			if a.ID.ID == "anyone" {
				return true
			}
		case "ip":
			for _, id := range auth {
				if id.Scheme == "ip" && ipMatches(id.ID, a.ID.ID) {
					return true
				}
			}
		default:
			for _, id := range auth {
				if id.Scheme == a.ID.Scheme && id.ID == a.ID.ID {
					return true
				}
			}
		}
	}
	return false
}

// authenticatedScheme reports whether an identity of this scheme is one an
// "auth" ACL expands to. ZooKeeper expands to ids whose provider says
// isAuthenticated: digest, sasl and x509, never ip; "super" has no provider.
func authenticatedScheme(s string) bool {
	return s == "digest" || s == "sasl" || s == "x509"
}

// fixupACL validates and expands an ACL given to create or setACL, as
// ZooKeeper's PrepRequestProcessor.fixupACL: duplicates dropped, empty is
// InvalidACL, "auth" becomes the caller's authenticated ids (InvalidACL if
// there are none), "world" must be "anyone", digest ids must be
// "user:hash", ip ids an address or CIDR, any other scheme is InvalidACL
// (3.8 registers no other provider by default; "super" is none either).
func fixupACL(acl []proto.ACL, auth []proto.Id) ([]proto.ACL, proto.Err) {
	if plainACL(acl) {
		return acl, proto.ErrOK
	}
	uniq := make([]proto.ACL, 0, len(acl))
	for _, a := range acl {
		dup := false
		for _, u := range uniq {
			if u == a {
				dup = true
				break
			}
		}
		if !dup {
			uniq = append(uniq, a)
		}
	}
	if len(uniq) == 0 {
		return nil, proto.ErrInvalidACL
	}
	out := make([]proto.ACL, 0, len(uniq))
	for _, a := range uniq {
		switch a.ID.Scheme {
		case "world":
			if a.ID.ID != "anyone" {
				return nil, proto.ErrInvalidACL
			}
			out = append(out, a)
		case "auth":
			found := false
			for _, id := range auth {
				if authenticatedScheme(id.Scheme) {
					found = true
					out = append(out, proto.ACL{Perms: a.Perms, ID: id})
				}
			}
			if !found {
				return nil, proto.ErrInvalidACL
			}
		case "digest":
			if !validDigestID(a.ID.ID) {
				return nil, proto.ErrInvalidACL
			}
			out = append(out, a)
		case "ip":
			if _, ok := parseIPExpr(a.ID.ID); !ok {
				return nil, proto.ErrInvalidACL
			}
			out = append(out, a)
		case "sasl", "x509":
			// Valid when the server has the provider (SASL, client
			// certificates); the server refuses them before the log when
			// it does not, since that is configuration, not tree state.
			if a.ID.ID == "" {
				return nil, proto.ErrInvalidACL
			}
			out = append(out, a)
		default:
			return nil, proto.ErrInvalidACL
		}
	}
	return out, proto.ErrOK
}

// plainACL reports whether fixupACL would return acl unchanged: the
// common case (one world:anyone entry, or a few valid digest ids) then
// costs no allocation.
func plainACL(acl []proto.ACL) bool {
	if len(acl) == 0 || len(acl) > 8 {
		return false
	}
	for i, a := range acl {
		switch {
		case a.ID.Scheme == "world" && a.ID.ID == "anyone":
		case a.ID.Scheme == "digest" && validDigestID(a.ID.ID):
		default:
			return false
		}
		for _, b := range acl[:i] {
			if a == b {
				return false
			}
		}
	}
	return true
}

// validDigestID mirrors Java's id.split(":").length == 2, where trailing
// empty strings are dropped: "u:h" and ":h" are valid, "u:" and "u:h:x"
// are not.
func validDigestID(id string) bool {
	trimmed := strings.TrimRight(id, ":")
	return strings.Count(trimmed, ":") == 1
}

// parseIPExpr parses an ip ACL id: an address or address/bits. ZooKeeper
// 3.8 only parses IPv4 here (IPv6 is a TODO in its provider and answers
// InvalidACL); this also accepts IPv6, a deliberate extension.
func parseIPExpr(expr string) (netip.Prefix, bool) {
	addrPart, bitsPart, hasBits := strings.Cut(expr, "/")
	addr, ok := parseIP(addrPart)
	if !ok {
		return netip.Prefix{}, false
	}
	bits := addr.BitLen()
	if hasBits {
		b, err := strconv.Atoi(bitsPart)
		if err != nil || b < 0 || b > addr.BitLen() {
			return netip.Prefix{}, false
		}
		bits = b
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p, true
}

// parseIP accepts a dotted IPv4 address (each part 0-255) or an IPv6
// address; an IPv4-mapped IPv6 address counts as IPv4, so a client
// connected over a dual-stack socket still matches ip:10.0.0.0/8.
func parseIP(s string) (netip.Addr, bool) {
	if strings.Count(s, ".") == 3 && !strings.Contains(s, ":") {
		var b [4]byte
		parts := strings.Split(s, ".")
		for i, p := range parts {
			v, err := strconv.Atoi(p)
			if err != nil || v < 0 || v > 255 {
				return netip.Addr{}, false
			}
			b[i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// ipMatches reports whether the caller's address id falls in the ACL's
// address or CIDR expr; families must agree.
func ipMatches(id, expr string) bool {
	p, ok := parseIPExpr(expr)
	if !ok {
		return false
	}
	a, ok := parseIP(id)
	if !ok {
		return false
	}
	return a.BitLen() == p.Addr().BitLen() && p.Contains(a)
}

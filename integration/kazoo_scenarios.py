#!/usr/bin/python3
"""Differential scenario driven by kazoo, the Python ZooKeeper client.

Usage: kazoo_scenarios.py HOST:PORT ROOT

Prints a transcript in the form integration/zkenv normalizes: zxids as
Z(0x..), session ids as S(0x..), times reduced as zkenv.FormatStat does,
children sorted. It runs the same steps against any server and must print
the same normalized lines for Apache ZooKeeper and for ours. Every wait is
bounded; a harness failure exits non-zero.
"""
import sys
import threading

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.security import make_digest_acl, make_acl, OPEN_ACL_UNSAFE

WAIT = 15.0  # seconds, for connections and expected watch events


def zx(z):
    return "Z(%#x)" % z if z else "Z(0)"


def owner(o):
    if o == 0:
        return "0"
    if o == -(1 << 63):
        return "container"
    if o & (-1 << 56) == (-1 << 56):
        return "ttl(%d)" % (o & 0x00FFFFFFFFFF)
    return "S(%#x)" % o


def stat(s):
    """Mirror of zkenv.FormatStat."""
    ctime = "set" if s.ctime else "0"
    if s.mtime == s.ctime and s.version == 0:
        mtime = "=ctime"
    elif s.mtime >= s.ctime and s.version > 0:
        mtime = ">=ctime"
    else:
        rel = ">" if s.mtime > s.ctime else "<" if s.mtime < s.ctime else "="
        mtime = "odd(mtime%sctime,version=%d)" % (rel, s.version)
    return ("czxid=%s mzxid=%s pzxid=%s ctime=%s mtime=%s version=%d cversion=%d "
            "aversion=%d owner=%s dataLength=%d numChildren=%d") % (
        zx(s.czxid), zx(s.mzxid), zx(s.pzxid), ctime, mtime, s.version,
        s.cversion, s.aversion, owner(s.ephemeralOwner), s.dataLength,
        s.numChildren)


def out(*parts):
    print(" ".join(str(p) for p in parts), flush=True)


def err(e):
    return type(e).__name__


def result(r):
    """One transaction result: a path, True, a stat or an exception."""
    if isinstance(r, Exception):
        return err(r)
    if hasattr(r, "czxid"):
        return stat(r)
    return r


def attempt(label, fn):
    """Run fn, print label and the result or the exception class."""
    try:
        res = fn()
    except KazooException as e:
        out(label, "->", err(e))
        return None
    out(label, "-> ok")
    return res


def client(addr, **kw):
    c = KazooClient(hosts=addr, timeout=WAIT, **kw)
    c.start(timeout=WAIT)
    return c


class Events:
    """Collects watch callbacks; wait() blocks (bounded) for n of them."""

    def __init__(self):
        self.cond = threading.Condition()
        self.seen = []

    def __call__(self, event):
        with self.cond:
            self.seen.append("%s %s" % (event.type, event.path))
            self.cond.notify_all()

    def wait(self, n, label):
        with self.cond:
            self.cond.wait_for(lambda: len(self.seen) >= n, timeout=WAIT)
            got, self.seen = self.seen, []
        out(label, "events", got)


def main():
    addr, root = sys.argv[1], sys.argv[2]
    a = client(addr)
    b = client(addr)
    out("session", "S(%#x)" % a.client_id[0])

    # Creates: plain, ephemeral, sequential, makepath, include_data.
    out("create root ->", a.create(root, b"r"))
    out("create ephemeral ->", a.create(root + "/e", b"e", ephemeral=True))
    for _ in range(2):
        p = a.create(root + "/s-", b"s", sequence=True)
        out("create sequential -> suffix", p[len(root + "/s-"):])
    p, st = a.create(root + "/deep/er/node", b"d", makepath=True, include_data=True)
    out("create makepath include_data ->", p, stat(st))
    attempt("create existing", lambda: a.create(root + "/e"))
    attempt("create under ephemeral", lambda: a.create(root + "/e/kid"))
    attempt("create without parent", lambda: a.create(root + "/nope/kid"))
    attempt("delete non-empty", lambda: a.delete(root + "/deep"))
    attempt("get missing", lambda: a.get(root + "/missing"))
    attempt("set bad version", lambda: a.set(root + "/e", b"x", version=5))
    out("exists missing ->", a.exists(root + "/missing"))

    # Data and stats.
    st = a.set(root + "/e", b"e2")
    out("set e ->", stat(st))
    data, st = b.get(root + "/e")
    out("get e ->", data, stat(st))
    kids = a.get_children(root)
    out("children root ->", sorted(kids))
    kids, st = a.get_children(root, include_data=True)
    out("children root include_data ->", sorted(kids), stat(st))
    out("sync ->", a.sync(root))

    # ACLs.
    acl = [make_digest_acl("kuser", "kpw", all=True)]
    a.create(root + "/secret", b"s", acl=acl)
    attempt("get secret unauthenticated", lambda: b.get(root + "/secret"))
    attempt("get_acls secret unauthenticated", lambda: a.get_acls(root + "/secret"))
    b.add_auth("digest", "kuser:kpw")
    acls, st = b.get_acls(root + "/secret")
    out("get_acls secret ->", [(x.perms, x.id.scheme, x.id.id) for x in acls], stat(st))
    out("get secret after add_auth ->", b.get(root + "/secret")[0])
    # The new ACL keeps ADMIN for everyone. Apache ZooKeeper ensembles check
    # a request prepped before the previous setACL is applied on the leader
    # against the old ACL (its outstanding change record carries only the
    # new aversion), so revoking ADMIN here would make the next step's
    # answer depend on timing there: NoAuth or BadVersion. Keeping ADMIN in
    # both ACLs makes the stale version the only error on either server.
    st = b.set_acls(root + "/secret", [make_acl("world", "anyone", read=True, admin=True)], version=0)
    out("set_acls secret ->", stat(st))
    attempt("set_acls stale version", lambda: b.set_acls(root + "/secret", OPEN_ACL_UNSAFE, version=0))
    attempt("set secret now read-only", lambda: a.set(root + "/secret", b"w"))

    # Transactions.
    t = a.transaction()
    t.create(root + "/t1", b"1")
    t.check(root + "/e", 1)
    t.set_data(root + "/t1", b"2")
    t.delete(root + "/s-0000000001")
    out("transaction ok ->", [result(r) for r in t.commit()])
    t = a.transaction()
    t.create(root + "/t2", b"1")
    t.check(root + "/e", 99)
    t.create(root + "/t3", b"1")
    res = t.commit()
    out("transaction failing ->", [result(r) for r in res])
    out("t2 exists after failed transaction ->", a.exists(root + "/t2"))

    # Watches: one-shot data, child, and exists watches set by a,
    # triggered by b.
    ev = Events()
    a.get(root + "/t1", watch=ev)
    a.get_children(root, watch=ev)
    a.exists(root + "/later", watch=ev)
    b.set(root + "/t1", b"3")
    ev.wait(1, "after set t1")
    b.create(root + "/later")
    ev.wait(2, "after create later")
    b.delete(root + "/later")
    b.set(root + "/t1", b"4")
    b.sync(root)
    a.sync(root)
    ev.wait(0, "after one-shot watches fired (none expected)")

    # Ephemerals go with the session.
    c = client(addr)
    c.create(root + "/c-eph", ephemeral=True)
    a.exists(root + "/c-eph", watch=ev)
    c.stop()
    c.close()
    ev.wait(1, "after the owner stopped")
    out("c-eph exists ->", a.exists(root + "/c-eph"))

    # Recursive delete through the client helper.
    out("delete recursive deep ->", a.delete(root + "/deep", recursive=True))
    out("children root at end ->", sorted(a.get_children(root)))

    # Four-letter words through kazoo.
    out("command ruok ->", a.command(b"ruok"))
    out("command isro ->", a.command(b"isro").strip())
    out("server_version major.minor ->", a.server_version()[:2])

    for x in (a, b):
        x.stop()
        x.close()


if __name__ == "__main__":
    main()

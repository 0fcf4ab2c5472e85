#!/usr/bin/python3
"""Reconfig through kazoo's client.reconfig, for TestDifferentialReconfig.

Usage: kazoo_reconfig.py HOSTS SUPER_USER:PASSWORD SERVER3_LINE

HOSTS is members 1 and 2 (never removed); SERVER3_LINE is member 3's
server spec. Removes member 3, adds it back with the version it read
(from_config), then asks again with the stale version. Prints each answer
with the configuration as read back; the caller names ports and versions.
Every wait is bounded; a harness failure exits non-zero.
"""
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.retry import KazooRetry

WAIT = 15.0


def out(*parts):
    print(" ".join(str(p) for p in parts), flush=True)


def version(data):
    for line in data.decode().split("\n"):
        if line.startswith("version="):
            return int(line[len("version="):], 16)
    return -1


def main():
    hosts, cred, server3 = sys.argv[1], sys.argv[2], sys.argv[3]
    # A server may drop connections after a change: retry reads, as an
    # application would.
    c = KazooClient(hosts=hosts, timeout=WAIT, connection_retry=KazooRetry(max_tries=10),
                    command_retry=KazooRetry(max_tries=10))
    c.start(timeout=WAIT)
    c.add_auth("digest", cred)

    def config(label):
        data, _ = c.retry(c.get, "/zookeeper/config")
        out(label, "config:")
        out(data.decode())
        return version(data)

    def reconfig(label, **kw):
        try:
            data, st = c.reconfig(**kw)
        except KazooException as e:
            out(label, "->", type(e).__name__)
            return
        out(label, "-> ok, reply version is mzxid:", version(data) == st.mzxid)
        config("  after " + label)

    v = config("kazoo initial")
    reconfig("kazoo remove 3", joining=None, leaving="3", new_members=None)
    v2 = config("kazoo before add")
    reconfig("kazoo add 3 from_config", joining=server3, leaving=None, new_members=None, from_config=v2)
    reconfig("kazoo stale from_config", joining=None, leaving="3", new_members=None, from_config=v)
    c.stop()
    c.close()


if __name__ == "__main__":
    main()

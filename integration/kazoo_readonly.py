#!/usr/bin/python3
"""A kazoo client that can be read-only, driven by TestDifferentialReadOnly.

Usage: kazoo_readonly.py HOSTS

Connects with read_only=True, then answers one command a line on stdin
with one line on stdout, so that the test can cut and heal the network
between commands:

  wait STATE SECONDS   until kazoo's client_state is STATE (CONNECTED_RO,
                       CONNECTED): "state STATE", or "timeout LAST"
  get PATH             "get PATH -> DATA" or the exception's name
  set PATH DATA        "set PATH -> ok" or the exception's name
  sync PATH            "sync PATH -> ok" or the exception's name
  session              whether the session is the one of the last call:
                       "session same" or "session new"

Every wait is bounded.
"""
import sys
import time

from kazoo.client import KazooClient


def out(*parts):
    print(" ".join(str(p) for p in parts), flush=True)


def call(label, fn):
    try:
        res = fn()
    except Exception as e:  # the answer is the exception's name
        return "%s -> %s" % (label, type(e).__name__)
    return "%s -> %s" % (label, res)


def main():
    zk = KazooClient(hosts=sys.argv[1], read_only=True, timeout=10.0)
    zk.start(timeout=30)
    last_session = zk.client_id
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "wait":
            want, end = cmd[1], time.time() + float(cmd[2])
            while str(zk.client_state) != want and time.time() < end:
                time.sleep(0.05)
            state = str(zk.client_state)
            out("state", state) if state == want else out("timeout", state)
        elif cmd[0] == "get":
            out(call("get " + cmd[1], lambda: zk.get(cmd[1])[0].decode()))
        elif cmd[0] == "set":
            out(call("set " + cmd[1], lambda: zk.set(cmd[1], cmd[2].encode()) and "ok"))
        elif cmd[0] == "sync":
            out(call("sync " + cmd[1], lambda: zk.sync(cmd[1]) and "ok"))
        elif cmd[0] == "session":
            now = zk.client_id
            out("session", "same" if now == last_session else "new")
            last_session = now
        else:
            out("unknown command", cmd[0])
    zk.stop()
    zk.close()


if __name__ == "__main__":
    main()

package integration

// Differential scenarios on watches (one-shot, persistent, across a
// reconnect) and on the zxids in reply headers.

import (
	"fmt"
	"time"

	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

func scenarioWatchesOneShot(e env, tr *zkenv.Transcript) error {
	w, m, err := e.watcherAndMutator()
	if err != nil {
		return err
	}
	defer w.CloseSession()
	defer m.CloseSession()
	n, missing, kid := e.path("n"), e.path("missing"), e.path("kid")
	watch := func(label string, op int32, path string, resp proto.Record) func() error {
		return func() error {
			_, err := rcall(tr, w, label, op, &proto.PathWatchRequest{Path: path, Watch: true}, resp)
			return err
		}
	}
	return steps(
		func() error { return rawCreate(tr, m, e.root, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, n, "v0", proto.ModePersistent) },
		watch("watcher getData n", proto.OpGetData, n, &proto.GetDataResponse{}),
		watch("watcher exists missing", proto.OpExists, missing, &proto.StatResponse{}),
		watch("watcher getChildren root", proto.OpGetChildren, e.root, &proto.GetChildrenResponse{}),
		watch("watcher getData missing (no watch set on NoNode)", proto.OpGetData, kid, &proto.GetDataResponse{}),
		func() error { return rawSet(tr, m, n, "v1") },
		func() error { return barrier(tr, w, "after setData n") },
		func() error { return rawSet(tr, m, n, "v2") },
		func() error { return barrier(tr, w, "after a second setData n (watch was one-shot)") },
		func() error { return rawCreate(tr, m, missing, "", proto.ModePersistent) },
		func() error { return barrier(tr, w, "after create missing") },
		func() error { return rawCreate(tr, m, kid, "", proto.ModePersistent) },
		func() error { return barrier(tr, w, "after create kid") },
		// The watcher's own write: its notification precedes its reply.
		watch("watcher getData n again", proto.OpGetData, n, &proto.GetDataResponse{}),
		watch("watcher exists n", proto.OpExists, n, &proto.StatResponse{}),
		watch("watcher getChildren root again", proto.OpGetChildren, e.root, &proto.GetChildrenResponse{}),
		func() error { return rawSet(tr, w, n, "own") },
		func() error { return barrier(tr, w, "after own setData") },
		watch("watcher getData n for delete", proto.OpGetData, n, &proto.GetDataResponse{}),
		watch("watcher getChildren n", proto.OpGetChildren, n, &proto.GetChildrenResponse{}),
		func() error { return rawDelete(tr, m, n) },
		func() error { return barrier(tr, w, "after delete n") },
		// The same path watched twice by one session fires once.
		watch("watcher getData kid", proto.OpGetData, kid, &proto.GetDataResponse{}),
		watch("watcher exists kid", proto.OpExists, kid, &proto.StatResponse{}),
		func() error { return rawSet(tr, m, kid, "x") },
		func() error { return barrier(tr, w, "after setData kid watched twice") },
		func() error { return rawDelete(tr, m, kid) },
		func() error { return rawDelete(tr, m, missing) },
		func() error { return barrier(tr, w, "after deletes") },
	)
}

func scenarioWatchesPersistent(e env, tr *zkenv.Transcript) error {
	w, m, err := e.watcherAndMutator()
	if err != nil {
		return err
	}
	defer w.CloseSession()
	defer m.CloseSession()
	p, q := e.path("p"), e.path("q")
	addWatch := func(path string, mode int32) func() error {
		return func() error {
			_, err := rcall(tr, w, fmt.Sprintf("addWatch %s mode %d", path, mode), proto.OpAddWatch,
				&proto.AddWatchRequest{Path: path, Mode: mode}, nil)
			return err
		}
	}
	watches := func(label string, op int32, path string, typ int32) func() error {
		return func() error {
			_, err := rcall(tr, w, fmt.Sprintf("%s %s type %d", label, path, typ), op,
				&proto.WatchesRequest{Path: path, Type: typ}, nil)
			return err
		}
	}
	return steps(
		func() error { return rawCreate(tr, m, e.root, "", proto.ModePersistent) },
		addWatch(p, proto.AddWatchPersistent),
		addWatch(q, proto.AddWatchPersistentRecursive),
		func() error { return rawCreate(tr, m, p, "", proto.ModePersistent) },
		func() error { return rawSet(tr, m, p, "1") },
		func() error { return rawSet(tr, m, p, "2") },
		func() error { return rawCreate(tr, m, p+"/c", "", proto.ModePersistent) },
		func() error { return rawSet(tr, m, p+"/c", "x") },
		func() error { return rawDelete(tr, m, p+"/c") },
		func() error { return barrier(tr, w, "persistent watch on p") },
		func() error { return rawCreate(tr, m, q, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, q+"/a", "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, q+"/a/b", "", proto.ModePersistent) },
		func() error { return rawSet(tr, m, q+"/a/b", "x") },
		func() error { return rawDelete(tr, m, q+"/a/b") },
		func() error { return rawSet(tr, m, q, "y") },
		func() error { return barrier(tr, w, "persistent recursive watch on q") },
		watches("checkWatches", proto.OpCheckWatches, p, proto.WatcherAny),
		watches("checkWatches", proto.OpCheckWatches, e.path("none"), proto.WatcherAny),
		watches("checkWatches", proto.OpCheckWatches, p, proto.WatcherData),
		// One-shot watches to remove by type.
		func() error {
			_, err := rcall(tr, w, "getData q/a with watch", proto.OpGetData, &proto.PathWatchRequest{Path: q + "/a", Watch: true}, &proto.GetDataResponse{})
			return err
		},
		func() error {
			_, err := rcall(tr, w, "getChildren q/a with watch", proto.OpGetChildren, &proto.PathWatchRequest{Path: q + "/a", Watch: true}, &proto.GetChildrenResponse{})
			return err
		},
		watches("checkWatches", proto.OpCheckWatches, q+"/a", proto.WatcherChildren),
		watches("removeWatches", proto.OpRemoveWatches, q+"/a", proto.WatcherChildren),
		watches("removeWatches again", proto.OpRemoveWatches, q+"/a", proto.WatcherChildren),
		watches("checkWatches", proto.OpCheckWatches, q+"/a", proto.WatcherData),
		watches("removeWatches", proto.OpRemoveWatches, p, proto.WatcherAny),
		watches("removeWatches", proto.OpRemoveWatches, e.path("none"), proto.WatcherAny),
		func() error { return rawSet(tr, m, p, "3") },
		func() error { return rawCreate(tr, m, q+"/a/z", "", proto.ModePersistent) },
		func() error { return barrier(tr, w, "after removals (q/a data watch and q recursive remain)") },
	)
}

func scenarioWatchesReconnect(e env, tr *zkenv.Transcript) error {
	m, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer m.CloseSession()
	w, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	d, gone, born, cp, same := e.path("d"), e.path("gone"), e.path("born"), e.path("cp"), e.path("same")
	err = steps(
		func() error { return rawCreate(tr, m, e.root, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, d, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, gone, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, cp, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, same, "", proto.ModePersistent) },
	)
	if err != nil {
		return err
	}
	// Read through w so that its last seen zxid covers the setup.
	for _, p := range []string{d, gone, same} {
		if _, err := rcall(tr, w, "watcher getData "+p, proto.OpGetData, &proto.PathWatchRequest{Path: p, Watch: true}, &proto.GetDataResponse{}); err != nil {
			return err
		}
	}
	if _, err := rcall(tr, w, "watcher exists born", proto.OpExists, &proto.PathWatchRequest{Path: born, Watch: true}, &proto.StatResponse{}); err != nil {
		return err
	}
	if _, err := rcall(tr, w, "watcher getChildren cp", proto.OpGetChildren, &proto.PathWatchRequest{Path: cp, Watch: true}, &proto.GetChildrenResponse{}); err != nil {
		return err
	}
	sess, last := w.Session, w.LastZxid
	w.Close() // the TCP connection only; the session lives on
	err = steps(
		func() error { return rawSet(tr, m, d, "changed") },
		func() error { return rawDelete(tr, m, gone) },
		func() error { return rawCreate(tr, m, born, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, cp+"/kid", "", proto.ModePersistent) },
	)
	if err != nil {
		return err
	}
	w2, resp, err := zkenv.ResumeRaw(e.addr(), sess, last)
	if err != nil {
		return fmt.Errorf("reconnect: %w", err)
	}
	defer w2.Close()
	tr.Printf("reconnect: same session %v, timeout %d", resp.SessionID == sess.SessionID, resp.TimeOut)
	if _, err := rcallXid(tr, w2, "setWatches", proto.XidSetWatches, proto.OpSetWatches, &proto.SetWatchesRequest{
		RelativeZxid: last,
		DataWatches:  []string{d, gone, same},
		ExistWatches: []string{born},
		ChildWatches: []string{cp},
	}, nil); err != nil {
		return err
	}
	if err := barrier(tr, w2, "after setWatches"); err != nil {
		return err
	}
	// The unchanged node's watch was re-registered and still works.
	pp, rr := e.path("pp"), e.path("rr")
	err = steps(
		func() error { return rawSet(tr, m, same, "now") },
		func() error { return barrier(tr, w2, "after setData same") },
		// Second round: persistent watches travel in setWatches2 (105).
		func() error { return rawCreate(tr, m, rr, "", proto.ModePersistent) },
		func() error {
			_, err := rcall(tr, w2, "addWatch pp persistent", proto.OpAddWatch, &proto.AddWatchRequest{Path: pp, Mode: proto.AddWatchPersistent}, nil)
			return err
		},
		func() error {
			_, err := rcall(tr, w2, "addWatch rr recursive", proto.OpAddWatch, &proto.AddWatchRequest{Path: rr, Mode: proto.AddWatchPersistentRecursive}, nil)
			return err
		},
		func() error {
			_, err := rcall(tr, w2, "watcher getData same", proto.OpGetData, &proto.PathWatchRequest{Path: same, Watch: true}, &proto.GetDataResponse{})
			return err
		},
	)
	if err != nil {
		return err
	}
	last = w2.LastZxid
	w2.Close()
	err = steps(
		func() error { return rawCreate(tr, m, pp, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, rr+"/x", "", proto.ModePersistent) },
		func() error { return rawSet(tr, m, same, "again") },
	)
	if err != nil {
		return err
	}
	w3, resp, err := zkenv.ResumeRaw(e.addr(), sess, last)
	if err != nil {
		return fmt.Errorf("second reconnect: %w", err)
	}
	defer w3.CloseSession()
	tr.Printf("second reconnect: same session %v", resp.SessionID == sess.SessionID)
	if _, err := rcallXid(tr, w3, "setWatches2", proto.XidSetWatches, proto.OpSetWatches2, &proto.SetWatches2Request{
		// Empty, not nil: nil encodes as a null vector (-1), which Apache
		// answers with MarshallingError; clients send empty vectors.
		RelativeZxid:               last,
		DataWatches:                []string{same},
		ExistWatches:               []string{},
		ChildWatches:               []string{},
		PersistentWatches:          []string{pp},
		PersistentRecursiveWatches: []string{rr},
	}, nil); err != nil {
		return err
	}
	return steps(
		func() error { return barrier(tr, w3, "after setWatches2") },
		func() error { return rawSet(tr, m, pp, "p") },
		func() error { return rawCreate(tr, m, rr+"/x/y", "", proto.ModePersistent) },
		func() error { return rawSet(tr, m, same, "once more") },
		func() error {
			return barrier(tr, w3, "after changes (persistent watches survive, data watch was used)")
		},
	)
}

// scenarioReplyZxids checks the zxid in reply headers, which clients keep
// as lastZxidSeen for reconnects: a successful write's reply carries its
// own zxid, later replies never go back, and a read after a write is not
// behind it. Whether a failed write consumes a zxid (Apache: yes) is left
// out: the numbering may differ as long as it is monotonic.
func scenarioReplyZxids(e env, tr *zkenv.Transcript) error {
	r, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer r.CloseSession()
	var prev int64
	step := func(label string, op int32, req, resp proto.Record, own func() int64) func() error {
		return func() error {
			rep, err := r.Call(op, req, resp)
			if err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			z := rep.Header.Zxid
			rel := "equal to"
			switch {
			case z > prev:
				rel = "later than"
			case z < prev:
				rel = "EARLIER (went backwards) than"
			}
			line := fmt.Sprintf("%s -> %s, reply zxid %s the previous reply", label, rep.Header.Err, rel)
			if own != nil && rep.Header.Err == proto.ErrOK {
				line += fmt.Sprintf(", equal to its own zxid: %v", z == own())
			}
			// Failed writes may or may not consume a zxid: for them
			// only "not behind" is compared.
			if proto.IsWrite(op) && rep.Header.Err != proto.ErrOK && z >= prev {
				line = fmt.Sprintf("%s -> %s, reply zxid not behind the previous reply", label, rep.Header.Err)
			}
			tr.Printf("%s", line)
			prev = max(prev, z)
			return nil
		}
	}
	var c2 proto.Create2Response
	var st proto.StatResponse
	var gd proto.GetDataResponse
	var mr proto.MultiResponse
	a := e.path("a")
	return steps(
		step("create root", proto.OpCreate, &proto.CreateRequest{Path: e.root, ACL: proto.OpenACL}, &proto.PathResponse{}, nil),
		step("create2 a", proto.OpCreate2, &proto.CreateRequest{Path: a, ACL: proto.OpenACL}, &c2, func() int64 { return c2.Stat.Czxid }),
		step("getData a", proto.OpGetData, &proto.PathWatchRequest{Path: a}, &gd, nil),
		step("setData a", proto.OpSetData, &proto.SetDataRequest{Path: a, Data: []byte("x"), Version: -1}, &st, func() int64 { return st.Stat.Mzxid }),
		step("exists a", proto.OpExists, &proto.PathWatchRequest{Path: a}, &proto.StatResponse{}, nil),
		step("delete missing", proto.OpDelete, &proto.PathVersionRequest{Path: e.path("missing"), Version: -1}, nil, nil),
		step("setData a bad version", proto.OpSetData, &proto.SetDataRequest{Path: a, Data: []byte("y"), Version: 99}, &proto.StatResponse{}, nil),
		step("getData a", proto.OpGetData, &proto.PathWatchRequest{Path: a}, &gd, nil),
		step("multi setData a", proto.OpMulti, &proto.MultiRequest{Ops: []proto.MultiOp{
			{Type: proto.OpSetData, Op: &proto.SetDataRequest{Path: a, Data: []byte("z"), Version: -1}},
		}}, &mr, func() int64 {
			if len(mr.Results) == 1 {
				if b, ok := mr.Results[0].Body.(*proto.StatResponse); ok {
					return b.Stat.Mzxid
				}
			}
			return -1
		}),
		step("getChildren root", proto.OpGetChildren, &proto.PathWatchRequest{Path: e.root}, &proto.GetChildrenResponse{}, nil),
		step("delete a", proto.OpDelete, &proto.PathVersionRequest{Path: a, Version: -1}, nil, nil),
		step("exists a", proto.OpExists, &proto.PathWatchRequest{Path: a}, &proto.StatResponse{}, nil),
		func() error {
			rep, err := r.Ping()
			if err != nil {
				return err
			}
			tr.Printf("ping reply zxid behind the previous reply: %v", rep.Header.Zxid < prev)
			return nil
		},
	)
}

// watcherAndMutator opens two raw sessions, in this order: one that sets
// watches and one whose writes fire them.
func (e env) watcherAndMutator() (w, m *zkenv.RawConn, err error) {
	if w, err = zkenv.ConnectRaw(e.addr(), 10*time.Second); err != nil {
		return nil, nil, err
	}
	if m, err = zkenv.ConnectRaw(e.addr(), 10*time.Second); err != nil {
		w.CloseSession()
		return nil, nil, err
	}
	return w, m, nil
}

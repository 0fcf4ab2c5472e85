package watch

import (
	"sort"
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

type rec struct {
	name string
	got  []proto.WatcherEvent
}

func (r *rec) Notify(ev proto.WatcherEvent) { r.got = append(r.got, ev) }

func TestTriggerRules(t *testing.T) {
	type reg struct {
		k    Kind
		path string
	}
	cases := []struct {
		name  string
		regs  []reg
		typ   int32
		path  string
		fires int // notifications delivered
		left  int // watches still registered afterwards (a persistent or recursive watch counts twice, as in ZooKeeper's wchs: one in each manager)
	}{
		{"data watch fires on change and is gone", []reg{{Data, "/a"}}, proto.EventNodeDataChanged, "/a", 1, 0},
		{"data watch fires on create (exists watch)", []reg{{Data, "/a"}}, proto.EventNodeCreated, "/a", 1, 0},
		{"child watch ignores data change", []reg{{Child, "/a"}}, proto.EventNodeDataChanged, "/a", 0, 1},
		{"child watch fires on children change", []reg{{Child, "/a"}}, proto.EventNodeChildrenChanged, "/a", 1, 0},
		{"delete fires data and child once per watcher", []reg{{Data, "/a"}, {Child, "/a"}}, proto.EventNodeDeleted, "/a", 1, 0},
		{"persistent stays", []reg{{Persistent, "/a"}}, proto.EventNodeDataChanged, "/a", 1, 2},
		{"persistent sees children change", []reg{{Persistent, "/a"}}, proto.EventNodeChildrenChanged, "/a", 1, 2},
		{"recursive sees descendant change", []reg{{Recursive, "/a"}}, proto.EventNodeDataChanged, "/a/b/c", 1, 2},
		{"recursive ignores children change", []reg{{Recursive, "/a"}}, proto.EventNodeChildrenChanged, "/a", 0, 2},
		{"recursive on root sees everything", []reg{{Recursive, "/"}}, proto.EventNodeCreated, "/x/y", 1, 2},
		{"recursive sees descendant delete", []reg{{Recursive, "/a"}}, proto.EventNodeDeleted, "/a/b", 1, 2},
		{"other path untouched", []reg{{Data, "/b"}}, proto.EventNodeDataChanged, "/a", 0, 1},
		{"prefix is not an ancestor", []reg{{Recursive, "/a"}}, proto.EventNodeDataChanged, "/ab", 0, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := New()
			w := &rec{}
			for _, g := range c.regs {
				r.Add(g.k, g.path, w)
			}
			r.Trigger(c.typ, c.path)
			if len(w.got) != c.fires {
				t.Fatalf("%d notifications, want %d: %+v", len(w.got), c.fires, w.got)
			}
			for _, ev := range w.got {
				if ev.Type != c.typ || ev.Path != c.path || ev.State != proto.StateSyncConnected {
					t.Fatalf("notification %+v", ev)
				}
			}
			if st := r.Stats(); st.Total != c.left {
				t.Fatalf("%d watches left, want %d", st.Total, c.left)
			}
		})
	}
}

func TestRemoveCheckAndRemoveWatcher(t *testing.T) {
	r := New()
	a, b := &rec{name: "a"}, &rec{name: "b"}
	r.Add(Data, "/x", a)
	r.Add(Child, "/x", a)
	r.Add(Persistent, "/p", a)
	r.Add(Data, "/x", b)
	if !r.Check(Kinds(proto.WatcherData), "/x", a) || !r.Check(Kinds(proto.WatcherData), "/p", a) {
		t.Fatal("checkWatches(Data) misses a data or persistent watch")
	}
	if r.Check(Kinds(proto.WatcherChildren), "/x", b) {
		t.Fatal("b has no child watch")
	}
	if !r.Remove(Kinds(proto.WatcherChildren), "/x", a) || r.Has(Child, "/x", a) || !r.Has(Data, "/x", a) {
		t.Fatal("removing a's child watch removed the wrong thing")
	}
	// Removing the children half of a persistent watch leaves its data
	// half, which still fires on data changes only (ZooKeeper 3.8.0).
	if !r.Remove(Kinds(proto.WatcherChildren), "/p", a) || !r.Check(Kinds(proto.WatcherData), "/p", a) || r.Check(Kinds(proto.WatcherChildren), "/p", a) {
		t.Fatal("removing the children half of a persistent watch removed the wrong thing")
	}
	r.Trigger(proto.EventNodeChildrenChanged, "/p")
	if len(a.got) != 0 {
		t.Fatalf("the data half fired on a children change: %+v", a.got)
	}
	r.Trigger(proto.EventNodeDataChanged, "/p")
	if len(a.got) != 1 || !r.Remove(Kinds(proto.WatcherAny), "/p", a) || r.Check(Kinds(proto.WatcherAny), "/p", a) {
		t.Fatalf("the data half: %+v", a.got)
	}
	a.got = nil
	if r.Remove(Kinds(proto.WatcherChildren), "/x", a) {
		t.Fatal("second remove reported a watch")
	}
	r.RemoveWatcher(a)
	for path, ws := range r.ByPath() {
		for _, w := range ws {
			if w == a {
				t.Fatalf("a still watches %s", path)
			}
		}
	}
	r.Trigger(proto.EventNodeDataChanged, "/x")
	if len(a.got) != 0 || len(b.got) != 1 {
		t.Fatalf("after RemoveWatcher(a): a got %d, b got %d", len(a.got), len(b.got))
	}
	byPath := r.ByPath()
	keys := make([]string, 0, len(byPath))
	for k := range byPath {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != 0 {
		t.Fatalf("watches left: %v", keys)
	}
}

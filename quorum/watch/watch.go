// Package watch is a member's registry of client watches: one-shot data,
// exist and child watches, and persistent and persistent-recursive ones.
// Watches are local to the member a client is connected to and are never
// replicated; the registry only learns of changes through Trigger, which
// the server calls while it applies a committed transaction. It must never
// read the data tree itself.
package watch

import (
	"strings"
	"sync"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// Watcher receives notifications: in practice a client session's
// connection. Notify must not block.
type Watcher interface {
	Notify(ev proto.WatcherEvent)
}

// Kind is the kind of a registered watch.
type Kind int

const (
	// Data is a getData watch, or an exists watch (ZooKeeper keeps both in
	// one table: they fire on create, change and delete of the node).
	Data Kind = iota
	// Child is a getChildren watch.
	Child
	// Persistent fires on every change of the node and its child list
	// and stays registered.
	Persistent
	// Recursive fires on every create, change and delete of the node or a
	// descendant (not on child-list changes) and stays registered.
	Recursive

	// ZooKeeper 3.8.0 registers a persistent or recursive watch with both
	// its data and its child watch managers, and removeWatches removes
	// one half or the other: after removing the children half of a
	// persistent watch the data half still fires and is still there to
	// remove. Add registers Persistent and Recursive with these halves.

	// persistentChild is the child half of Persistent: it fires on
	// child-list changes and on deletion of the node.
	persistentChild
	// recursiveChild is the child half of Recursive: it fires on deletion
	// of the node or a descendant.
	recursiveChild
	numKinds
)

// halves are the kinds Add registers for k.
func halves(k Kind) []Kind {
	switch k {
	case Persistent:
		return []Kind{Persistent, persistentChild}
	case Recursive:
		return []Kind{Recursive, recursiveChild}
	}
	return []Kind{k}
}

type set map[Watcher]struct{}

// Registry holds every watch of one member. It is safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	tables  [numKinds]map[string]set
	byOwner map[Watcher]*ownerWatches
	// recursiveN counts recursive watches so Trigger can skip the walk up
	// the ancestors when there are none.
	recursiveN int
}

type ownerWatches struct {
	paths [numKinds]map[string]struct{}
}

func New() *Registry {
	r := &Registry{byOwner: map[Watcher]*ownerWatches{}}
	for k := range r.tables {
		r.tables[k] = map[string]set{}
	}
	return r
}

// Add registers a watch. Adding the same watch twice is one watch.
func (r *Registry) Add(k Kind, path string, w Watcher) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range halves(k) {
		r.addLocked(h, path, w)
	}
}

func (r *Registry) addLocked(k Kind, path string, w Watcher) {
	s := r.tables[k][path]
	if s == nil {
		s = set{}
		r.tables[k][path] = s
	}
	if _, ok := s[w]; ok {
		return
	}
	s[w] = struct{}{}
	o := r.byOwner[w]
	if o == nil {
		o = &ownerWatches{}
		r.byOwner[w] = o
	}
	if o.paths[k] == nil {
		o.paths[k] = map[string]struct{}{}
	}
	o.paths[k][path] = struct{}{}
	if k == Recursive || k == recursiveChild {
		r.recursiveN++
	}
}

func (r *Registry) removeLocked(k Kind, path string, w Watcher) bool {
	s := r.tables[k][path]
	if _, ok := s[w]; !ok {
		return false
	}
	delete(s, w)
	if len(s) == 0 {
		delete(r.tables[k], path)
	}
	if o := r.byOwner[w]; o != nil {
		delete(o.paths[k], path)
	}
	if k == Recursive || k == recursiveChild {
		r.recursiveN--
	}
	return true
}

// Trigger delivers the notifications for one change and removes the one-shot
// watches it fires. Each watcher gets at most one notification per call.
// Event types are proto.EventNodeCreated, EventNodeDeleted,
// EventNodeDataChanged (on the node's path) and EventNodeChildrenChanged
// (on the parent's path).
func (r *Registry) Trigger(typ int32, path string) {
	r.mu.Lock()
	fired := map[Watcher]struct{}{}
	take := func(k Kind, oneShot bool) {
		s := r.tables[k][path]
		for w := range s {
			fired[w] = struct{}{}
			if oneShot {
				r.removeLocked(k, path, w)
			}
		}
	}
	switch typ {
	case proto.EventNodeCreated, proto.EventNodeDataChanged:
		take(Data, true)
		take(Persistent, false)
	case proto.EventNodeDeleted:
		take(Data, true)
		take(Child, true)
		take(Persistent, false)
		take(persistentChild, false)
	case proto.EventNodeChildrenChanged:
		take(Child, true)
		take(persistentChild, false)
	}
	if r.recursiveN > 0 && typ != proto.EventNodeChildrenChanged {
		for p := path; ; p = parent(p) {
			for w := range r.tables[Recursive][p] {
				fired[w] = struct{}{}
			}
			if typ == proto.EventNodeDeleted {
				for w := range r.tables[recursiveChild][p] {
					fired[w] = struct{}{}
				}
			}
			if p == "/" {
				break
			}
		}
	}
	r.mu.Unlock()
	ev := proto.WatcherEvent{Type: typ, State: proto.StateSyncConnected, Path: path}
	for w := range fired {
		w.Notify(ev)
	}
}

func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// Has reports whether w holds a watch of kind k on path.
func (r *Registry) Has(k Kind, path string, w Watcher) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.tables[k][path][w]
	return ok
}

// Kinds maps ZooKeeper's WatcherType (removeWatches/checkWatches) to kinds:
// Children 1, Data 2, Any 3; nil for any other (3.8.0 refuses Persistent 4
// and PersistentRecursive 5 there as it refuses unknown types).
func Kinds(watcherType int32) []Kind {
	switch watcherType {
	case proto.WatcherChildren:
		return []Kind{Child, persistentChild, recursiveChild}
	case proto.WatcherData:
		return []Kind{Data, Persistent, Recursive}
	case proto.WatcherAny:
		return []Kind{Data, Child, Persistent, Recursive, persistentChild, recursiveChild}
	}
	return nil
}

// Remove removes w's watches of the given kinds on path and reports whether
// there was any.
func (r *Registry) Remove(kinds []Kind, path string, w Watcher) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	any := false
	for _, k := range kinds {
		if r.removeLocked(k, path, w) {
			any = true
		}
	}
	return any
}

// Check reports whether w has any watch of the given kinds on path.
func (r *Registry) Check(kinds []Kind, path string, w Watcher) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range kinds {
		if _, ok := r.tables[k][path][w]; ok {
			return true
		}
	}
	return false
}

// RemoveWatcher drops every watch of w, for a closed session.
func (r *Registry) RemoveWatcher(w Watcher) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.byOwner[w]
	if o == nil {
		return
	}
	for k := range o.paths {
		for p := range o.paths[k] {
			r.removeLocked(Kind(k), p, w)
		}
	}
	delete(r.byOwner, w)
}

// Stats summarises the registry for wchs and mntr.
type Stats struct {
	Watchers int // distinct watchers holding at least one watch
	Paths    int // distinct watched paths
	Total    int // watches
}

func (r *Registry) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	paths := map[string]struct{}{}
	total := 0
	for k := range r.tables {
		for p, s := range r.tables[k] {
			paths[p] = struct{}{}
			total += len(s)
		}
	}
	watchers := 0
	for _, o := range r.byOwner {
		for k := range o.paths {
			if len(o.paths[k]) > 0 {
				watchers++
				break
			}
		}
	}
	return Stats{Watchers: watchers, Paths: len(paths), Total: total}
}

// ByPath lists, for each watched path, the watchers on it (wchp).
func (r *Registry) ByPath() map[string][]Watcher {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]Watcher{}
	seen := map[string]map[Watcher]bool{}
	for k := range r.tables {
		for p, s := range r.tables[k] {
			for w := range s {
				if seen[p] == nil {
					seen[p] = map[Watcher]bool{}
				}
				if !seen[p][w] {
					seen[p][w] = true
					out[p] = append(out[p], w)
				}
			}
		}
	}
	return out
}

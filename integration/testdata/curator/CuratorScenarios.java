// Curator 5's recipes as a ZooKeeper user runs them, for the differential
// suite: each scenario prints what the clients observed, one line each,
// with nothing that legitimately differs between two servers (no zxids,
// times, session ids; sequential names relative to their parent), so two
// servers' transcripts must be equal. Events are collected in queues and
// printed at fixed points, so the order printed is the order the recipe
// defines. Every wait is bounded.
//
// usage: java CuratorScenarios CONNECT_STRING ROOT

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.barriers.DistributedBarrier;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.NodeCache;
import org.apache.curator.framework.recipes.cache.TreeCache;
import org.apache.curator.framework.recipes.cache.TreeCacheEvent;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

public class CuratorScenarios {
    static String connect;
    static String root;
    static final long WAIT = 20;

    static void out(String s) {
        System.out.println(s);
        System.out.flush();
    }

    static String str(byte[] b) {
        return b == null ? "null" : "'" + new String(b, StandardCharsets.UTF_8) + "'";
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static CuratorFramework client() throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder().connectString(connect)
            .sessionTimeoutMs(10000).connectionTimeoutMs(10000).retryPolicy(new RetryNTimes(20, 200)).build();
        c.start();
        if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not connected within 30s");
        }
        return c;
    }

    /** take waits for the next observation of a queue, or says it timed out. */
    static String take(BlockingQueue<String> q) throws InterruptedException {
        String s = q.poll(WAIT, TimeUnit.SECONDS);
        return s == null ? "timeout" : s;
    }

    /** drainSorted takes n observations and prints them sorted: for
        events whose relative order the recipe does not define. */
    static void drainSorted(String prefix, BlockingQueue<String> q, int n) throws InterruptedException {
        List<String> got = new ArrayList<>();
        for (int i = 0; i < n; i++) got.add(take(q));
        Collections.sort(got);
        for (String s : got) out(prefix + s);
    }

    /** rel strips a path down to what follows the scenario root; a
        sequential suffix stays (both servers number from the same start). */
    static String rel(String p) {
        return p == null ? "null" : p.startsWith(root) ? "R" + p.substring(root.length()) : p;
    }

    public static void main(String[] args) throws Exception {
        connect = args[0];
        root = args[1];
        String only = args.length > 2 ? args[2] : "";
        String[] names = {"get_root", "transactions", "curator_cache", "tree_cache", "node_cache", "mutex",
            "semaphore", "leader_latch", "leader_selector", "queue", "shared_count", "barrier",
            "persistent_node", "expiry"};
        try (CuratorFramework c = client()) {
            c.create().creatingParentsIfNeeded().forPath(root);
        }
        for (String n : names) {
            if (!only.isEmpty() && !only.equals(n)) continue;
            out("== " + n);
            try {
                CuratorScenarios.class.getDeclaredMethod(n).invoke(null);
            } catch (java.lang.reflect.InvocationTargetException e) {
                out("scenario failed: " + e.getCause());
            }
        }
        out("== end");
        System.exit(0);
    }

    /** get on the system nodes: empty data, which Curator shows as ''. */
    static void get_root() throws Exception {
        try (CuratorFramework c = client()) {
            for (String p : new String[] {"/", "/zookeeper", "/zookeeper/quota"}) {
                Stat st = new Stat();
                byte[] d = c.getData().storingStatIn(st).forPath(p);
                out("get " + p + " data=" + str(d) + " dataLength=" + st.getDataLength());
            }
        }
    }

    /** A transaction whose third op fails: nothing applies, every result says why. */
    static void transactions() throws Exception {
        try (CuratorFramework c = client()) {
            String p = root + "/tx";
            c.create().forPath(p, bytes("0"));
            CuratorOp a = c.transactionOp().create().forPath(p + "/a", bytes("a"));
            CuratorOp b = c.transactionOp().setData().forPath(p, bytes("1"));
            CuratorOp bad = c.transactionOp().delete().forPath(p + "/missing");
            try {
                c.transaction().forOperations(a, b, bad);
                out("failing transaction committed");
            } catch (KeeperException e) {
                out("failing transaction: " + e.code() + " path=" + rel(e.getPath()));
                List<org.apache.zookeeper.OpResult> rs = e.getResults();
                for (org.apache.zookeeper.OpResult r : rs) {
                    out("  result " + r.getClass().getSimpleName() + (r instanceof org.apache.zookeeper.OpResult.ErrorResult
                        ? " err=" + ((org.apache.zookeeper.OpResult.ErrorResult) r).getErr() : ""));
                }
            }
            out("after: a exists=" + (c.checkExists().forPath(p + "/a") != null) + " data=" + str(c.getData().forPath(p)));
            CuratorOp check = c.transactionOp().check().withVersion(0).forPath(p);
            CuratorOp a2 = c.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(p + "/s-", bytes("s"));
            CuratorOp set = c.transactionOp().setData().forPath(p, bytes("2"));
            for (CuratorTransactionResult r : c.transaction().forOperations(check, a2, set)) {
                out("  ok " + r.getType() + " " + rel(r.getForPath()) + " -> " + rel(r.getResultPath()) + " err=" + r.getError());
            }
        }
    }

    /** CuratorCache rides on one persistent recursive watch (addWatch). */
    static void curator_cache() throws Exception {
        try (CuratorFramework c = client(); CuratorFramework w = client()) {
            String p = root + "/cc";
            c.create().forPath(p, bytes("top"));
            BlockingQueue<String> ev = new LinkedBlockingQueue<>();
            CountDownLatch init = new CountDownLatch(1);
            CuratorCache cache = CuratorCache.build(c, p);
            cache.listenable().addListener((type, oldData, data) -> ev.add(type + " " + rel(data != null ? data.getPath() : oldData.getPath())
                + " data=" + (data != null ? str(data.getData()) : str(oldData.getData()))));
            cache.listenable().addListener(org.apache.curator.framework.recipes.cache.CuratorCacheListener.builder()
                .forInitialized(init::countDown).build());
            cache.start();
            out("initialized=" + init.await(WAIT, TimeUnit.SECONDS));
            out(take(ev));
            w.create().forPath(p + "/a", bytes("a"));
            out(take(ev));
            w.setData().forPath(p + "/a", bytes("b"));
            out(take(ev));
            w.create().forPath(p + "/a/deep", bytes("d"));
            out(take(ev));
            w.delete().forPath(p + "/a/deep");
            out(take(ev));
            w.delete().forPath(p + "/a");
            out(take(ev));
            out("cache size=" + cache.size());
            cache.close();
        }
    }

    static void tree_cache() throws Exception {
        try (CuratorFramework c = client(); CuratorFramework w = client()) {
            String p = root + "/tc";
            c.create().forPath(p, bytes("t"));
            c.create().forPath(p + "/x", bytes("x"));
            BlockingQueue<String> ev = new LinkedBlockingQueue<>();
            TreeCache cache = TreeCache.newBuilder(c, p).build();
            cache.getListenable().addListener((cl, e) -> {
                if (e.getType() == TreeCacheEvent.Type.CONNECTION_RECONNECTED || e.getType() == TreeCacheEvent.Type.CONNECTION_SUSPENDED) return;
                ev.add(e.getType() + (e.getData() != null ? " " + rel(e.getData().getPath()) + " data=" + str(e.getData().getData()) : ""));
            });
            cache.start();
            // The initial NODE_ADDED events of a parent and its children
            // come in the order the cache's background reads complete.
            drainSorted("", ev, 2);
            out(take(ev));
            w.create().forPath(p + "/y", bytes("y"));
            out(take(ev));
            w.setData().forPath(p + "/x", bytes("x2"));
            out(take(ev));
            w.delete().forPath(p + "/y");
            out(take(ev));
            cache.close();
        }
    }

    static void node_cache() throws Exception {
        try (CuratorFramework c = client(); CuratorFramework w = client()) {
            String p = root + "/nc";
            BlockingQueue<String> ev = new LinkedBlockingQueue<>();
            NodeCache cache = new NodeCache(c, p);
            cache.getListenable().addListener(() -> {
                ChildData d = cache.getCurrentData();
                ev.add(d == null ? "gone" : "data=" + str(d.getData()) + " version=" + d.getStat().getVersion());
            });
            cache.start(true);
            out("initial=" + (cache.getCurrentData() == null ? "none" : str(cache.getCurrentData().getData())));
            w.create().forPath(p, bytes("1"));
            out(take(ev));
            w.setData().forPath(p, bytes("2"));
            out(take(ev));
            w.delete().forPath(p);
            out(take(ev));
            cache.close();
        }
    }

    static void mutex() throws Exception {
        try (CuratorFramework a = client(); CuratorFramework b = client()) {
            String p = root + "/mutex";
            InterProcessMutex ma = new InterProcessMutex(a, p), mb = new InterProcessMutex(b, p);
            out("a acquires: " + ma.acquire(WAIT, TimeUnit.SECONDS));
            out("b tries for 300ms: " + mb.acquire(300, TimeUnit.MILLISECONDS));
            BlockingQueue<String> got = new LinkedBlockingQueue<>();
            CountDownLatch releaseB = new CountDownLatch(1);
            // A mutex belongs to the thread that acquired it.
            Thread t = new Thread(() -> {
                try {
                    got.add("b acquires after a releases: " + mb.acquire(WAIT, TimeUnit.SECONDS));
                    releaseB.await(WAIT, TimeUnit.SECONDS);
                    mb.release();
                    got.add("b released");
                } catch (Exception e) {
                    got.add("b: " + e);
                }
            });
            t.start();
            waitForChildren(a, p, 2);
            out("waiters queued: 2");
            ma.release();
            out(take(got));
            out("a tries for 300ms: " + ma.acquire(300, TimeUnit.MILLISECONDS));
            releaseB.countDown();
            out(take(got));
            // The lock's parent is a container: the server may have
            // reaped it by now. Counted through b, whose member has applied
            // b's delete (a's might not have yet: see expiry).
            out("lock nodes left: " + childCount(b, p));
        }
    }

    static void semaphore() throws Exception {
        try (CuratorFramework a = client(); CuratorFramework b = client()) {
            String p = root + "/sem";
            InterProcessSemaphoreV2 sa = new InterProcessSemaphoreV2(a, p, 2), sb = new InterProcessSemaphoreV2(b, p, 2);
            Lease l1 = sa.acquire(WAIT, TimeUnit.SECONDS);
            Lease l2 = sa.acquire(WAIT, TimeUnit.SECONDS);
            out("a holds 2 leases: " + (l1 != null && l2 != null));
            out("b tries for 300ms: " + (sb.acquire(300, TimeUnit.MILLISECONDS) != null));
            sa.returnLease(l1);
            Lease l3 = sb.acquire(WAIT, TimeUnit.SECONDS);
            out("b gets the returned lease: " + (l3 != null));
            out("participants: " + sb.getParticipantNodes().size());
            sb.returnLease(l3);
            sa.returnLease(l2);
        }
    }

    static void leader_latch() throws Exception {
        CuratorFramework a = client(), b = client();
        try {
            String p = root + "/latch";
            LeaderLatch la = new LeaderLatch(a, p, "a"), lb = new LeaderLatch(b, p, "b");
            la.start();
            out("a leads: " + la.await(WAIT, TimeUnit.SECONDS));
            lb.start();
            waitForChildren(a, p, 2);
            out("b leads: " + lb.hasLeadership() + ", leader id: " + lb.getLeader().getId());
            la.close();
            out("after a closes, b leads: " + lb.await(WAIT, TimeUnit.SECONDS) + ", leader id: " + lb.getLeader().getId());
            lb.close();
        } finally {
            a.close();
            b.close();
        }
    }

    static void leader_selector() throws Exception {
        try (CuratorFramework a = client(); CuratorFramework b = client()) {
            String p = root + "/selector";
            BlockingQueue<String> ev = new LinkedBlockingQueue<>();
            CountDownLatch releaseA = new CountDownLatch(1);
            LeaderSelector sa = new LeaderSelector(a, p, new LeaderSelectorListenerAdapter() {
                public void takeLeadership(CuratorFramework cf) throws Exception {
                    ev.add("a takes leadership");
                    releaseA.await(WAIT, TimeUnit.SECONDS);
                    ev.add("a gives up leadership");
                }
            });
            sa.start();
            out(take(ev));
            LeaderSelector sb = new LeaderSelector(b, p, new LeaderSelectorListenerAdapter() {
                public void takeLeadership(CuratorFramework cf) {
                    ev.add("b takes leadership");
                }
            });
            sb.start();
            waitForChildren(a, p, 2);
            releaseA.countDown();
            out(take(ev));
            out(take(ev));
            sa.close();
            sb.close();
        }
    }

    static void queue() throws Exception {
        try (CuratorFramework a = client(); CuratorFramework b = client()) {
            String p = root + "/queue";
            BlockingQueue<String> got = new LinkedBlockingQueue<>();
            QueueSerializer<String> ser = new QueueSerializer<String>() {
                public byte[] serialize(String s) { return bytes(s); }
                public String deserialize(byte[] d) { return new String(d, StandardCharsets.UTF_8); }
            };
            QueueConsumer<String> consumer = new QueueConsumer<String>() {
                public void consumeMessage(String m) { got.add("consumed " + m); }
                public void stateChanged(CuratorFramework cf, ConnectionState s) {}
            };
            DistributedQueue<String> producer = QueueBuilder.builder(a, null, ser, p).buildQueue();
            producer.start();
            for (int i = 1; i <= 3; i++) producer.put("m" + i);
            DistributedQueue<String> cq = QueueBuilder.builder(b, consumer, ser, p).buildQueue();
            cq.start();
            for (int i = 0; i < 3; i++) out(take(got));
            cq.close();
            producer.close();
        }
    }

    static void shared_count() throws Exception {
        try (CuratorFramework a = client(); CuratorFramework b = client()) {
            String p = root + "/count";
            SharedCount ca = new SharedCount(a, p, 0), cb = new SharedCount(b, p, 0);
            ca.start();
            cb.start();
            BlockingQueue<String> ev = new LinkedBlockingQueue<>();
            cb.addListener(new org.apache.curator.framework.recipes.shared.SharedCountListener() {
                public void countHasChanged(org.apache.curator.framework.recipes.shared.SharedCountReader r, int n) { ev.add("b sees " + n); }
                public void stateChanged(CuratorFramework cf, ConnectionState s) {}
            });
            org.apache.curator.framework.recipes.shared.VersionedValue<Integer> stale = cb.getVersionedValue();
            out("a sets 5 from version 0: " + ca.trySetCount(ca.getVersionedValue(), 5));
            out(take(ev));
            out("b sets 6 from a stale version: " + cb.trySetCount(stale, 6));
            DistributedAtomicLong al = new DistributedAtomicLong(a, root + "/atomic", new RetryNTimes(10, 10));
            AtomicValue<Long> v = al.increment();
            out("atomic increment: succeeded=" + v.succeeded() + " " + v.preValue() + " -> " + v.postValue());
            ca.close();
            cb.close();
        }
    }

    static void barrier() throws Exception {
        try (CuratorFramework a = client(); CuratorFramework b = client()) {
            String p = root + "/barrier";
            DistributedBarrier ba = new DistributedBarrier(a, p), bb = new DistributedBarrier(b, p);
            ba.setBarrier();
            // b's member may not have applied a's create yet (see expiry).
            for (int i = 0; i < 400 && b.checkExists().forPath(p) == null; i++) Thread.sleep(25);
            out("b waits 300ms at the set barrier: " + bb.waitOnBarrier(300, TimeUnit.MILLISECONDS));
            BlockingQueue<String> got = new LinkedBlockingQueue<>();
            Thread t = new Thread(() -> {
                try {
                    got.add("b passes after removal: " + bb.waitOnBarrier(WAIT, TimeUnit.SECONDS));
                } catch (Exception e) {
                    got.add("b: " + e);
                }
            });
            t.start();
            Thread.sleep(200);
            ba.removeBarrier();
            out(take(got));
        }
    }

    /** A protected ephemeral sequential node: created once, kept, and
        deleted when the node is closed; a watcher sees exactly that. */
    static void persistent_node() throws Exception {
        try (CuratorFramework a = client(); CuratorFramework w = client()) {
            String p = root + "/pn";
            w.create().forPath(p);
            BlockingQueue<String> ev = new LinkedBlockingQueue<>();
            CuratorCache cache = CuratorCache.build(w, p);
            cache.listenable().addListener((type, oldData, data) -> {
                String path = data != null ? data.getPath() : oldData.getPath();
                if (!path.equals(p)) ev.add(type + " child");
            });
            cache.start();
            PersistentNode n = new PersistentNode(a, CreateMode.EPHEMERAL_SEQUENTIAL, true, p + "/member-", bytes("me"));
            n.start();
            out("created: " + n.waitForInitialCreate(WAIT, TimeUnit.SECONDS));
            out(take(ev));
            String name = n.getActualPath().substring(p.length() + 1);
            out("protected name: " + name.startsWith("_c_") + " ends with member-: " + name.matches("_c_[0-9a-f-]{36}-member-[0-9]{10}"));
            n.setData(bytes("changed"));
            out(take(ev));
            n.close();
            out(take(ev));
            String extra = ev.poll(500, TimeUnit.MILLISECONDS);
            out("further events: " + (extra == null ? "none" : extra));
            cache.close();
        }
    }

    /** The session of a is expired (closed through a second handle with
        its id and password, as ZooKeeper's own tests do): b sees a's
        ephemeral go, a sees its state go LOST and come back. */
    static void expiry() throws Exception {
        try (CuratorFramework a = client(); CuratorFramework b = client()) {
            String p = root + "/expiry";
            b.create().forPath(p);
            a.create().withMode(CreateMode.EPHEMERAL).forPath(p + "/eph");
            BlockingQueue<String> states = new LinkedBlockingQueue<>();
            a.getConnectionStateListenable().addListener((cf, s) -> states.add("a state " + s));
            // b may be connected to another member that has not yet applied
            // a's create (ZooKeeper orders each client's view, not one
            // client against another): wait until b sees the ephemeral, or
            // its watch would be an exists watch that fires NodeCreated.
            for (int i = 0; i < 400 && b.checkExists().forPath(p + "/eph") == null; i++) Thread.sleep(25);
            BlockingQueue<String> seen = new LinkedBlockingQueue<>();
            b.checkExists().usingWatcher((Watcher) e -> seen.add("b sees " + e.getType() + " " + rel(e.getPath()))).forPath(p + "/eph");
            ZooKeeper za = a.getZookeeperClient().getZooKeeper();
            CountDownLatch connected = new CountDownLatch(1);
            ZooKeeper killer = new ZooKeeper(connect, 10000, e -> {
                if (e.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
            }, za.getSessionId(), za.getSessionPasswd());
            out("second handle connected: " + connected.await(WAIT, TimeUnit.SECONDS));
            killer.close();
            out(take(seen));
            // a's own view: the connection drops (SUSPENDED), the session is
            // LOST, a new one RECONNECTED. The drop is reported first.
            List<String> st = new ArrayList<>();
            for (int i = 0; i < 3; i++) st.add(take(states));
            out(String.join(", ", st));
            out("a's ephemeral after: " + (b.checkExists().forPath(p + "/eph") != null));
        }
    }

    static int childCount(CuratorFramework c, String p) throws Exception {
        try {
            return c.getChildren().forPath(p).size();
        } catch (KeeperException.NoNodeException e) {
            return 0;
        }
    }

    static void waitForChildren(CuratorFramework c, String p, int n) throws Exception {
        for (int i = 0; i < 400; i++) {
            if (c.getChildren().forPath(p).size() >= n) return;
            Thread.sleep(50);
        }
        out("timeout waiting for " + n + " children of " + rel(p));
    }
}

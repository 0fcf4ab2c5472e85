/*
 * A scripted session through ZooKeeper's C client (libzookeeper_mt), for
 * the differential suite: it prints one line per observation, with
 * nothing that legitimately differs between two servers (no zxids, times
 * or session ids), so two servers' transcripts must be equal.
 *
 * usage: session HOST:PORT ROOT
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define THREADED /* the synchronous API of libzookeeper_mt */
#include <zookeeper/zookeeper.h>

static const char *root;

/* rel writes path with the scenario's root shown as R, so that transcripts
   do not depend on it. */
static const char *rel(const char *path) {
    static char buf[4][512];
    static int k;
    size_t n = strlen(root);
    k = (k + 1) % 4;
    if (strncmp(path, root, n) == 0)
        snprintf(buf[k], sizeof buf[k], "R%s", path + n);
    else
        snprintf(buf[k], sizeof buf[k], "%s", path);
    return buf[k];
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int connected;
static char events[64][256];
static int nevents;

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    (void)zh;
    (void)ctx;
    pthread_mutex_lock(&mu);
    if (type == ZOO_SESSION_EVENT) {
        if (state == ZOO_CONNECTED_STATE) connected = 1;
    } else if (nevents < 64) {
        snprintf(events[nevents++], 256, "event type=%d state=%d path=%s", type, state, rel(path));
    }
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* waitfor waits up to 10s for *flag to reach n; it reports whether it did. */
static int waitfor(int *flag, int n) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&mu);
    while (*flag < n) {
        if (pthread_cond_timedwait(&cv, &mu, &deadline) == ETIMEDOUT) break;
    }
    int ok = *flag >= n;
    pthread_mutex_unlock(&mu);
    return ok;
}

/* expect waits for the n-th notification and prints it. */
static void expect(int n) {
    if (!waitfor(&nevents, n)) {
        printf("no event %d within 10s\n", n);
        return;
    }
    pthread_mutex_lock(&mu);
    printf("%s\n", events[n - 1]);
    pthread_mutex_unlock(&mu);
}

static zhandle_t *connect_to(const char *hosts) {
    pthread_mutex_lock(&mu);
    connected = 0;
    pthread_mutex_unlock(&mu);
    zhandle_t *zh = zookeeper_init(hosts, watcher, 10000, 0, 0, 0);
    if (!zh || !waitfor(&connected, 1)) {
        printf("connect failed\n");
        exit(1);
    }
    return zh;
}

static void get(zhandle_t *zh, const char *path, int watch) {
    char buf[512];
    int len = sizeof buf;
    struct Stat st;
    int rc = zoo_get(zh, path, watch, buf, &len, &st);
    if (rc != ZOK) {
        printf("get %s: rc=%d\n", rel(path), rc);
        return;
    }
    if (len < 0)
        printf("get %s: rc=0 data=null version=%d dataLength=%d numChildren=%d\n", rel(path), st.version, st.dataLength, st.numChildren);
    else
        printf("get %s: rc=0 data='%.*s' version=%d dataLength=%d numChildren=%d\n", rel(path), len, buf, st.version, st.dataLength, st.numChildren);
}

static void create(zhandle_t *zh, const char *path, const char *value, int len, int flags) {
    char out[512];
    int rc = zoo_create(zh, path, value, len, &ZOO_OPEN_ACL_UNSAFE, flags, out, sizeof out);
    if (rc != ZOK) {
        printf("create %s flags=%d: rc=%d\n", rel(path), flags, rc);
        return;
    }
    printf("create %s flags=%d: rc=0 name=%s\n", rel(path), flags, rel(out));
}

static void set(zhandle_t *zh, const char *path, const char *value, int version) {
    struct Stat st;
    int rc = zoo_set2(zh, path, value, (int)strlen(value), version, &st);
    if (rc != ZOK)
        printf("set %s version=%d: rc=%d\n", rel(path), version, rc);
    else
        printf("set %s version=%d: rc=0 newVersion=%d\n", rel(path), version, st.version);
}

static void children(zhandle_t *zh, const char *path) {
    struct String_vector v;
    int rc = zoo_get_children(zh, path, 0, &v);
    if (rc != ZOK) {
        printf("children %s: rc=%d\n", rel(path), rc);
        return;
    }
    /* ZooKeeper's order is a hash order: sort. */
    for (int i = 0; i < v.count; i++)
        for (int j = i + 1; j < v.count; j++)
            if (strcmp(v.data[i], v.data[j]) > 0) {
                char *t = v.data[i];
                v.data[i] = v.data[j];
                v.data[j] = t;
            }
    printf("children %s: rc=0 [", rel(path));
    for (int i = 0; i < v.count; i++) printf(i ? " %s" : "%s", v.data[i]);
    printf("]\n");
    deallocate_String_vector(&v);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST:PORT ROOT\n", argv[0]);
        return 2;
    }
    const char *hosts = argv[1];
    root = argv[2];
    char p[512], q[512];
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zoo_set_log_stream(fopen("/dev/null", "w"));
    setvbuf(stdout, NULL, _IOLBF, 0);

    zhandle_t *zh = connect_to(hosts);
    get(zh, "/", 0);
    get(zh, "/zookeeper", 0);
    get(zh, "/zookeeper/quota", 0);

    create(zh, root, "r", 1, 0);
    snprintf(p, sizeof p, "%s/a", root);
    create(zh, p, "a", 1, 0);
    create(zh, p, "again", 5, 0);
    get(zh, p, 0);
    set(zh, p, "b", 0);
    set(zh, p, "c", 0);
    set(zh, p, "c", -1);
    get(zh, p, 0);
    snprintf(q, sizeof q, "%s/null", root);
    create(zh, q, NULL, -1, 0);
    get(zh, q, 0);
    snprintf(q, sizeof q, "%s/empty", root);
    create(zh, q, "", 0, 0);
    get(zh, q, 0);

    /* Ephemeral and sequential nodes. */
    snprintf(q, sizeof q, "%s/e", root);
    create(zh, q, "e", 1, ZOO_EPHEMERAL);
    snprintf(q, sizeof q, "%s/e/child", root);
    create(zh, q, "", 0, 0);
    snprintf(q, sizeof q, "%s/s-", root);
    create(zh, q, "s", 1, ZOO_SEQUENCE);
    create(zh, q, "s", 1, ZOO_SEQUENCE);
    snprintf(q, sizeof q, "%s/es-", root);
    create(zh, q, "", 0, ZOO_EPHEMERAL | ZOO_SEQUENCE);
    children(zh, root);

    /* Watches: an exists watch on a missing node, a data watch, a child
       watch, each fired by this session's own writes. */
    snprintf(q, sizeof q, "%s/w", root);
    printf("exists %s: rc=%d\n", rel(q), zoo_exists(zh, q, 1, NULL));
    create(zh, q, "", 0, 0);
    expect(1);
    get(zh, p, 1);
    set(zh, p, "d", -1);
    expect(2);
    struct String_vector v;
    printf("children watch: rc=%d\n", zoo_get_children(zh, root, 1, &v));
    deallocate_String_vector(&v);
    zoo_delete(zh, q, -1);
    expect(3);

    /* Deletes with versions. */
    printf("delete a version=9: rc=%d\n", zoo_delete(zh, p, 9));
    printf("delete a version=3: rc=%d\n", zoo_delete(zh, p, 3));
    printf("delete a again: rc=%d\n", zoo_delete(zh, p, -1));
    printf("delete root: rc=%d\n", zoo_delete(zh, root, -1));
    get(zh, p, 0);

    /* The ephemerals go with the session. */
    zookeeper_close(zh);
    zh = connect_to(hosts);
    children(zh, root);
    zookeeper_close(zh);
    return 0;
}

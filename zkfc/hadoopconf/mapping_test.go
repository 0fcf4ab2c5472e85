package hadoopconf

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/fencing"
	"github.com/zkfc-project/zkfc/zkfc/config"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

func readDir(t *testing.T, dir string) *Conf {
	t.Helper()
	c, err := ReadFiles(filepath.Join("testdata", dir, "core-site.xml"), filepath.Join("testdata", dir, "hdfs-site.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// load writes each node's YAML and loads it with zkfc's own loader: what
// import-hadoop writes must be a configuration zkfc run accepts.
func load(t *testing.T, res *Result) map[string]*config.Config {
	t.Helper()
	out := map[string]*config.Config{}
	for _, n := range res.Nodes {
		p := filepath.Join(t.TempDir(), "zkfc.yaml")
		if err := os.WriteFile(p, n.YAML, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(p, nil, nil)
		if err != nil {
			t.Fatalf("generated config of %s does not load: %v\n%s", n.ID, err, n.YAML)
		}
		out[n.ID] = c
	}
	return out
}

func findings(fs []Finding, prop string) []string {
	var out []string
	for _, f := range fs {
		if f.Property == prop {
			out = append(out, f.Msg)
		}
	}
	return out
}

func noKnownHosts(string) bool { return false }

func TestQJMGuideExample(t *testing.T) {
	res, err := Map(readDir(t, "qjm"), Options{Exists: noKnownHosts})
	if err != nil {
		t.Fatal(err)
	}
	cfgs := load(t, res)
	if res.Nameservice != "mycluster" || len(cfgs) != 3 {
		t.Fatalf("nameservice %q, %d nodes; want mycluster and nn1, nn2, nn3", res.Nameservice, len(cfgs))
	}
	for i, nn := range []string{"nn1", "nn2", "nn3"} {
		c := cfgs[nn]
		host := "machine" + string(rune('1'+i)) + ".example.com"
		if c.Node.ID != nn || c.Node.Host != host || c.Node.Port != 8020 {
			t.Errorf("%s: node %+v, want %s at %s:8020", nn, c.Node, nn, host)
		}
		if c.Cluster.Name != "mycluster" || c.Cluster.ParentZnode != "/hadoop-ha" || c.ClusterPath() != "/hadoop-ha/mycluster" {
			t.Errorf("%s: cluster %+v, want Hadoop's /hadoop-ha/mycluster", nn, c.Cluster)
		}
		if c.ZooKeeper.Connect != "zk1.example.com:2181,zk2.example.com:2181,zk3.example.com:2181" || c.ZooKeeper.SessionTimeout != 10*time.Second {
			t.Errorf("%s: zookeeper %+v", nn, c.ZooKeeper)
		}
		if c.Control.Listen != host+":8019" {
			t.Errorf("%s: control.listen %q, want the ZKFC port %s:8019", nn, c.Control.Listen, host)
		}
		if c.Health.HTTP == nil || c.Health.HTTP.URL != "http://"+host+":9870/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus" {
			t.Errorf("%s: health %+v, want the NameNodeStatus JMX bean", nn, c.Health.HTTP)
		}
		if c.Health.Interval != time.Second || c.Health.Timeout != 45*time.Second {
			t.Errorf("%s: health interval %s timeout %s, want Hadoop's 1s and 45s", nn, c.Health.Interval, c.Health.Timeout)
		}
		want := []string{"hdfs", "haadmin", "-ns", "mycluster", "-transitionToActive", "--forceactive", nn}
		if strings.Join(c.Actions.Promote.Command, " ") != strings.Join(want, " ") {
			t.Errorf("%s: promote %q, want %q", nn, c.Actions.Promote.Command, want)
		}
		m := c.Fencing.Methods
		if len(m) != 2 || m[0].Type != "graceful" || m[0].Timeout != 5*time.Second || m[1].Type != "ssh" {
			t.Fatalf("%s: fencing %+v, want graceful (5s) then ssh", nn, m)
		}
		if s := m[1].SSH; s.User != "hdfs" || s.KeyFile != "/home/exampleuser/.ssh/id_rsa" || s.KnownHostsFile != DefaultKnownHostsFile || s.ConnectTimeout != 30*time.Second || s.Port != 0 {
			t.Errorf("%s: ssh %+v", nn, *s)
		}
		if !c.ZooKeeper.AllowWorldWritable {
			t.Errorf("%s: Hadoop's default ACL is world-writable; the file must say so to load", nn)
		}
	}
	for prop, want := range map[string]string{
		"ha.zookeeper.acl":                  "world:anyone:rwcda applies",
		"dfs.ha.fencing.methods":            "does not exist",
		"dfs.ha.automatic-failover.enabled": "set this to false",
		"ha.zookeeper.parent-znode":         "stop every Hadoop ZKFC",
	} {
		got := findings(res.Warnings, prop)
		if len(got) != 1 || !strings.Contains(got[0], want) {
			t.Errorf("warnings on %s: %q, want one containing %q", prop, got, want)
		}
	}
	if !strings.Contains(string(res.Nodes[0].YAML), "# WARNING dfs.ha.fencing.methods:") {
		t.Errorf("the generated file does not carry the warnings:\n%s", res.Nodes[0].YAML)
	}
	if res.Auth != nil {
		t.Errorf("no ha.zookeeper.auth, yet credentials %q", res.Auth)
	}
}

func TestSecuredZooKeeperAndTunedMonitor(t *testing.T) {
	authFile := filepath.Join(t.TempDir(), "zookeeper-auth")
	res, err := Map(readDir(t, "secure"), Options{Check: CheckHAAdmin, HDFS: "/opt/hadoop/bin/hdfs", AuthFile: authFile, Exists: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Property != "ha.zookeeper.parent-znode" {
		t.Errorf("warnings %v, want only the one about Hadoop's znodes (ACL and known_hosts are fine)", res.Warnings)
	}
	if string(res.Auth) != "hdfs-zkfcs:mypassword\n" {
		t.Fatalf("credentials %q, want the digest user:password of zk-auth.txt", res.Auth)
	}
	if err := os.WriteFile(authFile, res.Auth, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgs := load(t, res)
	c := cfgs["nn2"]
	if _, err := c.LoadSecrets(); err != nil {
		t.Fatalf("zkfc does not accept the credentials file: %v", err)
	}
	if c.Node.Host != "nn2.example.com" || c.Node.Port != 8022 {
		t.Errorf("node %+v, want the service RPC address nn2.example.com:8022 (what Hadoop's ZKFC checks and fences)", c.Node)
	}
	if c.Cluster.ParentZnode != "/hadoop-ha-prod" || c.ZooKeeper.SessionTimeout != 5*time.Second || c.ZooKeeper.SelfFenceMargin != 2*time.Second {
		t.Errorf("parent %q session %s margin %s", c.Cluster.ParentZnode, c.ZooKeeper.SessionTimeout, c.ZooKeeper.SelfFenceMargin)
	}
	if c.ZooKeeper.Connect != "zk1.example.com:2181,zk2.example.com:2181,zk3.example.com:2181" {
		t.Errorf("connect %q: a host without a port gets ZooKeeper's 2181", c.ZooKeeper.Connect)
	}
	acl, err := config.ParseACL(c.ZooKeeper.ACL)
	if err != nil || len(acl) != 1 || acl[0].ID != config.DigestID("hdfs-zkfcs", "mypassword") || elector.WorldWritable(acl) || c.ZooKeeper.AllowWorldWritable {
		t.Errorf("acl %v (%v), want the digest of hdfs-zkfcs:mypassword only", acl, err)
	}
	if c.Control.Listen != "nn2.example.com:8029" {
		t.Errorf("control.listen %q, want dfs.ha.zkfc.port.prod 8029", c.Control.Listen)
	}
	if c.Health.Exec == nil || strings.Join(c.Health.Exec.Command, " ") != "/opt/hadoop/bin/hdfs haadmin -ns prod -checkHealth nn2" ||
		c.Health.Interval != 2*time.Second || c.Health.Timeout != 30*time.Second {
		t.Errorf("health %+v exec %+v", c.Health, c.Health.Exec)
	}
	if strings.Join(c.Actions.Role.Command, " ") != "/opt/hadoop/bin/hdfs haadmin -ns prod -getServiceState nn2" {
		t.Errorf("role %q", c.Actions.Role.Command)
	}
	if c.Actions.Promote.Timeout != 40*time.Second || c.Actions.Demote.Timeout != 13*time.Second {
		t.Errorf("promote %s demote %s, want the RPC timeouts plus %s", c.Actions.Promote.Timeout, c.Actions.Demote.Timeout, haadminStartup)
	}
	m := c.Fencing.Methods
	if len(m) != 3 || m[0].Timeout != 3*time.Second || m[1].Type != "ssh" || m[2].Type != "shell" {
		t.Fatalf("fencing %+v, want graceful (3s), ssh, shell", m)
	}
	if s := m[1].SSH; s.User != "hdfs" || s.Port != 2222 || s.KeyFile != "/var/lib/hadoop-hdfs/.ssh/id_ed25519" || s.ConnectTimeout != 5*time.Second {
		t.Errorf("ssh %+v: want hdfs, 2222, the ${hadoop.ssh.dir} key expanded, 5s", *s)
	}
	if sh := m[2].Shell; len(sh.Command) != 4 || sh.Command[0] != "bash" || !strings.HasSuffix(sh.Command[3], "\n/usr/local/bin/fence-pdu.sh --outlet $target_host") ||
		strings.Join(sh.Env, " ") != "target_nameserviceid=prod" {
		t.Errorf("shell %+v", *sh)
	}
	if got := findings(res.Notes, "ha.health-monitor.connect-retry-interval.ms"); len(got) != 1 {
		t.Errorf("notes %v: a property with no zkfc setting is noted", res.Notes)
	}
}

// The shell fencer's command, run by zkfc's own fencing package, sees
// Hadoop's target_* variables for the node it fences.
func TestShellFencerEnvironment(t *testing.T) {
	res, err := Map(readDir(t, "secure"), Options{AuthFile: "/nonexistent", Exists: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	c := loadOne(t, res, "nn1")
	sh := c.Fencing.Methods[2].Shell
	argv := append([]string(nil), sh.Command...)
	seen := filepath.Join(t.TempDir(), "seen")
	// The script stands in for the site's fence-pdu.sh: it records what it was given.
	argv[3] = strings.Replace(argv[3], "/usr/local/bin/fence-pdu.sh --outlet $target_host",
		`echo "$target_namenodeid $target_nameserviceid $target_host $target_port $target_address" > `+seen, 1)
	f, err := fencing.New([]fencing.MethodConfig{{Type: "shell", Timeout: 10 * time.Second, Shell: &fencing.ShellConfig{Command: argv, Env: sh.Env}}}, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fence(context.Background(), fencing.Target{NodeID: "nn2", Host: "nn2.example.com", Port: 8022}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(seen)
	if want := "nn2 prod nn2.example.com 8022 nn2.example.com:8022\n"; err != nil || string(got) != want {
		t.Fatalf("the fencing script saw %q (%v), want %q", got, err, want)
	}
}

func loadOne(t *testing.T, res *Result, id string) *config.Config {
	t.Helper()
	c, ok := load(t, res)[id]
	if !ok {
		t.Fatalf("no node %s", id)
	}
	return c
}

func TestFencingEndingInTrueWarns(t *testing.T) {
	res, err := Map(readDir(t, "truefence"), Options{Exists: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	got := findings(res.Warnings, "dfs.ha.fencing.methods")
	if len(got) != 1 || !strings.Contains(got[0], "ends with shell(/bin/true), which always succeeds") || !strings.Contains(got[0], "lease_expired") {
		t.Fatalf("warnings %v, want one naming shell(/bin/true), why it is unsafe and what to use", res.Warnings)
	}
	if w := findings(res.Warnings, "ha.zookeeper.acl"); len(w) != 0 {
		t.Errorf("sasl:hdfs:cdrwa,world:anyone:r is not world-writable, yet: %v", w)
	}
	c := loadOne(t, res, "nn2")
	if m := c.Fencing.Methods; len(m) != 3 || m[2].Type != "shell" || !strings.HasSuffix(m[2].Shell.Command[3], "\n/bin/true") {
		t.Errorf("fencing %+v: the method is kept (the mapping is faithful), only warned about", m)
	}
}

func TestMalformedFileNamesFileAndLine(t *testing.T) {
	_, err := ReadFiles(filepath.Join("testdata", "malformed", "core-site.xml"), filepath.Join("testdata", "malformed", "hdfs-site.xml"))
	var pe *PropertyError
	if !errors.As(err, &pe) || !strings.HasSuffix(pe.File, "malformed/hdfs-site.xml") || !strings.Contains(err.Error(), "line 14") {
		t.Fatalf("err = %v, want the file malformed/hdfs-site.xml and line 14 (the unclosed <property>)", err)
	}
}

func TestUnknownPropertiesOfTheZKFCAreRefused(t *testing.T) {
	_, err := Map(readDir(t, "unknown"), Options{Exists: noKnownHosts})
	if err == nil {
		t.Fatal("mapped a configuration with ZKFC properties it does not know")
	}
	msg := err.Error()
	for _, want := range []string{"hdfs-site.xml: ha.zookeeper.ssl.enabled: zkfc import-hadoop does not know", "dfs.ha.fencing.ssh.user: zkfc import-hadoop does not know"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	for _, ignored := range []string{"dfs.replication", "dfs.blocksize", "dfs.ha.tail-edits.period", "dfs.namenode.name.dir"} {
		if strings.Contains(msg, ignored) {
			t.Errorf("%s is not the ZKFC's; it must be ignored, not refused:\n%s", ignored, msg)
		}
	}
}

const coreSite = `<configuration><property><name>ha.zookeeper.quorum</name><value>zk1:2181</value></property></configuration>`

func hdfsSite(extra string) string {
	return `<configuration>
<property><name>dfs.nameservices</name><value>ns1</value></property>
<property><name>dfs.ha.namenodes.ns1</name><value>nn1,nn2</value></property>
<property><name>dfs.namenode.rpc-address.ns1.nn1</name><value>h1:8020</value></property>
<property><name>dfs.namenode.rpc-address.ns1.nn2</name><value>h2:8020</value></property>
<property><name>dfs.ha.fencing.ssh.private-key-files</name><value>/k</value></property>
` + extra + `</configuration>`
}

func TestRefusals(t *testing.T) {
	fence := `<property><name>dfs.ha.fencing.methods</name><value>sshfence</value></property>`
	for _, tc := range []struct {
		name, core, hdfs, want string
	}{
		{"no fencing", coreSite, hdfsSite(""), "dfs.ha.fencing.methods: not set"},
		{"powershell", coreSite, hdfsSite(`<property><name>dfs.ha.fencing.methods</name><value>powershell(foo)</value></property>`), "dfs.ha.fencing.methods: line 1 \"powershell(foo)\": powershell fencing runs on Windows"},
		{"java fencer", coreSite, hdfsSite(`<property><name>dfs.ha.fencing.methods</name><value>sshfence
com.example.PduFencer(outlet 3)</value></property>`), `line 2 "com.example.PduFencer(outlet 3)": unknown fencing method "com.example.PduFencer"`},
		{"bad ssh port", coreSite, hdfsSite(`<property><name>dfs.ha.fencing.methods</name><value>sshfence(hdfs:22x)</value></property>`), `port "22x" is not a number`},
		{"no quorum", `<configuration/>`, hdfsSite(fence), "ha.zookeeper.quorum: not set"},
		{"chroot", `<configuration><property><name>ha.zookeeper.quorum</name><value>zk1:2181/hdfs</value></property></configuration>`, hdfsSite(fence), "has a chroot path"},
		{"two nameservices", coreSite, strings.Replace(hdfsSite(fence), "<value>ns1</value>", "<value>ns1,ns2</value>", 1), "dfs.nameservices: lists ns1, ns2: choose the one to import with --nameservice"},
		{"wildcard rpc address", coreSite, strings.Replace(hdfsSite(fence), "h1:8020", "0.0.0.0:8020", 1), "dfs.namenode.rpc-address.ns1.nn1: \"0.0.0.0:8020\" names no host"},
		{"bad timeout", coreSite, hdfsSite(fence + `<property><name>ha.zookeeper.session-timeout.ms</name><value>5s</value></property>`), `ha.zookeeper.session-timeout.ms: "5s" is not a positive number of milliseconds`},
		{"two keys", coreSite, strings.Replace(hdfsSite(fence), "<value>/k</value>", "<value>/k1,/k2</value>", 1), "dfs.ha.fencing.ssh.private-key-files: lists 2 keys"},
		{"sasl auth", coreSite, hdfsSite(fence + `<property><name>ha.zookeeper.auth</name><value>sasl:hdfs</value></property>`), `ha.zookeeper.auth: scheme "sasl"`},
		{"bad acl", coreSite, hdfsSite(fence + `<property><name>ha.zookeeper.acl</name><value>digest:hdfs:rwcda</value></property>`), "ha.zookeeper.acl: zookeeper.acl[0]"},
		{"undefined variable", coreSite, strings.Replace(hdfsSite(fence), "<value>/k</value>", "<value>${user.home}/.ssh/id_rsa</value>", 1), "refers to ${user.home}, which these files do not set"},
		{"https only", coreSite, hdfsSite(fence + `<property><name>dfs.http.policy</name><value>HTTPS_ONLY</value></property>`), "dfs.http.policy: HTTPS_ONLY"},
		{"one namenode", coreSite, strings.Replace(hdfsSite(fence), "<value>nn1,nn2</value>", "<value>nn1</value>", 1), "dfs.ha.namenodes.ns1: must list at least two"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tc.core), "core-site.xml")
			if err != nil {
				t.Fatal(err)
			}
			if err := c.read(strings.NewReader(tc.hdfs), "hdfs-site.xml"); err != nil {
				t.Fatal(err)
			}
			_, err = Map(c, Options{Exists: func(string) bool { return true }})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestXMLForms(t *testing.T) {
	c, err := Parse(strings.NewReader(`<?xml version="1.0"?>
<configuration>
  <property name="a" value="attr"/>
  <property><name> b </name><value> ${a}-x </value><final>true</final></property>
  <property><name>b</name><value>overridden</value></property>
  <property><name>novalue</name></property>
  <unknown>ignored</unknown>
</configuration>`), "x.xml")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get("b"); v != "attr-x" || !ok || err != nil {
		t.Errorf("b = %q %v %v, want attr-x: attributes, trimming, ${} expansion, final kept", v, ok, err)
	}
	if _, ok, _ := c.Get("novalue"); ok {
		t.Error("a property without a value is skipped, as Hadoop does")
	}
	_, err = Parse(strings.NewReader(`<configuration xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="other.xml"/></configuration>`), "inc.xml")
	if err == nil || !strings.Contains(err.Error(), "XInclude is not supported") {
		t.Errorf("XInclude: %v", err)
	}
	_, err = Parse(strings.NewReader(`<properties/>`), "p.xml")
	if err == nil || !strings.Contains(err.Error(), "want <configuration>") {
		t.Errorf("wrong root: %v", err)
	}
	c, _ = Parse(strings.NewReader(`<configuration><property><name>a</name><value>${b}</value></property><property><name>b</name><value>${a}</value></property></configuration>`), "loop.xml")
	if _, _, err := c.Get("a"); err == nil || !strings.Contains(err.Error(), "more than 20 deep") {
		t.Errorf("a reference cycle: %v", err)
	}
}

// jmxBody is the shape of a Hadoop 3 NameNode's answer to
// /jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus.
const jmxBody = `{
  "beans" : [ {
    "name" : "Hadoop:service=NameNode,name=NameNodeStatus",
    "modelerType" : "org.apache.hadoop.hdfs.server.namenode.NameNode",
    "NNRole" : "NameNode",
    "HostAndPort" : "127.0.0.1:8020",
    "SecurityEnabled" : false,
    "LastHATransitionTime" : 1700000000000,
    "BytesWithFutureGenerationStamps" : 0,
    "SlowPeersReport" : null,
    "SlowDisksReport" : null,
    "State" : "%s"
  } ]
}`

// The JMX role command, run as zkfc runs it, prints the NameNode's state.
func TestJMXRoleCommand(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed (the role command uses it; .ci/run installs it)")
	}
	state := "standby"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/jmx" || r.URL.Query().Get("qry") != "Hadoop:service=NameNode,name=NameNodeStatus" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf8")
		_, _ = w.Write([]byte(strings.Replace(jmxBody, "%s", state, 1)))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	site := hdfsSite(`<property><name>dfs.ha.fencing.methods</name><value>sshfence</value></property>
<property><name>dfs.namenode.http-address.ns1.nn1</name><value>` + addr + `</value></property>`)
	c, _ := Parse(strings.NewReader(coreSite), "core-site.xml")
	if err := c.read(strings.NewReader(site), "hdfs-site.xml"); err != nil {
		t.Fatal(err)
	}
	res, err := Map(c, Options{Exists: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadOne(t, res, "nn1")
	for _, want := range []string{"standby", "active"} {
		state = want
		argv := cfg.Actions.Role.Command
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Fatalf("role command %q printed %q (%v), want %s", argv, out, err, want)
		}
	}
	resp, err := http.Get(cfg.Health.HTTP.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health URL %s: %s", cfg.Health.HTTP.URL, resp.Status)
	}
	if cfg.Health.HTTP.BodyContains == "" || !strings.Contains(jmxBody, cfg.Health.HTTP.BodyContains) {
		t.Errorf("body_contains %q does not match the NameNode's answer", cfg.Health.HTTP.BodyContains)
	}
}

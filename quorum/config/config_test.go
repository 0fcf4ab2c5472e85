package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, text string, props map[string]string) *Config {
	t.Helper()
	c, err := Parse(strings.NewReader(text), "zoo.cfg", props)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, text)
	}
	return c
}

func TestParseDefaults(t *testing.T) {
	c := parse(t, "dataDir=/d\nclientPort=2181\n", nil)
	want := &Config{
		Source:                   "zoo.cfg",
		TickTime:                 3000 * time.Millisecond,
		InitLimit:                10,
		SyncLimit:                5,
		DataDir:                  "/d",
		DataLogDir:               "/d",
		ClientPort:               2181,
		MaxClientCnxns:           60,
		MinSessionTimeout:        6 * time.Second,
		MaxSessionTimeout:        60 * time.Second,
		FourLetterWhitelist:      map[string]bool{"srvr": true},
		AutopurgeSnapRetainCount: 3,
		MaxBuffer:                0xfffff,
		ContainerCheckInterval:   time.Minute,
		SnapCount:                100000,
		MaxResponseBytes:         64 << 20,
		GlobalOutstandingLimit:   1000,
		AdminEnabled:             true,
		AdminAddress:             "0.0.0.0",
		AdminPort:                8080,
		StandaloneEnabled:        true,
		Standalone:               true,
		Raw:                      map[string]string{"dataDir": "/d", "clientPort": "2181"},
		Props:                    map[string]string{},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
	if got := c.ClientAddr(); got != ":2181" {
		t.Errorf("ClientAddr = %q, want :2181", got)
	}
}

// TestParseValues checks each key against the field it sets, including
// the ZooKeeper rules that turn one value into another.
func TestParseValues(t *testing.T) {
	base := "dataDir=/d\nclientPort=2181\n"
	tests := []struct {
		name  string
		text  string
		props map[string]string
		check func(c *Config) any
		want  any
	}{
		{"tickTime", "tickTime=2000", nil, func(c *Config) any { return c.TickTime }, 2 * time.Second},
		{"session timeouts follow tickTime", "tickTime=100", nil,
			func(c *Config) any { return [2]time.Duration{c.MinSessionTimeout, c.MaxSessionTimeout} },
			[2]time.Duration{200 * time.Millisecond, 2 * time.Second}},
		{"-1 means default", "tickTime=100\nminSessionTimeout=-1\nmaxSessionTimeout=-1", nil,
			func(c *Config) any { return [2]time.Duration{c.MinSessionTimeout, c.MaxSessionTimeout} },
			[2]time.Duration{200 * time.Millisecond, 2 * time.Second}},
		{"explicit session timeouts", "minSessionTimeout=1000\nmaxSessionTimeout=5000", nil,
			func(c *Config) any { return [2]time.Duration{c.MinSessionTimeout, c.MaxSessionTimeout} },
			[2]time.Duration{time.Second, 5 * time.Second}},
		{"initLimit syncLimit", "initLimit=7\nsyncLimit=2", nil, func(c *Config) any { return [2]int{c.InitLimit, c.SyncLimit} }, [2]int{7, 2}},
		{"dataLogDir", "dataLogDir=/log", nil, func(c *Config) any { return c.DataLogDir }, "/log"},
		{"clientPortAddress", "clientPortAddress=127.0.0.1", nil, func(c *Config) any { return c.ClientAddr() }, "127.0.0.1:2181"},
		{"secure port parsed", "secureClientPort=2281\nsecureClientPortAddress=::1", nil,
			func(c *Config) any { return [2]any{c.SecureClientPort, c.SecureClientPortAddress} }, [2]any{2281, "::1"}},
		{"maxClientCnxns unlimited", "maxClientCnxns=0", nil, func(c *Config) any { return c.MaxClientCnxns }, 0},
		{"whitelist list", "4lw.commands.whitelist= mntr , ruok,,", nil, func(c *Config) any { return c.FourLetterWhitelist },
			map[string]bool{"srvr": true, "mntr": true, "ruok": true}},
		{"whitelist star", "4lw.commands.whitelist=*", nil, func(c *Config) any { return c.Whitelisted("dump") }, true},
		{"whitelist default refuses", "", nil, func(c *Config) any { return [2]bool{c.Whitelisted("srvr"), c.Whitelisted("mntr")} }, [2]bool{true, false}},
		{"whitelist from -D", "", map[string]string{"zookeeper.4lw.commands.whitelist": "stat"}, func(c *Config) any { return c.Whitelisted("stat") }, true},
		{"file overrides -D", "4lw.commands.whitelist=ruok", map[string]string{"zookeeper.4lw.commands.whitelist": "stat"},
			func(c *Config) any { return [2]bool{c.Whitelisted("ruok"), c.Whitelisted("stat")} }, [2]bool{true, false}},
		{"snapRetainCount raised to 3", "autopurge.snapRetainCount=1", nil,
			func(c *Config) any { return [2]any{c.AutopurgeSnapRetainCount, len(c.Warnings)} }, [2]any{3, 1}},
		{"snapRetainCount kept", "autopurge.snapRetainCount=9", nil, func(c *Config) any { return c.AutopurgeSnapRetainCount }, 9},
		{"purgeInterval hours", "autopurge.purgeInterval=2", nil, func(c *Config) any { return c.AutopurgePurgeInterval }, 2 * time.Hour},
		{"negative purgeInterval disables", "autopurge.purgeInterval=-1", nil, func(c *Config) any { return c.AutopurgePurgeInterval }, time.Duration(0)},
		{"extended types in file", "extendedTypesEnabled=true", nil, func(c *Config) any { return c.ExtendedTypesEnabled }, true},
		{"extended types from -D", "", map[string]string{"zookeeper.extendedTypesEnabled": "TRUE"}, func(c *Config) any { return c.ExtendedTypesEnabled }, true},
		{"emulate353 from -D", "", map[string]string{"zookeeper.emulate353TTLNodes": "true"}, func(c *Config) any { return c.Emulate353TTLNodes }, true},
		{"superDigest from -D", "", map[string]string{"zookeeper.DigestAuthenticationProvider.superDigest": "super:D/InIHSb7yEEbrWz8b9l71RjZJU="},
			func(c *Config) any { return c.SuperDigest }, "super:D/InIHSb7yEEbrWz8b9l71RjZJU="},
		{"jute.maxbuffer from -D", "", map[string]string{"jute.maxbuffer": "4096"}, func(c *Config) any { return c.MaxBuffer }, 4096},
		{"jute.maxbuffer in file", "jute.maxbuffer=8192", nil, func(c *Config) any { return c.MaxBuffer }, 8192},
		{"container interval", "znode.container.checkIntervalMs=500", nil, func(c *Config) any { return c.ContainerCheckInterval }, 500 * time.Millisecond},
		{"snapCount", "", map[string]string{"zookeeper.snapCount": "1000"}, func(c *Config) any { return c.SnapCount }, 1000},
		{"globalOutstandingLimit", "globalOutstandingLimit=10", nil, func(c *Config) any { return c.GlobalOutstandingLimit }, 10},
		{"admin", "admin.enableServer=false\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=9090", nil,
			func(c *Config) any { return [3]any{c.AdminEnabled, c.AdminAddress, c.AdminPort} }, [3]any{false, "127.0.0.1", 9090}},
		{"zookeeper. prefix in file", "zookeeper.admin.serverPort=9191", nil, func(c *Config) any { return c.AdminPort }, 9191},
		{"unknown key kept and warned", "fooBar = baz", nil,
			func(c *Config) any { return [2]any{c.Raw["fooBar"], len(c.Warnings)} }, [2]any{"baz", 1}},
		{"repeated key: last wins", "tickTime=100\ntickTime=200", nil, func(c *Config) any { return c.TickTime }, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parse(t, base+tt.text+"\n", tt.props)
			if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseServers(t *testing.T) {
	tests := []struct {
		name       string
		text       string
		servers    []Server
		standalone bool
	}{
		{"three members", "server.3=c:2890:3890\nserver.1=a:2888:3888\nserver.2=b:2889:3889:participant\n",
			[]Server{
				{ID: 1, Host: "a", PeerPort: 2888, ElectionPort: 3888},
				{ID: 2, Host: "b", PeerPort: 2889, ElectionPort: 3889},
				{ID: 3, Host: "c", PeerPort: 2890, ElectionPort: 3890},
			}, false},
		{"observer and client parts", "server.1=a:1:2;2181\nserver.2=[::1]:3:4:observer;[::1]:2182\nserver.3=c:5:6;0.0.0.0:2183\n",
			[]Server{
				{ID: 1, Host: "a", PeerPort: 1, ElectionPort: 2, ClientPort: 2181},
				{ID: 2, Host: "::1", PeerPort: 3, ElectionPort: 4, Observer: true, ClientHost: "::1", ClientPort: 2182},
				{ID: 3, Host: "c", PeerPort: 5, ElectionPort: 6, ClientHost: "0.0.0.0", ClientPort: 2183},
			}, false},
		{"one member is standalone", "server.1=a:1:2\n", []Server{{ID: 1, Host: "a", PeerPort: 1, ElectionPort: 2}}, true},
		{"one participant plus observer is standalone", "server.1=a:1:2\nserver.2=b:1:2:observer\n",
			[]Server{{ID: 1, Host: "a", PeerPort: 1, ElectionPort: 2}, {ID: 2, Host: "b", PeerPort: 1, ElectionPort: 2, Observer: true}}, true},
		{"standaloneEnabled=false makes one member a quorum", "standaloneEnabled=false\nserver.1=a:1:2\n",
			[]Server{{ID: 1, Host: "a", PeerPort: 1, ElectionPort: 2}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parse(t, "dataDir=/d\nclientPort=2181\n"+tt.text, nil)
			if !reflect.DeepEqual(c.Servers, tt.servers) {
				t.Errorf("servers:\n got  %+v\n want %+v", c.Servers, tt.servers)
			}
			if c.Standalone != tt.standalone {
				t.Errorf("Standalone = %v, want %v", c.Standalone, tt.standalone)
			}
		})
	}
}

// TestParseErrors: each error names the file and the key, and says what
// to do about it.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // substrings of the error
	}{
		{"tickTime not a number", "dataDir=/d\nclientPort=1\ntickTime=abc", []string{`zoo.cfg: tickTime "abc": not a number of milliseconds`}},
		{"tickTime zero", "dataDir=/d\nclientPort=1\ntickTime=0", []string{`tickTime "0": must be at least 1`}},
		{"dataDir missing", "clientPort=1", []string{"zoo.cfg: dataDir is required"}},
		{"clientPort missing", "dataDir=/d", []string{"zoo.cfg: clientPort is required", "clientPort=2181"}},
		{"clientPort not a number", "dataDir=/d\nclientPort=x", []string{`zoo.cfg: clientPort "x": not a number (a TCP port)`}},
		{"clientPort too large", "dataDir=/d\nclientPort=70000", []string{"clientPort 70000: not a TCP port"}},
		{"clientPortAddress without clientPort", "dataDir=/d\nclientPortAddress=::1\nsecureClientPort=2", []string{"clientPortAddress is set but clientPort is not"}},
		{"min > max session timeout", "dataDir=/d\nclientPort=1\nminSessionTimeout=5000\nmaxSessionTimeout=4000",
			[]string{"minSessionTimeout 5000 ms is larger than maxSessionTimeout 4000 ms"}},
		{"bad boolean", "dataDir=/d\nclientPort=1\nstandaloneEnabled=ture", []string{`standaloneEnabled "ture": must be true or false`}},
		{"bad -D boolean", "dataDir=/d\nclientPort=1", []string{`-Dzookeeper.extendedTypesEnabled "yes please": must be true or false`}},
		{"bad superDigest", "dataDir=/d\nclientPort=1\nDigestAuthenticationProvider.superDigest=nocolon", []string{`DigestAuthenticationProvider.superDigest "nocolon"`}},
		{"bad peerType", "dataDir=/d\nclientPort=1\npeerType=voter", []string{`peerType "voter": must be participant or observer`}},
		{"duplicate server id", "dataDir=/d\nclientPort=1\nserver.1=a:1:2\nserver.01=b:1:2", []string{"line 4: server id 1 is already defined on line 3"}},
		{"bad server id", "dataDir=/d\nclientPort=1\nserver.x=a:1:2", []string{`line 3: server.x: "x" is not a server id`}},
		{"server missing election port", "dataDir=/d\nclientPort=1\nserver.1=a:2888", []string{"server.1=a:2888: expected server.N=host:peerPort:electionPort"}},
		{"server bad port", "dataDir=/d\nclientPort=1\nserver.1=a:2888:x", []string{`election port: "x" is not a TCP port`}},
		{"server bad type", "dataDir=/d\nclientPort=1\nserver.1=a:1:2:voter", []string{`"voter" is not a peer type`}},
		{"server bad client port", "dataDir=/d\nclientPort=1\nserver.1=a:1:2;x", []string{`client port: "x" is not a TCP port`}},
		{"server multi address", "dataDir=/d\nclientPort=1\nserver.1=a:1:2|b:1:2", []string{"multiple addresses per server are not supported"}},
		{"server bad ipv6", "dataDir=/d\nclientPort=1\nserver.1=[zz]:1:2", []string{`"zz" is not an IPv6 address`}},
		{"only observers", "dataDir=/d\nclientPort=1\nserver.1=a:1:2:observer", []string{"at least one member must be a participant"}},
		{"bad unicode escape", "dataDir=/d\\u12", []string{`zoo.cfg: line 1: malformed \uxxxx escape`}},
	}
	props := map[string]string{"zookeeper.extendedTypesEnabled": "yes please"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p map[string]string
			if tt.name == "bad -D boolean" {
				p = props
			}
			_, err := Parse(strings.NewReader(tt.text), "zoo.cfg", p)
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// writeConf puts a zoo.cfg and (when myid != "") a myid file into a fresh
// directory; "$DIR" in text is replaced by the data directory.
func writeConf(t *testing.T, text, myid string) string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if myid != "" {
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(myid), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(text, "$DIR", data)), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLoad(t *testing.T) {
	ensemble := "dataDir=$DIR\nserver.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.1:2889:3889;127.0.0.2:2182\nserver.3=127.0.0.1:2890:3890\n"
	tests := []struct {
		name, text, myid string
		jvm              string
		wantID           uint64
		wantAddr         string
		wantStandalone   bool
	}{
		{"member 1 takes its client port from its line", ensemble, "1\n", "", 1, ":2181", false},
		{"member 2 takes its client address", ensemble, " 2 ", "", 2, "127.0.0.2:2182", false},
		{"member 3 uses clientPort", ensemble + "clientPort=2183\n", "3", "", 3, ":2183", false},
		{"clientPort equal to the line is fine", ensemble + "clientPort=2181\n", "1", "", 1, ":2181", false},
		{"standalone without myid", "dataDir=$DIR\nclientPort=2181\n", "", "", 0, ":2181", true},
		{"one server line, no myid", "dataDir=$DIR\nclientPort=2181\nserver.1=a:1:2\n", "", "", 0, ":2181", true},
		{"one server line with myid", "dataDir=$DIR\nserver.5=a:1:2;2185\n", "5", "", 5, ":2185", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConf(t, tt.text, tt.myid)
			c, err := Load(path, tt.jvm)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.MyID != tt.wantID || c.ClientAddr() != tt.wantAddr || c.Standalone != tt.wantStandalone {
				t.Errorf("MyID=%d ClientAddr=%q Standalone=%v, want %d %q %v", c.MyID, c.ClientAddr(), c.Standalone, tt.wantID, tt.wantAddr, tt.wantStandalone)
			}
			if c.Source != path {
				t.Errorf("Source = %q, want %q", c.Source, path)
			}
		})
	}
}

func TestLoadJVMFlags(t *testing.T) {
	path := writeConf(t, "dataDir=$DIR\nclientPort=2181\n", "")
	c, err := Load(path, `-Xmx1g -Dzookeeper.extendedTypesEnabled=true "-Dzookeeper.DigestAuthenticationProvider.superDigest=super:abc=" -Djute.maxbuffer=1000`)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ExtendedTypesEnabled || c.SuperDigest != "super:abc=" || c.MaxBuffer != 1000 {
		t.Errorf("ExtendedTypesEnabled=%v SuperDigest=%q MaxBuffer=%d", c.ExtendedTypesEnabled, c.SuperDigest, c.MaxBuffer)
	}
}

func TestLoadErrors(t *testing.T) {
	ensemble := "dataDir=$DIR\nclientPort=2181\nserver.1=a:1:2\nserver.2=b:1:2\n"
	tests := []struct {
		name, text, myid string
		want             []string
	}{
		{"myid missing", ensemble, "", []string{"myid: missing; write this member's id (the N of its server.N line"}},
		{"myid not a number", ensemble, "one", []string{`myid: "one" is not a server id`}},
		{"myid not among servers", ensemble, "7", []string{"myid: id 7 is not among the server.N lines", "(1, 2)", "add server.7"}},
		{"clientPort disagrees with the line", "dataDir=$DIR\nclientPort=2181\nserver.1=a:1:2;2182\nserver.2=b:1:2\n", "1",
			[]string{"clientPort 2181 disagrees with the client address :2182 of server.1"}},
		{"member without any client port", "dataDir=$DIR\nserver.1=a:1:2;2181\nserver.2=b:1:2\n", "2",
			[]string{"clientPort is required; set clientPort=2181 or add ;2181 to server.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConf(t, tt.text, tt.myid)
			_, err := Load(path, "")
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	t.Run("file missing", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope.cfg"), "")
		if err == nil || !strings.Contains(err.Error(), "nope.cfg: no such file") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestPeerTypeWarning(t *testing.T) {
	path := writeConf(t, "dataDir=$DIR\nclientPort=1\npeerType=observer\nserver.1=a:1:2\nserver.2=b:1:2\n", "1")
	c, err := Load(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "peerType=observer disagrees with server.1") {
		t.Errorf("warnings = %q", c.Warnings)
	}
}

// TestReadProperties covers the java.util.Properties syntax zoo.cfg files
// use in the wild.
func TestReadProperties(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []property
	}{
		{"equals", "a=b", []property{{"a", "b", 1}}},
		{"colon", "a: b", []property{{"a", "b", 1}}},
		{"whitespace separator", "a   b c", []property{{"a", "b c", 1}}},
		{"spaces around equals", "  a  =  b  ", []property{{"a", "b", 1}}},
		{"comments and blanks", "# x=y\n! z=w\n\n   \n  # indented\na=1", []property{{"a", "1", 6}}},
		{"continuation", "a=one, \\\n    two, \\\n\tthree\nb=2", []property{{"a", "one, two, three", 1}, {"b", "2", 4}}},
		{"even backslashes do not continue", "a=x\\\\\nb=y", []property{{"a", `x\`, 1}, {"b", "y", 2}}},
		{"escaped separator in key", `a\=b=c`, []property{{"a=b", "c", 1}}},
		{"escaped colon in key", `a\:b:c`, []property{{"a:b", "c", 1}}},
		{"escapes in value", `a=x\ty\u0041\q`, []property{{"a", "x\tyAq", 1}}},
		{"second separator is value", "a==b", []property{{"a", "=b", 1}}},
		{"key only", "lonely", []property{{"lonely", "", 1}}},
		{"empty value", "a=", []property{{"a", "", 1}}},
		{"CRLF and CR", "a=1\r\nb=2\rc=3", []property{{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}}},
		{"BOM", "\uFEFFa=1", []property{{"a", "1", 1}}},
		{"trailing backslash at EOF", `a=1\`, []property{{"a", "1", 1}}},
		{"comment is not continued", "#a\\\nb=1", []property{{"b", "1", 2}}},
		{"duplicates kept in order", "a=1\na=2", []property{{"a", "1", 1}, {"a", "2", 2}}},
		// Continuations as java.util.Properties reads them.
		{"comment after an empty continuation", "\\\n#k=v\nb=1", []property{{"b", "1", 3}}},
		{"blank then comment after an empty continuation", "  \\\n\n!k\nb=1", []property{{"b", "1", 4}}},
		{"continuation ended by a blank line", "a=1\\\n\nb=2", []property{{"a", "1", 1}, {"b", "2", 3}}},
		{"Java trim strips control characters", "\x01a\x02=\x03v\x7f", []property{{"a", "v\x7f", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readProperties(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseJVMFlags(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{"", map[string]string{}},
		{"-Xmx1g -server", map[string]string{}},
		{"-Da=1 -Db=x=y -Dc", map[string]string{"a": "1", "b": "x=y", "c": ""}},
		{`-Da="with space" '-Db=single quoted' -Dc=back\ slash`, map[string]string{"a": "with space", "b": "single quoted", "c": "back slash"}},
		{"  -Da=1\t\n-Da=2  ", map[string]string{"a": "2"}},
		{`-Dzookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=`,
			map[string]string{"zookeeper.DigestAuthenticationProvider.superDigest": "super:D/InIHSb7yEEbrWz8b9l71RjZJU="}},
		{`-D -D= -Dx="unterminated`, map[string]string{"x": "unterminated"}},
		{`-Da="q\"uote"`, map[string]string{"a": `q"uote`}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := ParseJVMFlags(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzParse: no input may panic Parse or ParseJVMFlags, and a config that
// parses must hold the invariants the server relies on.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"dataDir=/d\nclientPort=2181\n",
		"tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/var/lib/zookeeper\nclientPort=2181\n" +
			"server.1=zk1:2888:3888;2181\nserver.2=[::1]:2888:3888:observer;[::1]:2181\n4lw.commands.whitelist=*\n",
		"a\\\n  b=c\\u0041\\",
		"server.1=a:1:2|b:3:4\n",
		"dataDir:/d\nclientPort 1\nminSessionTimeout=-1\nautopurge.snapRetainCount=-5\n",
		"\\u",
		"=\n:\n\\=\\:",
	}
	for _, s := range seeds {
		f.Add(s, "-Dzookeeper.snapCount=10 \"-Da=b c\"")
	}
	f.Fuzz(func(t *testing.T, text, jvm string) {
		c, err := Parse(strings.NewReader(text), "zoo.cfg", ParseJVMFlags(jvm))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "zoo.cfg: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if c.DataDir == "" || c.MinSessionTimeout > c.MaxSessionTimeout || c.TickTime <= 0 || c.AutopurgeSnapRetainCount < 3 || !c.FourLetterWhitelist["srvr"] {
			t.Fatalf("invariant broken: %+v", c)
		}
		for i := 1; i < len(c.Servers); i++ {
			if c.Servers[i-1].ID >= c.Servers[i].ID {
				t.Fatalf("servers not sorted or duplicated: %+v", c.Servers)
			}
		}
	})
}

func TestSetMember(t *testing.T) {
	text := "dataDir=/d\nserver.1=a:1:2;2181\nserver.2=b:1:2;127.0.0.2:2182\n"
	tests := []struct {
		id       uint64
		wantAddr string
		wantErr  string
	}{
		{1, ":2181", ""},
		{2, "127.0.0.2:2182", ""},
		{9, "", "id 9 is not among the server.N lines of zoo.cfg (1, 2); fix myid or add server.9"},
	}
	for _, tt := range tests {
		c := parse(t, text, nil)
		err := c.SetMember(tt.id)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("SetMember(%d) = %v, want %q", tt.id, err, tt.wantErr)
			}
			continue
		}
		if err != nil || c.MyID != tt.id || c.ClientAddr() != tt.wantAddr {
			t.Errorf("SetMember(%d): err %v, MyID %d, ClientAddr %q; want %q", tt.id, err, c.MyID, c.ClientAddr(), tt.wantAddr)
		}
	}
}

func TestParseJVMHeap(t *testing.T) {
	cases := []struct {
		flags string
		want  int64
		bad   bool
	}{
		{"", 0, false},
		{"-Dzookeeper.extendedTypesEnabled=true", 0, false},
		{"-Xmx512m", 512 << 20, false},
		{"-Xms64m -Xmx2G -Dx=y", 2 << 30, false},
		{"-Xmx1g -Xmx768M", 768 << 20, false}, // the last one wins, as in java
		{"-Xmx65536k", 64 << 20, false},
		{"-Xmx1048576", 1 << 20, false},
		{"-Xmx", 0, true},
		{"-Xmxlots", 0, true},
		{"-Xmx-1g", 0, true},
	}
	for _, c := range cases {
		got, err := ParseJVMHeap(c.flags)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("ParseJVMHeap(%q) = %d, %v; want %d, error %v", c.flags, got, err, c.want, c.bad)
		}
		if c.bad && err != nil && !strings.Contains(err.Error(), "-Xmx") {
			t.Errorf("ParseJVMHeap(%q) error %q does not name the option", c.flags, err)
		}
	}
}

func TestPreferredLeader(t *testing.T) {
	base := "tickTime=500\ndataDir=/tmp/x\nclientPort=2181\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\nserver.4=127.0.0.1:2891:3891:observer\n"
	cases := []struct {
		line    string
		want    uint64
		errPart string
	}{
		{"", 0, ""},
		{"preferredLeader=3\n", 3, ""},
		{"preferredLeader=0\n", 0, ""},
		{"preferredLeader=4\n", 0, "not a participant"},
		{"preferredLeader=9\n", 0, "not a participant"},
		{"preferredLeader=three\n", 0, "preferredLeader"},
	}
	for _, c := range cases {
		cfg, err := Parse(strings.NewReader(base+c.line), "zoo.cfg", nil)
		if c.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), c.errPart) {
				t.Errorf("%q: err = %v, want one mentioning %q", c.line, err, c.errPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.line, err)
			continue
		}
		if cfg.PreferredLeader != c.want {
			t.Errorf("%q: PreferredLeader = %d, want %d", c.line, cfg.PreferredLeader, c.want)
		}
		for _, w := range cfg.Warnings {
			if strings.Contains(w, "preferredLeader") {
				t.Errorf("%q: warned about a known key: %s", c.line, w)
			}
		}
	}
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDynamicConfigFile(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("data/myid", "2\n")
	write("zoo.cfg.dynamic.1a", "server.1=a:2888:3888:participant;a:2181\nserver.2=b:2888:3888:observer;0.0.0.0:2181\n")
	// The static file's own server line and missing clientPort do not
	// matter: the dynamic file supplies both.
	cfg := write("zoo.cfg", "tickTime=2000\ndataDir="+data+"\nserver.9=z:1:2\ndynamicConfigFile=zoo.cfg.dynamic.1a\n")
	c, err := Load(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers) != 2 || !c.Servers[1].Observer || c.ConfigVersion != 0x1a || c.MyID != 2 || c.ClientPort != 2181 {
		t.Fatalf("servers %+v version %x myid %d clientPort %d", c.Servers, c.ConfigVersion, c.MyID, c.ClientPort)
	}
	if got := FormatServers(c.Servers); got != "server.1=a:2888:3888:participant;a:2181\nserver.2=b:2888:3888:observer;0.0.0.0:2181\n" {
		t.Fatalf("FormatServers: %q", got)
	}

	write("zoo2.cfg", "dataDir="+data+"\ndynamicConfigFile=missing\n")
	if _, err := Load(filepath.Join(dir, "zoo2.cfg"), ""); err == nil || !strings.Contains(err.Error(), "dynamicConfigFile") {
		t.Fatalf("missing dynamic file: %v", err)
	}
}

func TestParseMembership(t *testing.T) {
	for _, c := range []struct {
		text    string
		n       int
		version uint64
		bad     bool
	}{
		{text: "server.2=b:1:2\nserver.1=a:1:2\nversion=100000003", n: 2, version: 0x100000003},
		{text: "server.1=a:1:2:observer;3", n: 1},
		{text: "version=5", bad: true},
		{text: "server.1=a:1:2\nserver.1=b:1:2", bad: true},
		{text: "server.1=a:1:2\nclientPort=5", bad: true},
		{text: "server.1=a", bad: true},
		{text: "server.1=a:1:2\nversion=xyz", bad: true},
	} {
		ms, v, err := ParseMembership(c.text)
		if c.bad {
			if err == nil {
				t.Errorf("%q: no error", c.text)
			}
			continue
		}
		if err != nil || len(ms) != c.n || v != c.version || ms[0].ID != 1 {
			t.Errorf("%q: %+v %x %v", c.text, ms, v, err)
		}
	}
}

package zkenv

import (
	"strings"
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{
			name: "zxids become ranks, zero stays zero",
			in:   []string{"a Z(0x200000005) b Z(0x3)", "c Z(0) Z(0x200000005)"},
			want: []string{"a Z2 b Z1", "c Z0 Z2"},
		},
		{
			name: "different numbering, same order, same result",
			in:   []string{"a Z(0x10) b Z(0x7)", "c Z(0) Z(0x10)"},
			want: []string{"a Z2 b Z1", "c Z0 Z2"},
		},
		{
			name: "sessions by first appearance",
			in:   []string{"owner S(0x1000abc)", "owner S(0x5) S(0x1000abc) S(0)"},
			want: []string{"owner S1", "owner S2 S1 S0"},
		},
		{
			name: "negative session id (serverId >= 128)",
			in:   []string{"S(-0x7f00000000000001)"},
			want: []string{"S1"},
		},
		{
			name: "untokenized text untouched",
			in:   []string{"Zxid: 0x5 S(", "Z(0xZZ)"},
			want: []string{"Zxid: 0x5 S(", "Z(0xZZ)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Normalize(tt.in)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatStatTokens(t *testing.T) {
	s := proto.Stat{Czxid: 5, Mzxid: 9, Pzxid: 5, Ctime: 1000, Mtime: 1000, EphemeralOwner: 0x42, DataLength: 3}
	got := FormatStat(s)
	for _, want := range []string{"czxid=Z(0x5)", "mzxid=Z(0x9)", "ctime=set", "mtime==ctime", "owner=S(0x42)", "dataLength=3"} {
		if !strings.Contains(got, want) {
			t.Errorf("FormatStat = %q, missing %q", got, want)
		}
	}
	s.Version, s.Mtime = 2, 1500
	if got := FormatStat(s); !strings.Contains(got, "mtime=>=ctime") {
		t.Errorf("written node: %q", got)
	}
	s.Mtime = 500 // mtime before ctime is never right
	if got := FormatStat(s); !strings.Contains(got, "mtime=odd(") {
		t.Errorf("mtime before ctime not flagged: %q", got)
	}
	for owner, want := range map[int64]string{
		proto.ContainerEphemeralOwner:    "owner=container",
		proto.TTLEphemeralOwner(3600000): "owner=ttl(3600000)",
		0:                                "owner=0",
	} {
		s.EphemeralOwner = owner
		if got := FormatStat(s); !strings.Contains(got, want) {
			t.Errorf("owner %#x: %q, want %q", owner, got, want)
		}
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}
	if d := UnifiedDiff("a", "b", a, a); d != "" {
		t.Fatalf("equal inputs gave a diff:\n%s", d)
	}
	b := append([]string(nil), a...)
	b[4] = "five"
	want := "--- a\n+++ b\n@@ -2 +2 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
	if d := UnifiedDiff("a", "b", a, b); d != want {
		t.Errorf("diff:\n%s\nwant:\n%s", d, want)
	}
	if d := UnifiedDiff("a", "b", a, a[:9]); !strings.Contains(d, "-10") {
		t.Errorf("removed last line not shown:\n%s", d)
	}
}

func TestFilterZkCli(t *testing.T) {
	raw := "SLF4J: Failed to load class\nConnecting to 127.0.0.1:1\nWelcome to ZooKeeper!\nJLine support is disabled\n\n" +
		"WATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\nCreated /a\n[a, zookeeper]\n" +
		"WATCHER::\n\nWatchedEvent state:Closed type:None path:null\n"
	if got, want := FilterZkCli(raw), "Created /a\n[a, zookeeper]"; got != want {
		t.Errorf("FilterZkCli = %q, want %q", got, want)
	}
}

package main

import (
	"reflect"
	"strings"
	"testing"
)

// pflag's usage block, as zkfc drill and zkfc quorum print it.
const sampleHelp = `zkfc sample: a command.

Example:
  zkfc sample -c /etc/zkfc/zkfc.yaml

Flags:
  -c, --config string               YAML configuration file (env ZKFC_CONFIG) (default "/etc/zkfc/zkfc.yaml")
      --zoo-cfg string              zoo.cfg to serve
      --to string                   graceful mode: the node to make active
      --dry-run[=true|false]        only check every node's fencing methods; change nothing
      --timeout duration            how long the whole takeover may take (default 1m0s)
`

func TestParseFlags(t *testing.T) {
	want := []flagSpec{
		{short: "c", long: "config", valueType: "string", file: true},
		{long: "zoo-cfg", valueType: "string", file: true},
		{long: "to", valueType: "string"},
		{long: "dry-run"},
		{long: "timeout", valueType: "duration"},
	}
	if got := parseFlags(sampleHelp); !reflect.DeepEqual(got, want) {
		t.Fatalf("parseFlags:\n got %+v\nwant %+v", got, want)
	}
}

func TestRoffBody(t *testing.T) {
	got := roffBody(sampleHelp)
	for _, want := range []string{
		"zkfc sample: a command.\n.PP\n\\fBExample:\\fR\n.PP\n.RS 2\n.nf\n  zkfc sample \\-c /etc/zkfc/zkfc.yaml\n.fi\n.RE\n",
		".nf\n  \\-c, \\-\\-config string",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("roffBody lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, ".nf\n"); n != strings.Count(got, ".fi\n") {
		t.Errorf("unbalanced .nf/.fi (%d .nf):\n%s", n, got)
	}
}

func TestRoffTextEscapes(t *testing.T) {
	for in, want := range map[string]string{
		`.hidden`:    `\&.hidden`,
		`'quote`:     `\&'quote`,
		`a\b --flag`: `a\eb \-\-flag`,
	} {
		if got := roffText(in); got != want {
			t.Errorf("roffText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBashCompletionCompletesFilesOnlyForFileFlags(t *testing.T) {
	got := bashCompletion([]command{{name: "sample", flags: parseFlags(sampleHelp)}})
	want := "sample) flags='--config -c --zoo-cfg --to --dry-run --timeout' values='--config -c --zoo-cfg --to --timeout' files='--config -c --zoo-cfg' ;;"
	if !strings.Contains(got, want) {
		t.Fatalf("completion lacks %q:\n%s", want, got)
	}
}

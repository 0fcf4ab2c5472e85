package transcript

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFields(t *testing.T) {
	got, err := Fields(`create  /a data="x y" acl=world:anyone:r "" q="\n"`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"create", "/a", "data=x y", "acl=world:anyone:r", "", "q=\n"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := Fields(`a "b`); err == nil {
		t.Fatal("an unterminated quote was accepted")
	}
}

const sample = `# a comment
echo one
----
old

# between
lines
a
b
----

echo two
----
two
`

// Run compares, and with -update rewrites only the outputs, keeping
// comments, commands and input lines.
func TestRunComparesAndRewrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.txt")
	if err := os.WriteFile(path, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	steps, _, err := Parse(path, sample)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 3 || steps[1].Cmd != "lines" || !reflect.DeepEqual(steps[1].Input, []string{"a", "b"}) || steps[1].Want != "" || steps[2].Want != "two" {
		t.Fatalf("parsed %+v %+v %+v", steps[0], steps[1], steps[2])
	}
	do := func(t *testing.T, s *Step) string {
		if s.Cmd == "lines" {
			return strings.Join(s.Input, "+")
		}
		return s.Arg(t, 0)
	}
	// Without -update the stale first output fails the test.
	ft := &testing.T{}
	done := make(chan struct{})
	go func() { defer close(done); Run(ft, path, do) }()
	<-done
	if !ft.Failed() {
		t.Fatal("a step whose output differs passed")
	}
	*update = true
	defer func() { *update = false }()
	Run(t, path, do)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(strings.Replace(sample, "----\nold\n", "----\none\n", 1), "b\n----\n", "b\n----\na+b\n", 1)
	if string(b) != want {
		t.Fatalf("rewrote to\n%s\nwant\n%s", b, want)
	}
	*update = false
	Run(t, path, do)
}

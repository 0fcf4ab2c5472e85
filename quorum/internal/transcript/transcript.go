// Package transcript runs tests written as scripts in testdata files: each
// step is a command, optional input lines, a "----" line and the output
// the command must print. With -update the runner writes the output it
// got back into the file instead of comparing, so a change of behaviour
// shows up as a diff of the transcript (etcd raft's data-driven tests,
// without their library). It is for tests only and must never be imported
// by production code.
//
// A transcript:
//
//	# Comments and blank lines between steps are kept as they are.
//	create /a data="x y" mode=ephemeral
//	----
//	ok /a
//
//	multi
//	create /m
//	delete /m
//	----
//	[create OK /m][delete OK]
//
// Output runs to the next blank line, so it may not contain one.
package transcript

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata transcripts with the output the test got")

// Updating reports whether the test run rewrites transcripts (-update).
func Updating() bool { return *update }

// Step is one command of a transcript.
type Step struct {
	// Pos is file:line of the command, for messages.
	Pos string
	// Cmd is the command's first word, Args the rest, split at spaces
	// outside double quotes; a quoted part is unquoted as a Go string.
	Cmd  string
	Args []string
	// Input is the lines between the command and "----".
	Input []string
	// Want is the expected output, lines joined by "\n".
	Want string

	line int // index of the "----" line in the file
	end  int // index of the first line after the output
}

// Arg returns the i-th positional argument (one without "="), or fails.
func (s *Step) Arg(t testing.TB, i int) string {
	t.Helper()
	n := 0
	for _, a := range s.Args {
		if strings.Contains(a, "=") {
			continue
		}
		if n == i {
			return a
		}
		n++
	}
	t.Fatalf("%s: %s needs at least %d arguments", s.Pos, s.Cmd, i+1)
	return ""
}

// Key returns the value of key=value among the arguments.
func (s *Step) Key(key string) (string, bool) {
	for _, a := range s.Args {
		if k, v, ok := strings.Cut(a, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Fields splits a line into words at spaces outside double quotes; a
// quoted part is unquoted as a Go string literal.
func Fields(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	has := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' {
					j++
				}
			}
			if j >= len(line) {
				return nil, fmt.Errorf("unterminated quote in %q", line)
			}
			s, err := strconv.Unquote(line[i : j+1])
			if err != nil {
				return nil, fmt.Errorf("%q: %w", line[i:j+1], err)
			}
			cur.WriteString(s)
			i, has = j, true
		case c == ' ':
			if has {
				out = append(out, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteByte(c)
			has = true
		}
	}
	if has {
		out = append(out, cur.String())
	}
	return out, nil
}

// Parse reads the steps of a transcript.
func Parse(name, text string) ([]*Step, []string, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	var steps []*Step
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		words, err := Fields(l)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
		s := &Step{Pos: fmt.Sprintf("%s:%d", name, i+1), Cmd: words[0], Args: words[1:]}
		j := i + 1
		for ; j < len(lines) && lines[j] != "----"; j++ {
			if strings.TrimSpace(lines[j]) == "" {
				return nil, nil, fmt.Errorf("%s:%d: blank line before ---- of the command at line %d", name, j+1, i+1)
			}
			s.Input = append(s.Input, lines[j])
		}
		if j == len(lines) {
			return nil, nil, fmt.Errorf("%s:%d: command without ----", name, i+1)
		}
		s.line = j
		k := j + 1
		for ; k < len(lines) && strings.TrimSpace(lines[k]) != ""; k++ {
		}
		s.Want = strings.Join(lines[j+1:k], "\n")
		s.end = k
		steps = append(steps, s)
		i = k
	}
	return steps, lines, nil
}

// Run runs every step of the transcript at path through do, in order, and
// compares what do returns with the expected output; with -update it
// rewrites the file with what do returned. do may fail the test; later
// steps then do not run.
func Run(t *testing.T, path string, do func(t *testing.T, s *Step) string) {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	steps, lines, err := Parse(path, string(text))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(steps))
	for i, s := range steps {
		out := strings.TrimRight(do(t, s), "\n")
		if t.Failed() && !*update {
			return
		}
		if strings.Contains(out, "\n\n") {
			t.Fatalf("%s: %s printed a blank line, which would end its output:\n%s", s.Pos, s.Cmd, out)
		}
		got[i] = out
		if !*update && out != s.Want {
			t.Fatalf("%s: %s\nwant:\n%s\ngot:\n%s\n(go test -run '%s' -update rewrites the transcript)", s.Pos, strings.Join(append([]string{s.Cmd}, s.Args...), " "), indent(s.Want), indent(out), t.Name())
		}
	}
	if !*update {
		return
	}
	var b strings.Builder
	prev := 0
	for i, s := range steps {
		for _, l := range lines[prev : s.line+1] {
			b.WriteString(l + "\n")
		}
		if got[i] != "" {
			b.WriteString(got[i] + "\n")
		}
		prev = s.end
	}
	for _, l := range lines[prev:] {
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("rewrote %s", path)
}

func indent(s string) string {
	if s == "" {
		return "  (nothing)"
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

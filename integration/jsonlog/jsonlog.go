// Package jsonlog checks the JSON log lines the integration tests' zkfc
// and quorum processes wrote: a line that carries a key twice is filed by
// log tools under the last value (issue 13: "node" twice in "fencing the
// previous active" put the line under the wrong node), so every harness
// that starts such a process hands its log to CheckFile when the test ends.
package jsonlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// DuplicateKeys returns the keys that occur twice in one object of the JSON
// value line, as paths ("fields.node" for a nested object), in the order
// found.
func DuplicateKeys(line []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var dups []string
	if err := walk(dec, "", &dups); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value on the line")
	}
	return dups, nil
}

// walk consumes one value from dec; path names it for the report.
func walk(dec *json.Decoder, path string, dups *[]string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key := k.(string) // the decoder guarantees a string key here
			p := key
			if path != "" {
				p = path + "." + key
			}
			if seen[key] {
				*dups = append(*dups, p)
			}
			seen[key] = true
			if err := walk(dec, p, dups); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
		return err
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walk(dec, fmt.Sprintf("%s[%d]", path, i), dups); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
		return err
	}
	return nil
}

// Problems lists, one sentence each, the lines of text that are JSON
// objects with a duplicate key, or that start like one (`{"`) and do not
// parse.
// Other lines (a panic's trace, a script's output) are not log lines and
// are skipped, as is an unterminated last line: a process killed mid-write
// leaves one.
func Problems(text string) []string {
	var out []string
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		// `{"` and not `{`: a pretty-printed document (status --json) opens
		// with a line of its own.
		if !strings.HasPrefix(line, `{"`) || (i == len(lines)-1 && line != "") {
			continue
		}
		dups, err := DuplicateKeys([]byte(line))
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("line %d is not one JSON object (%v): %s", i+1, err, line))
		case len(dups) > 0:
			out = append(out, fmt.Sprintf("line %d has key %s more than once: %s", i+1, strings.Join(dups, ", "), line))
		}
	}
	return out
}

// CheckFile fails t for every problem line of the log at path (see
// Problems). A missing file is not a problem: the process never started.
func CheckFile(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("read log %s: %v", path, err)
		}
		return
	}
	CheckText(t, path, string(b))
}

// CheckText is CheckFile for output already read; name says whose it is.
func CheckText(t testing.TB, name, text string) {
	t.Helper()
	for _, p := range Problems(text) {
		t.Errorf("log %s: %s", name, p)
	}
}

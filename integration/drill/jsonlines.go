package drill

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// The bench's per-run records (load-balancer outages, quorum outages,
// rolling restarts) are JSON-lines files: each test appends one line per
// run, so runs of several tests, and of several `go test` invocations,
// accumulate in one file that the report reads at the end.

// AppendJSONLine adds v to path as one JSON line, creating the file if
// needed. One write per line, with O_APPEND, keeps each line whole.
func AppendJSONLine(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode a record for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("append to %s: %w", path, err)
	}
	return f.Close()
}

// ReadJSONLines reads a file AppendJSONLine wrote, one T per non-empty
// line; a line that does not decode is an error naming the file and line.
func ReadJSONLines[T any](path string) ([]T, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []T
	for i, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(l, &v); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		out = append(out, v)
	}
	return out, nil
}

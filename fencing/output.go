package fencing

import (
	"fmt"
	"strings"
)

// maxOutput bounds the captured output of a fencing command.
const maxOutput = 4096

// snippet keeps command output short enough for a log line.
func snippet(b []byte) string {
	const max = 300
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}

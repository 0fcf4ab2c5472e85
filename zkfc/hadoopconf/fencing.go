package hadoopconf

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// fenceMethod is one line of dfs.ha.fencing.methods.
type fenceMethod struct {
	line int    // 1-based line in the property's value
	text string // the line as written, comment removed
	kind string // "ssh" or "shell"
	// sshfence([[user][:port]])
	user string
	port int
	// shell(cmd)
	command string
}

var (
	withArg    = regexp.MustCompile(`^(.+?)\((.*)\)$`)
	withoutArg = regexp.MustCompile(`^([^()]+)$`)
)

// The fully qualified names Hadoop also accepts for its two fencers.
const (
	sshClass   = "org.apache.hadoop.ha.SshFenceByTcpPort"
	shellClass = "org.apache.hadoop.ha.ShellCommandFencer"
)

// parseFencing reads dfs.ha.fencing.methods as Hadoop's NodeFencer does:
// one method per line, '#' starts a comment, each line name(arg) or name.
func parseFencing(value string) ([]fenceMethod, error) {
	var out []fenceMethod
	for i, line := range strings.Split(value, "\n") {
		if j := strings.Index(line, "#"); j >= 0 {
			line = line[:j]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, arg := line, ""
		if m := withArg.FindStringSubmatch(line); m != nil {
			name, arg = strings.TrimSpace(m[1]), strings.TrimSpace(m[2])
		} else if withoutArg.FindStringSubmatch(line) == nil {
			return nil, fmt.Errorf("line %d %q: want name(argument) or name", i+1, line)
		}
		m := fenceMethod{line: i + 1, text: line}
		switch name {
		case "sshfence", sshClass:
			m.kind = "ssh"
			if err := m.parseSSHArg(arg); err != nil {
				return nil, fmt.Errorf("line %d %q: %v", i+1, line, err)
			}
		case "shell", shellClass:
			if arg == "" {
				return nil, fmt.Errorf("line %d %q: shell needs a command, shell(/path/to/script)", i+1, line)
			}
			m.kind, m.command = "shell", arg
		case "powershell", "org.apache.hadoop.ha.PowerShellFencer":
			return nil, fmt.Errorf("line %d %q: powershell fencing runs on Windows; zkfc runs on Linux: use ssh, shell or lease_expired", i+1, line)
		default:
			return nil, fmt.Errorf("line %d %q: unknown fencing method %q: zkfc maps sshfence and shell (a custom Java fencer has no equivalent; wrap it in a script and use shell(...))", i+1, line, name)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lists no method")
	}
	return out, nil
}

// parseSSHArg reads sshfence's optional [[user][:port]].
func (m *fenceMethod) parseSSHArg(arg string) error {
	if arg == "" {
		return nil
	}
	user, port, hasPort := strings.Cut(arg, ":")
	m.user = strings.TrimSpace(user)
	if hasPort {
		p, err := strconv.Atoi(strings.TrimSpace(port))
		if err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("port %q is not a number from 1 to 65535", port)
		}
		m.port = p
	}
	return nil
}

// alwaysSucceeds reports whether a shell fencer's command cannot fail:
// the usual workaround that makes a fencing list succeed without fencing.
func (m fenceMethod) alwaysSucceeds() bool {
	if m.kind != "shell" {
		return false
	}
	switch strings.TrimSpace(m.command) {
	case "/bin/true", "/usr/bin/true", "true", ":", "exit 0", "/bin/true;", "true;":
		return true
	}
	return false
}

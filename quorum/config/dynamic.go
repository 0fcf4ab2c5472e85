package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// dynamicServers is what a dynamic config file holds: the membership and
// its version.
type dynamicServers struct {
	servers []Server
	version uint64
}

// DynamicFileVersion reads the version from a dynamic config file's name,
// "<anything>.dynamic.<hex version>"; ok is false for any other name.
func DynamicFileVersion(path string) (v uint64, ok bool) {
	i := strings.LastIndex(path, ".dynamic.")
	if i < 0 {
		return 0, false
	}
	v, err := strconv.ParseUint(path[i+len(".dynamic."):], 16, 64)
	return v, err == nil
}

// readDynamic reads the server.N lines (and an optional version= line) of
// the dynamicConfigFile named in the zoo.cfg at source; a relative path is
// taken from the zoo.cfg's directory.
func readDynamic(path, source string) (*dynamicServers, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(source), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: dynamicConfigFile %s: no such file; restore it (the server.N lines of the last configuration) or remove the key", source, path)
		}
		return nil, fmt.Errorf("%s: dynamicConfigFile: %w", source, err)
	}
	servers, version, err := ParseMembership(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if v, ok := DynamicFileVersion(path); ok && version == 0 {
		version = v
	}
	return &dynamicServers{servers: servers, version: version}, nil
}

// ParseMembership reads a membership as a dynamic config file or
// /zookeeper/config holds it: server.N lines and an optional
// version=<hex> line, nothing else. The servers come sorted by id.
func ParseMembership(text string) ([]Server, uint64, error) {
	list, err := readProperties(text)
	if err != nil {
		return nil, 0, err
	}
	var out []Server
	var version uint64
	seen := map[uint64]bool{}
	for _, kv := range list {
		switch {
		case kv.key == "version":
			v, err := strconv.ParseUint(kv.value, 16, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("line %d: version=%s is not a hex number", kv.line, kv.value)
			}
			version = v
		case strings.HasPrefix(kv.key, "server."):
			s, err := parseServer(kv.key, kv.value)
			if err != nil {
				return nil, 0, fmt.Errorf("line %d: %w", kv.line, err)
			}
			if seen[s.ID] {
				return nil, 0, fmt.Errorf("line %d: server id %d is defined twice", kv.line, s.ID)
			}
			seen[s.ID] = true
			out = append(out, s)
		default:
			return nil, 0, fmt.Errorf("line %d: %s does not belong in a membership (only server.N and version lines)", kv.line, kv.key)
		}
	}
	if len(out) == 0 {
		return nil, 0, errors.New("no server.N lines")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, version, nil
}

// Spec is the server.N value as ZooKeeper prints it in /zookeeper/config:
// host:peerPort:electionPort:role, then ;clientHost:clientPort when the
// line has a client port.
func (s Server) Spec() string {
	role := "participant"
	if s.Observer {
		role = "observer"
	}
	host := s.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	out := fmt.Sprintf("%s:%d:%d:%s", host, s.PeerPort, s.ElectionPort, role)
	if s.ClientPort > 0 {
		ch := s.ClientHost
		if ch == "" {
			ch = "0.0.0.0"
		}
		if strings.Contains(ch, ":") {
			ch = "[" + ch + "]"
		}
		out += fmt.Sprintf(";%s:%d", ch, s.ClientPort)
	}
	return out
}

// FormatServers renders members as the server.N lines of a dynamic config
// file or of /zookeeper/config (without its version line).
func FormatServers(servers []Server) string {
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "server.%d=%s\n", s.ID, s.Spec())
	}
	return b.String()
}

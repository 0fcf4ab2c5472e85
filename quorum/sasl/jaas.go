package sasl

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// DigestLoginModule is the JAAS login module whose user_<name>="<password>"
// options define DIGEST-MD5 users in Apache ZooKeeper.
const DigestLoginModule = "org.apache.zookeeper.server.auth.DigestLoginModule"

// DefaultSection is the JAAS section the server reads, as ZooKeeper's
// zookeeper.sasl.serverconfig defaults to.
const DefaultSection = "Server"

// ErrNoSection means the JAAS file has no section of the requested name.
// Apache ZooKeeper then runs without SASL; the caller decides.
var ErrNoSection = errors.New("sasl: JAAS section not found")

// Users maps a user name to its password.
type Users map[string]string

// ParseJAAS reads the DigestLoginModule users of the "Server" section of a
// JAAS login configuration file.
func ParseJAAS(path string) (Users, error) {
	return ParseJAASSection(path, DefaultSection)
}

// ParseJAASSection reads the DigestLoginModule users of the named section.
// The whole file must parse, so that a typo in another section is found now
// rather than by a client. Other login modules in the section are skipped.
// Errors name the file and line.
func ParseJAASSection(path, section string) (Users, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read JAAS file: %w", err)
	}
	sections, err := parseJAAS(string(data))
	if err != nil {
		return nil, fmt.Errorf("JAAS file %s:%w", path, err)
	}
	entries, ok := sections[section]
	if !ok {
		return nil, fmt.Errorf("JAAS file %s: %w: %q", path, ErrNoSection, section)
	}
	users := Users{}
	for _, e := range entries {
		if e.module != DigestLoginModule {
			continue
		}
		for _, o := range e.options {
			name, ok := strings.CutPrefix(o.key, "user_")
			if !ok {
				continue
			}
			if name == "" {
				return nil, fmt.Errorf("JAAS file %s:%d: option %q has an empty user name", path, o.line, o.key)
			}
			if _, dup := users[name]; dup {
				return nil, fmt.Errorf("JAAS file %s:%d: user %q defined twice in section %q", path, o.line, name, section)
			}
			users[name] = o.value
		}
	}
	return users, nil
}

type jaasOption struct {
	key, value string
	line       int
}

type jaasEntry struct {
	module, flag string
	options      []jaasOption
}

type jaasToken struct {
	kind byte // 'w' word, 's' quoted string, or one of { } ; =
	text string
	line int
}

var jaasFlags = map[string]bool{"required": true, "requisite": true, "sufficient": true, "optional": true}

// parseJAAS parses the grammar of Java's ConfigFile:
//
//	Section { ModuleClass Flag key=value ... ; ... };
//
// with //, /* */ and # comments and quoted values.
func parseJAAS(text string) (map[string][]jaasEntry, error) {
	toks, err := tokenizeJAAS(text)
	if err != nil {
		return nil, err
	}
	sections := make(map[string][]jaasEntry)
	i := 0
	peek := func() jaasToken {
		if i < len(toks) {
			return toks[i]
		}
		line := 1
		if len(toks) > 0 {
			line = toks[len(toks)-1].line
		}
		return jaasToken{kind: 0, text: "end of file", line: line}
	}
	expect := func(kind byte, what string) (jaasToken, error) {
		t := peek()
		if t.kind != kind {
			return t, fmt.Errorf("%d: expected %s, found %q", t.line, what, t.text)
		}
		i++
		return t, nil
	}
	// Each iteration consumes at least one token or returns an error.
	for i < len(toks) {
		name, err := expect('w', "section name")
		if err != nil {
			return nil, err
		}
		if _, dup := sections[name.text]; dup {
			return nil, fmt.Errorf("%d: section %q defined twice", name.line, name.text)
		}
		if _, err := expect('{', "'{' after section name"); err != nil {
			return nil, err
		}
		entries := []jaasEntry{}
		for peek().kind == 'w' {
			mod := toks[i]
			i++
			flag, err := expect('w', "control flag (required, requisite, sufficient, optional)")
			if err != nil {
				return nil, err
			}
			if !jaasFlags[strings.ToLower(flag.text)] {
				return nil, fmt.Errorf("%d: control flag %q of %s is not required, requisite, sufficient or optional", flag.line, flag.text, mod.text)
			}
			e := jaasEntry{module: mod.text, flag: strings.ToLower(flag.text)}
			for peek().kind == 'w' {
				key := toks[i]
				i++
				if _, err := expect('=', fmt.Sprintf("'=' after option %q", key.text)); err != nil {
					return nil, err
				}
				v := peek()
				if v.kind != 'w' && v.kind != 's' {
					return nil, fmt.Errorf("%d: option %q has no value", v.line, key.text)
				}
				i++
				e.options = append(e.options, jaasOption{key: key.text, value: v.text, line: key.line})
			}
			if _, err := expect(';', fmt.Sprintf("';' ending the %s entry", mod.text)); err != nil {
				return nil, err
			}
			entries = append(entries, e)
		}
		if _, err := expect('}', "'}' or a login module class"); err != nil {
			return nil, err
		}
		if _, err := expect(';', "';' after '}'"); err != nil {
			return nil, err
		}
		sections[name.text] = entries
	}
	return sections, nil
}

func tokenizeJAAS(text string) ([]jaasToken, error) {
	var toks []jaasToken
	line := 1
	i := 0
	for i < len(text) {
		c := text[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#' || strings.HasPrefix(text[i:], "//"):
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case strings.HasPrefix(text[i:], "/*"):
			start := line
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("%d: comment not closed", start)
			}
			line += strings.Count(text[i:i+2+end], "\n")
			i += 2 + end + 2
		case strings.IndexByte("{};=", c) >= 0:
			toks = append(toks, jaasToken{kind: c, text: string(c), line: line})
			i++
		case c == '"' || c == '\'':
			start := line
			var sb strings.Builder
			i++
			closed := false
			for i < len(text) {
				ch := text[i]
				i++
				if ch == '\\' && i < len(text) {
					ch = text[i]
					i++
				} else if ch == c {
					closed = true
					break
				}
				if ch == '\n' {
					line++
				}
				sb.WriteByte(ch)
			}
			if !closed {
				return nil, fmt.Errorf("%d: quoted string not closed", start)
			}
			toks = append(toks, jaasToken{kind: 's', text: sb.String(), line: start})
		default:
			start := i
			for i < len(text) && !strings.ContainsRune(" \t\r\n{};=\"'#", rune(text[i])) && !strings.HasPrefix(text[i:], "//") && !strings.HasPrefix(text[i:], "/*") {
				i++
			}
			toks = append(toks, jaasToken{kind: 'w', text: text[start:i], line: line})
		}
	}
	return toks, nil
}

package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// property is one key/value pair of a properties file, with the line it
// started on so that errors can point at it.
type property struct {
	key, value string
	line       int
}

// readProperties splits text into properties the way java.util.Properties
// does, because zoo.cfg files are written for that parser: '#' and '!'
// comments, '=' or ':' or whitespace between key and value, backslash line
// continuation and backslash escapes (\t \n \r \f \uXXXX, any other escaped
// character stands for itself). Keys and values are then trimmed, as
// ZooKeeper's QuorumPeerConfig does. Unlike Properties, duplicate keys are
// all returned in order; the caller decides which one wins.
func readProperties(text string) ([]property, error) {
	text = strings.TrimPrefix(text, "\uFEFF")
	lines := splitLines(text)
	var out []property
	var logical strings.Builder
	start := 0
	for i, raw := range lines {
		line := strings.TrimLeft(raw, " \t\f")
		// As in Java's LineReader, blank and comment lines are recognised
		// whenever nothing has been collected yet, even right after a
		// continuation that contributed nothing ("\" alone on a line).
		if logical.Len() == 0 {
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue
			}
			start = i + 1
		}
		// A line ending in an odd number of backslashes continues on the
		// next one (whose leading whitespace is dropped); at the end of
		// the input the lone backslash is dropped.
		if endsWithOddBackslashes(line) {
			logical.WriteString(line[:len(line)-1])
			if i+1 < len(lines) {
				continue
			}
		} else {
			logical.WriteString(line)
		}
		if logical.Len() == 0 {
			continue
		}
		key, value, err := splitKeyValue(logical.String())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		logical.Reset()
		out = append(out, property{key: javaTrim(key), value: javaTrim(value), line: start})
	}
	return out, nil
}

// javaTrim is Java's String.trim, which ZooKeeper applies to keys and
// values: it strips every character up to and including the space.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

// splitLines splits on \n, \r\n and a lone \r, the line terminators Java
// accepts.
func splitLines(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	return strings.Split(text, "\n")
}

func endsWithOddBackslashes(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue separates a logical line into its unescaped key and value.
// The key ends at the first unescaped '=', ':' or whitespace; after it come
// optional whitespace, at most one '=' or ':', and optional whitespace.
func splitKeyValue(s string) (string, string, error) {
	keyEnd := len(s)
	valStart := len(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			i++ // skip the escaped character
			continue
		}
		if c == '=' || c == ':' {
			keyEnd, valStart = i, i+1
			break
		}
		if c == ' ' || c == '\t' || c == '\f' {
			keyEnd = i
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\f') {
				j++
			}
			if j < len(s) && (s[j] == '=' || s[j] == ':') {
				j++
			}
			valStart = j
			break
		}
	}
	if keyEnd > len(s) {
		keyEnd = len(s)
	}
	rest := s[min(valStart, len(s)):]
	rest = strings.TrimLeft(rest, " \t\f")
	key, err := unescape(s[:keyEnd])
	if err != nil {
		return "", "", err
	}
	value, err := unescape(rest)
	if err != nil {
		return "", "", err
	}
	return key, value, nil
}

// unescape resolves Java properties escapes.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf(`malformed \uxxxx escape in %q`, s)
			}
			n, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf(`malformed \uxxxx escape in %q`, s)
			}
			r := rune(n)
			if !utf8.ValidRune(r) {
				r = utf8.RuneError // a lone surrogate half
			}
			b.WriteRune(r)
			i += 4
		default:
			// Any other escaped byte stands for itself; copy a whole UTF-8
			// sequence so multi-byte characters survive.
			_, size := utf8.DecodeRuneInString(s[i:])
			b.WriteString(s[i : i+size])
			i += size - 1
		}
	}
	return b.String(), nil
}

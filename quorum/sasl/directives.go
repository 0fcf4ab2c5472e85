package sasl

import (
	"fmt"
	"strings"
)

// maxDirectiveBytes bounds a token we are willing to parse. A digest
// response is a few hundred bytes; Java's DigestMD5Server refuses anything
// over 4096, and so do we, before any work is done on it.
const maxDirectiveBytes = 4096

// parseDirectives splits an RFC 2831 digest-challenge or digest-response,
// `name=value` pairs separated by commas, where value is a token or a
// quoted-string with backslash escapes. Linear white space around names,
// values and commas is skipped, and empty list elements (",,") are allowed,
// as RFC 2616's #rule says. A directive that appears twice is an error: the
// RFC requires most directives exactly once, and accepting the first or the
// last of two would let a client smuggle a value past one check and into
// another. Names are compared case-insensitively and returned lower case.
func parseDirectives(b []byte) (map[string]string, error) {
	if len(b) > maxDirectiveBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(b), maxDirectiveBytes)
	}
	out := make(map[string]string)
	i := 0
	skipLWS := func() {
		for i < len(b) && isLWS(b[i]) {
			i++
		}
	}
	// Every iteration consumes at least one byte or returns, so the loop
	// ends after at most len(b) iterations.
	for i < len(b) {
		skipLWS()
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i >= len(b) {
			break
		}
		start := i
		for i < len(b) && isTokenChar(b[i]) {
			i++
		}
		if i == start {
			return nil, fmt.Errorf("%w: unexpected %q at offset %d", ErrMalformed, b[i], i)
		}
		name := strings.ToLower(string(b[start:i]))
		skipLWS()
		if i >= len(b) || b[i] != '=' {
			return nil, fmt.Errorf("%w: directive %q has no value", ErrMalformed, name)
		}
		i++
		skipLWS()
		var value string
		if i < len(b) && b[i] == '"' {
			i++
			var sb strings.Builder
			closed := false
			for i < len(b) {
				c := b[i]
				i++
				if c == '\\' {
					if i >= len(b) {
						break
					}
					sb.WriteByte(b[i])
					i++
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				sb.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("%w: unterminated quoted value of %q", ErrMalformed, name)
			}
			value = sb.String()
		} else {
			vstart := i
			for i < len(b) && isTokenChar(b[i]) {
				i++
			}
			value = string(b[vstart:i])
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%w: directive %q appears more than once", ErrMalformed, name)
		}
		out[name] = value
		skipLWS()
		if i < len(b) && b[i] != ',' {
			return nil, fmt.Errorf("%w: expected ',' after %q, got %q", ErrMalformed, name, b[i])
		}
	}
	return out, nil
}

// quote renders s as an RFC 2831 quoted-string.
func quote(s string) string {
	var sb strings.Builder
	sb.Grow(len(s) + 2)
	sb.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(s[i])
	}
	sb.WriteByte('"')
	return sb.String()
}

func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isTokenChar reports whether c may appear in an RFC 2616 token: any
// visible ASCII character except the separators.
func isTokenChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	return !strings.ContainsRune("()<>@,;:\\\"/[]?={}", rune(c))
}

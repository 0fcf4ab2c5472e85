package tree

import "unicode/utf8"

// validPath is ZooKeeper's PathUtils.validatePath: not empty, starts with
// '/', no trailing '/' except the root, no empty, "." or ".." segment, no
// NUL, and none of the characters Java rejects (controls, U+007F-U+009F,
// U+D800-U+F8FF, U+FFF0-U+FFFF). Java checks UTF-16 units, so every rune
// outside the BMP (a surrogate pair in Java) is rejected too, as is
// invalid UTF-8, which Java would have decoded to U+FFFD.
func validPath(p string) bool {
	if len(p) == 0 || p[0] != '/' {
		return false
	}
	if len(p) == 1 {
		return true
	}
	if p[len(p)-1] == '/' {
		return false
	}
	segStart := 1
	for i := 1; i < len(p); {
		r, size := utf8.DecodeRuneInString(p[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return false
		case r == '/':
			if !validSegment(p[segStart:i]) {
				return false
			}
			segStart = i + 1
		case r < 0x20, r >= 0x7f && r <= 0x9f, r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0:
			return false
		}
		i += size
	}
	return validSegment(p[segStart:])
}

func validSegment(s string) bool {
	return s != "" && s != "." && s != ".."
}

package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// documented reads the key tables of configs/README.md: the keys of each
// row's first cell ("a.{b,c}" stands for a.b and a.c) and its default.
func documented(t *testing.T) map[string]string {
	b, err := os.ReadFile("../../configs/README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `?([a-z_.\\[\\]{},]+)`? \\| ([^|]*) \\|")
	brace := regexp.MustCompile(`^(.*)\{([^}]*)\}(.*)$`)
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		keys := []string{m[1]}
		if bm := brace.FindStringSubmatch(m[1]); bm != nil {
			keys = nil
			for _, k := range strings.Split(bm[2], ",") {
				keys = append(keys, bm[1]+k+bm[3])
			}
		}
		for _, k := range keys {
			out[k] = strings.TrimSpace(m[2])
		}
	}
	return out
}

// Every configuration key is in a key table of configs/README.md with its
// default, and the table names no key the loader does not know.
func TestEveryKeyDocumented(t *testing.T) {
	docs := documented(t)
	known := map[string]bool{}
	for _, k := range keys(true) {
		known[k] = true
		def, ok := docs[k]
		if !ok {
			t.Errorf("configs/README.md: key %s is in no key table", k)
		} else if def == "" {
			t.Errorf("configs/README.md: key %s has no default in its row", k)
		}
	}
	for k := range docs {
		if !known[k] && strings.Contains(k, ".") {
			t.Errorf("configs/README.md documents %s, which is not a key", k)
		}
	}
	// The defaults the loader applies are the ones the table states.
	for key, def := range defaults() {
		want := def
		if d, err := time.ParseDuration(toString(def)); err == nil {
			want = d
		}
		got := docs[key]
		if gd, err := time.ParseDuration(got); err == nil {
			if gd != want {
				t.Errorf("configs/README.md: %s default %q, the loader's is %v", key, got, def)
			}
			continue
		}
		if !strings.HasPrefix(got, toString(def)) {
			t.Errorf("configs/README.md: %s default %q, the loader's is %v", key, got, def)
		}
	}
}

func toString(v any) string { return fmt.Sprint(v) }

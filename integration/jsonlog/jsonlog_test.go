package jsonlog

import (
	"reflect"
	"strings"
	"testing"
)

func TestDuplicateKeys(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{`{"level":"info","node":"nn2","msg":"fencing the previous active","target":"nn1"}`, nil},
		// The defect of issue 13: the logger's own field and the call's.
		{`{"level":"info","node":"nn2","msg":"fencing the previous active","node":"nn1"}`, []string{"node"}},
		{`{"a":1,"b":{"c":1,"c":2},"d":[{"e":1,"e":2},{"e":3}]}`, []string{"b.c", "d[0].e"}},
		{`{"a":{"x":1},"b":{"x":1}}`, nil},          // the same key in two objects
		{`{"a":"{\"k\":1,\"k\":2}"}`, nil},          // a string that looks like JSON
		{`{"a":1,"a":1,"a":1}`, []string{"a", "a"}}, // every repeat counts
		{`{"x":[1,[2,{"y":true,"y":null}]],"z":{}}`, []string{"x[1][1].y"}},
	} {
		got, err := DuplicateKeys([]byte(tc.line))
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: duplicates %q, want %q", tc.line, got, tc.want)
		}
	}
	for _, bad := range []string{`{"a":1`, `{"a":1}{"b":2}`, `{"a":}`} {
		if _, err := DuplicateKeys([]byte(bad)); err == nil {
			t.Errorf("%s: parsed, want an error", bad)
		}
	}
}

func TestProblems(t *testing.T) {
	text := strings.Join([]string{
		`{"level":"info","node":"nn1","msg":"ok"}`,
		`panic: something`, // not a log line
		`{"level":"info","node":"nn1","node":"nn2"}`,
		`{"level":"info",`,
		`{"msg":"killed mid-wri`, // unterminated last line
	}, "\n")
	got := Problems(text)
	if len(got) != 2 || !strings.Contains(got[0], "line 3 has key node more than once") || !strings.Contains(got[1], "line 4 is not one JSON object") {
		t.Fatalf("Problems = %q", got)
	}
}

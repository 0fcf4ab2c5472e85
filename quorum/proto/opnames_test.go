package proto

import "testing"

func TestOpNames(t *testing.T) {
	for _, tc := range []struct {
		op          int32
		long, short string
	}{
		{OpGetData, "getData", "GETD"},
		{OpCreateTTL, "createTTL", "CREA"},
		{OpCloseSession, "closeSession", "CLOS"},
		{OpSASL, "sasl", "NA"},
		{OpCreateSession, "unknown", "NA"}, // never a client request
		{999, "unknown", "NA"},
	} {
		if got := OpName(tc.op); got != tc.long {
			t.Errorf("OpName(%d) = %q, want %q", tc.op, got, tc.long)
		}
		if got := OpShortName(tc.op); got != tc.short {
			t.Errorf("OpShortName(%d) = %q, want %q", tc.op, got, tc.short)
		}
	}
	// Metrics label by the long name: two opcodes must never share one.
	seen := map[string]int32{}
	for _, op := range ClientOps() {
		if prev, dup := seen[OpName(op)]; dup {
			t.Errorf("opcodes %d and %d are both named %q", prev, op, OpName(op))
		}
		seen[OpName(op)] = op
	}
}

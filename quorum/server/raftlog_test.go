package server

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// raft's note about an acknowledged write whose entries were replaced is
// routine with asynchronous storage writes: debug, not info. Other notes
// (elections, terms) stay at info.
func TestRaftLoggerDemotesTruncatedWriteNote(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := raftLogger{zap.New(core).Sugar()}
	l.Infof("entry at index %d missing from unstable log; ignoring", 7)
	l.Infof("%x became leader at term %d", 3, 2)
	got := logs.All()
	if len(got) != 1 || got[0].Message != "3 became leader at term 2" {
		t.Fatalf("info lines %v, want only the election", got)
	}
}

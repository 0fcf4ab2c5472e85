package storage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

const crashDirEnv = "ZKFC_STORAGE_CRASH_DIR"

// crashData is the content of entry i, so the parent can check it.
func crashData(i uint64) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, int(i%300)) }

// TestCrashHelper is the child of TestCrashKill9: it appends batches and
// prints each acknowledged index until it is killed (or, so that it can
// never run away, until it has written a bounded number of batches).
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child process of TestCrashKill9 only")
	}
	var w *WAL
	var err error
	if Exist(dir) {
		w, err = OpenWithOptions(dir, zap.NewNop(), testOpts)
	} else {
		w, err = CreateWithOptions(dir, zap.NewNop(), testOpts)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	_, es, err := w.ReadAll(Pos{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "readall:", err)
		os.Exit(2)
	}
	next := uint64(len(es)) + 1
	for n := 0; n < 100_000; n++ {
		size := uint64(rand.IntN(8) + 1)
		batch := make([]*raftpb.Entry, 0, size)
		for i := next; i < next+size; i++ {
			e := ent(i, 1, "")
			e.Data = crashData(i)
			batch = append(batch, e)
		}
		next += size
		if err := w.Save(hardst(1, 1, next-1), batch); err != nil {
			fmt.Fprintln(os.Stderr, "save:", err)
			os.Exit(2)
		}
		// Printed only after Save returned: each line is an acknowledgment.
		if _, err := fmt.Fprintf(os.Stdout, "ack %d\n", next-1); err != nil {
			os.Exit(3)
		}
	}
	os.Exit(0)
}

// TestCrashKill9 kills a writer at a random moment, several times over the
// same log, and checks that every index the writer acknowledged is there.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	dir := t.TempDir()
	var acked uint64
	for round := 0; round < 4; round++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 50 + rand.IntN(1500)
		sc := bufio.NewScanner(out)
		lines := 0
		for sc.Scan() { // ends at EOF, after the kill or the child's exit
			line := sc.Text()
			if !strings.HasPrefix(line, "ack ") {
				continue
			}
			i, err := strconv.ParseUint(strings.TrimPrefix(line, "ack "), 10, 64)
			if err != nil {
				t.Fatalf("child printed %q", line)
			}
			acked = max(acked, i)
			if lines++; lines == killAfter {
				cmd.Process.Kill() // SIGKILL: no deferred code, no Close
			}
		}
		err = cmd.Wait()
		cancel()
		if lines < killAfter {
			t.Fatalf("round %d: child stopped after %d acks (%v): %s", round, lines, err, stderr.String())
		}

		w := mustOpen(t, dir, nil)
		hs, es := mustReadAll(t, w, Pos{})
		w.Close()
		if uint64(len(es)) < acked {
			t.Fatalf("round %d: log has %d entries, child acknowledged %d", round, len(es), acked)
		}
		for k, e := range es {
			if e.GetIndex() != uint64(k+1) || !bytes.Equal(e.GetData(), crashData(e.GetIndex())) {
				t.Fatalf("round %d: entry %d is %v", round, k+1, e)
			}
		}
		if hs.commit < acked {
			t.Fatalf("round %d: HardState commit %d below acknowledged %d", round, hs.commit, acked)
		}
		t.Logf("round %d: killed after %d acks; %d acknowledged, %d in log, %d segments",
			round, killAfter, acked, len(es), len(segmentFiles(t, dir)))
	}
}

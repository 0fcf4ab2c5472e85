package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/zkfc-project/zkfc/quorum/backup"
	"github.com/zkfc-project/zkfc/quorum/server"
	"github.com/zkfc-project/zkfc/quorum/tree"
	"github.com/zkfc-project/zkfc/quorum/zkimport"
)

// quorumDataCommands are the `zkfc quorum` subcommands that move a
// member's data rather than serve it.
var quorumDataCommands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"import":  quorumImport,
	"backup":  quorumBackup,
	"restore": quorumRestore,
}

const quorumImportUsage = `zkfc quorum import: take over a stopped Apache ZooKeeper server's data.

Reads the ZooKeeper 3.x dataDir (version-2/snapshot.* and log.*, every
checksum verified) of a stopped server or ensemble member and writes a
zkfc quorum data directory holding the same state: every znode with its
data, ACL and stat, the open sessions with their timeouts and ephemerals,
and the zxid sequence, which continues after ZooKeeper's. Start
'zkfc quorum' on it within the sessions' timeout and clients reconnect to
their sessions. A damaged or truncated file stops the import, naming the
file and byte offset, and nothing is written.

The target must not exist, be empty, or hold only myid.

Examples:
  zkfc quorum import --from /var/lib/zookeeper --to /var/lib/zkfc/quorum
  zkfc quorum import --from /data/zk --from-log-dir /logs/zk --to /var/lib/zkfc/quorum
`

const quorumRestoreUsage = `zkfc quorum restore: seed a new member from a backup.

Verifies a backup file written by 'zkfc quorum backup' (its SHA-256 and
the tree's own checksum) and puts it in a new data directory, which
'zkfc quorum' starts from. Restore every member of a new ensemble from the
same file; the target must not exist, be empty, or hold only myid.

Example:
  zkfc quorum restore --from /backups/quorum-20260101.zkfcbak --to /var/lib/zkfc/quorum
`

const quorumBackupUsage = `zkfc quorum backup: copy a running member's data, consistent at one zxid.

Asks a running member (its admin server, admin.serverPort) for its tree at
the index it has applied, writes the file and verifies it. The member keeps
serving; writes pause only while the tree is copied in memory. A backup
holds every znode whatever its ACL, so members serve it to clients on their
own host only: run this on the member's host (or through an SSH tunnel).
The file format is described in docs/backup.md.

Example:
  zkfc quorum backup --admin-url http://127.0.0.1:8080 --to /backups/quorum.zkfcbak
`

// quorumSubcommand runs a data subcommand if args names one.
func quorumSubcommand(args []string, stdout, stderr io.Writer) (int, bool) {
	if len(args) == 0 {
		return 0, false
	}
	run, ok := quorumDataCommands[args[0]]
	if !ok {
		return 0, false
	}
	return run(args[1:], stdout, stderr), true
}

// seedArgs parses the --from and --to flags import and restore share
// (addFlags adds a command's own) and refuses a target holding data.
func seedArgs(name, usage, fromHelp string, args []string, stderr io.Writer, addFlags func(*pflag.FlagSet)) (from, to string, code int, done bool) {
	fs := newFlagSet(name, usage)
	fs.SetOutput(stderr)
	fs.StringVar(&from, "from", "", fromHelp)
	if addFlags != nil {
		addFlags(fs)
	}
	fs.StringVar(&to, "to", "", "zkfc quorum dataDir to create")
	if code, done := parseFlags(fs, args); done {
		return "", "", code, true
	}
	if from == "" || to == "" {
		fmt.Fprintf(stderr, "zkfc %s: --from and --to are required; see --help\n", name)
		return "", "", 2, true
	}
	if err := checkEmptyTarget(to); err != nil {
		fmt.Fprintf(stderr, "zkfc %s: %v\n", name, err)
		return "", "", 1, true
	}
	return from, to, 0, false
}

func quorumImport(args []string, stdout, stderr io.Writer) int {
	var fromLogs string
	from, to, code, done := seedArgs("quorum import", quorumImportUsage, "ZooKeeper dataDir (holds version-2/snapshot.*)", args, stderr,
		func(fs *pflag.FlagSet) {
			fs.StringVar(&fromLogs, "from-log-dir", "", "ZooKeeper dataLogDir, if not the dataDir")
		})
	if done {
		return code
	}
	start := time.Now()
	res, err := zkimport.Load(from, fromLogs)
	if err != nil {
		fmt.Fprintf(stderr, "zkfc quorum import: %v\nnothing was written to %s\n", err, to)
		return 1
	}
	h := backup.Header{Index: uint64(res.Zxid()), Created: time.Now()}
	if err := writeSeed(to, func(w io.Writer) error { return backup.Write(w, h, res.Tree.WriteSnapshot) }); err != nil {
		fmt.Fprintf(stderr, "zkfc quorum import: %v\nnothing was written to %s\n", err, to)
		return 1
	}
	fmt.Fprintf(stdout, "imported %d znodes and %d sessions from %s (+%d transactions from %d logs)\n",
		res.Nodes, res.Sessions, res.Snapshot, res.Txns, len(res.Logs))
	fmt.Fprintf(stdout, "last zxid 0x%x, epoch %d: the quorum resumes at zxid 0x%x\n", res.LastZxid, res.Epoch, res.Zxid())
	for _, p := range res.DroppedEphemerals {
		fmt.Fprintf(stdout, "dropped ephemeral %s of a session that had ended (ZooKeeper drops it on load too)\n", p)
	}
	fmt.Fprintf(stdout, "wrote %s in %v, peak memory %s\n", server.SeedPath(to), time.Since(start).Round(time.Millisecond), peakMemory())
	return 0
}

func quorumRestore(args []string, stdout, stderr io.Writer) int {
	from, to, code, done := seedArgs("quorum restore", quorumRestoreUsage, "backup file written by zkfc quorum backup", args, stderr, nil)
	if done {
		return code
	}
	t, h, err := verifyBackup(from)
	if err != nil {
		fmt.Fprintf(stderr, "zkfc quorum restore: %v\nnothing was written to %s\n", err, to)
		return 1
	}
	err = writeSeed(to, func(w io.Writer) error {
		f, err := os.Open(from)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if err != nil {
		fmt.Fprintf(stderr, "zkfc quorum restore: %v\nnothing was written to %s\n", err, to)
		return 1
	}
	fmt.Fprintf(stdout, "restored %d znodes and %d sessions at zxid 0x%x (backup taken %s) into %s\n",
		t.NodeCount(), len(t.Sessions()), h.Index, h.Created.UTC().Format(time.RFC3339), server.SeedPath(to))
	return 0
}

func quorumBackup(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("quorum backup", quorumBackupUsage)
	fs.SetOutput(stderr)
	url := fs.String("admin-url", "http://127.0.0.1:8080", "the member's admin server (admin.serverAddress:admin.serverPort)")
	to := fs.String("to", "", "backup file to write (must not exist)")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *to == "" {
		fmt.Fprintln(stderr, "zkfc quorum backup: --to is required; see --help")
		return 2
	}
	if _, err := os.Lstat(*to); err == nil {
		fmt.Fprintf(stderr, "zkfc quorum backup: %s exists; choose a new file name\n", *to)
		return 1
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := fetchBackup(ctx, strings.TrimRight(*url, "/")+server.BackupPath, *to); err != nil {
		fmt.Fprintf(stderr, "zkfc quorum backup: %v\n", err)
		return 1
	}
	t, h, err := verifyBackup(*to)
	if err != nil {
		os.Remove(*to)
		fmt.Fprintf(stderr, "zkfc quorum backup: the member sent a damaged backup: %v\n", err)
		return 1
	}
	st, _ := os.Stat(*to)
	fmt.Fprintf(stdout, "backup of %d znodes and %d sessions at zxid 0x%x written to %s (%d bytes) in %v\n",
		t.NodeCount(), len(t.Sessions()), h.Index, *to, st.Size(), time.Since(start).Round(time.Millisecond))
	return 0
}

// fetchBackup downloads a backup into a temporary file beside to and
// renames it into place once it is complete and on disk.
func fetchBackup(ctx context.Context, url, to string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("--admin-url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ask %s: %w (is admin.enableServer on and the member running?)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	tmp, err := os.CreateTemp(filepath.Dir(to), "."+filepath.Base(to)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return fmt.Errorf("download %s: %w", url, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), to)
}

// verifyBackup checks a backup file end to end: its SHA-256, then the
// whole tree decoded with its own checks.
func verifyBackup(path string) (*tree.Tree, backup.Header, error) {
	b, err := backup.Open(path)
	if err != nil {
		return nil, backup.Header{}, err
	}
	defer b.Close()
	t, err := tree.Restore(b.Tree())
	if err != nil {
		return nil, backup.Header{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, b.Header, nil
}

// checkEmptyTarget refuses a data directory that holds anything but a
// myid file: seeding over existing data would silently replace it.
func checkEmptyTarget(dir string) error {
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--to %s: %w", dir, err)
	}
	for _, de := range des {
		if de.Name() != "myid" {
			return fmt.Errorf("--to %s is not empty (it holds %s): give a new directory, or move the old data away first", dir, de.Name())
		}
	}
	return nil
}

// writeSeed writes the seed of a new data directory: into a temporary
// directory inside it first, renamed to version-2 once the file is on
// disk, so that a failure leaves no partial data directory behind.
func writeSeed(dir string, write func(io.Writer) error) (err error) {
	created := false
	if _, statErr := os.Stat(dir); errors.Is(statErr, os.ErrNotExist) {
		created = true
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(dir, ".seed-*")
	if err != nil {
		return err
	}
	defer func() {
		os.RemoveAll(tmp)
		if err != nil && created {
			os.Remove(dir)
		}
	}()
	final := server.SeedPath(dir)
	f, err := os.OpenFile(filepath.Join(tmp, filepath.Base(final)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", final, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", final, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", final, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Dir(final)); err != nil {
		return fmt.Errorf("move the seed into place: %w", err)
	}
	return syncDirectory(dir)
}

func syncDirectory(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// peakMemory is this process's peak resident memory (VmHWM).
func peakMemory() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "unknown"
}

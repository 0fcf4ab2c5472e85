// Package harness is the one way integration tests and benchmarks start
// and control real processes on this machine:
//
//   - Proc: a process in its own group with its output in a log file, and
//     one set of verbs: Terminate (SIGTERM, bounded wait), Kill (SIGKILL,
//     bounded wait), Freeze and Thaw (SIGSTOP and SIGCONT).
//   - StartServer and StartEnsemble: Apache ZooKeeper 3.8 (the reference)
//     or our quorum (`$ZKFC_BIN quorum --zoo-cfg FILE`), standalone or as
//     an ensemble, from the same zoo.cfg files, behind the same *Server.
//   - Proxy: a TCP proxy that can cut the traffic it carries the way a
//     network partition does.
//   - FreePort, WaitFor, FourLetterWord; InNetns (a command inside a
//     network namespace), Tail (a log's last lines), RepoRoot.
//
// The roles file the demo services write, and its checker, are in
// examples/demo-service/roles. What is specific to one kind of test stays
// in its package: zkenv (client tools, transcripts, the raw wire
// protocol, the go-zookeeper dial), zkfcenv (the zkfc daemon and the demo service), drill (the
// failover drills' cluster, observer and network namespaces).
//
// It must never reach anything but loopback or a network namespace the
// test created (Options.Place), never leave a process behind a finished
// test (everything it starts is killed by t.Cleanup, and by the kernel if
// the test binary dies), and never wait without a bound.
package harness

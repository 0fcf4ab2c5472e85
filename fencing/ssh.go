package fencing

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/zkfc-project/zkfc/zkfc/proc"
)

// Host key verification failures, wrapped by the ssh method's errors.
var (
	ErrHostKeyUnknown  = errors.New("ssh host key unknown")
	ErrHostKeyMismatch = errors.New("ssh host key mismatch")
)

// sshMethod logs into the target and runs a command that kills the service
// and confirms it is gone. Unlike Hadoop's sshfence it verifies the host
// key, bounds connect and command with deadlines (on both ends: the remote
// command runs under coreutils timeout), and counts only exit status 0.
type sshMethod struct {
	cfg            SSHConfig
	lg             *zap.Logger
	signer         ssh.Signer // from KeyFile; nil when only the agent is used
	defaultCommand bool
}

func (m *sshMethod) Name() string { return "ssh" }

func (m *sshMethod) Fence(ctx context.Context, t Target) error {
	out, err := m.loginAndRun(ctx, t, "fence", func() string { return remoteLine(ctx, t, m.cfg.Command) })
	if err != nil {
		return err
	}
	m.lg.Info("ssh fence command confirmed", zap.String("target", t.NodeID),
		zap.String("host", m.addr(t)), zap.String("output", string(out)))
	return nil
}

// Check logs in and makes sure the tools the fence command needs exist,
// without running it.
func (m *sshMethod) Check(ctx context.Context, t Target) error {
	tools := "timeout"
	if m.defaultCommand {
		tools += " fuser ss"
	}
	script := `for tool in ` + tools + `; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool not found on the target" >&2; exit 127; }
done`
	_, err := m.loginAndRun(ctx, t, "check", func() string { return "exec /bin/sh -c " + shQuote(script) })
	return err
}

// loginAndRun checks the target, logs in and runs the command line made by line,
// which is called after the login so that it can spend only the time left
// in ctx. step ("fence", "check") names the step in the error.
func (m *sshMethod) loginAndRun(ctx context.Context, t Target, step string, line func() string) ([]byte, error) {
	if err := m.checkTarget(t); err != nil {
		return nil, err
	}
	client, closeAll, err := m.dial(ctx, t)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	out, err := runRemote(ctx, client, line())
	if err != nil {
		return out, fmt.Errorf("ssh %s %s@%s: %w; output: %s", step, m.cfg.User, m.addr(t), explainExit(ctx, err), proc.Snippet(out, maxSnippet))
	}
	return out, nil
}

func (m *sshMethod) addr(t Target) string { return joinHostPort(t.Host, m.cfg.Port) }

func (m *sshMethod) checkTarget(t Target) error {
	if t.Host == "" {
		return fmt.Errorf("ssh fence: target %s has no host", t.NodeID)
	}
	if m.defaultCommand && (t.Port < 1 || t.Port > 65535) {
		return fmt.Errorf("ssh fence: target %s has no valid service port (%d) for the default command", t.NodeID, t.Port)
	}
	return nil
}

// dial connects, verifies the host key and authenticates, all within
// ConnectTimeout and ctx. The returned func releases everything; until it
// is called, the end of ctx closes the connection, which interrupts any
// session on it.
func (m *sshMethod) dial(ctx context.Context, t Target) (*ssh.Client, func(), error) {
	addr := m.addr(t)
	cctx, cancel := context.WithTimeout(ctx, m.cfg.ConnectTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(cctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh connect %s: %w", addr, err)
	}
	stopClose := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*ssh.Client, func(), error) {
		stopClose()
		conn.Close()
		return nil, nil, err
	}
	if dl, ok := cctx.Deadline(); ok {
		_ = conn.SetDeadline(dl) // the handshake has no context of its own
	}
	hostKeys, algos, err := m.hostKeyCallback(addr, conn.RemoteAddr())
	if err != nil {
		return fail(err)
	}
	auth, closeAgent, err := m.auth(cctx)
	if err != nil {
		return fail(err)
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User:              m.cfg.User,
		Auth:              auth,
		HostKeyCallback:   hostKeys,
		HostKeyAlgorithms: algos,
	})
	if err != nil {
		closeAgent()
		if ctx.Err() == nil && (cctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)) {
			err = fmt.Errorf("no SSH handshake within connect_timeout %s: %w", m.cfg.ConnectTimeout, err)
		}
		return fail(fmt.Errorf("ssh %s@%s: %w", m.cfg.User, addr, err))
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	return client, func() { stopClose(); client.Close(); closeAgent() }, nil
}

// auth offers the key file's key first, then the agent's.
func (m *sshMethod) auth(ctx context.Context) ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	if m.signer != nil {
		signers = append(signers, m.signer)
	}
	closeAgent := func() {}
	if m.cfg.UseAgent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", sock)
		switch {
		case err == nil:
			closeAgent = func() { conn.Close() }
			agentSigners, err := agent.NewClient(conn).Signers()
			if err != nil && m.signer == nil {
				conn.Close()
				return nil, nil, fmt.Errorf("ssh agent at SSH_AUTH_SOCK=%q: %w", sock, err)
			}
			signers = append(signers, agentSigners...)
		case m.signer == nil:
			return nil, nil, fmt.Errorf("ssh agent at SSH_AUTH_SOCK=%q: %w", sock, err)
		default:
			m.lg.Warn("ssh agent unavailable; using the key file only", zap.String("ssh_auth_sock", sock), zap.Error(err))
		}
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, closeAgent, nil
}

// hostKeyCallback rereads known_hosts on every connection, so a key the
// operator adds takes effect without a restart. It also returns the host
// key algorithms known_hosts holds for addr: otherwise the server may pick
// a key type that is not on file and the handshake fails as a mismatch.
func (m *sshMethod) hostKeyCallback(addr string, remote net.Addr) (ssh.HostKeyCallback, []string, error) {
	if m.cfg.InsecureIgnoreHostKey {
		m.lg.Error("SSH fencing WITHOUT host key verification (insecure_ignore_host_key)", zap.String("host", addr))
		return ssh.InsecureIgnoreHostKey(), nil, nil
	}
	file := m.cfg.KnownHostsFile
	kh, err := knownhosts.New(file)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh known_hosts_file: %w", err)
	}
	cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := kh(hostname, remote, key)
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) {
			return err
		}
		fp := ssh.FingerprintSHA256(key)
		host, port, _ := net.SplitHostPort(hostname)
		if len(ke.Want) == 0 {
			return fmt.Errorf("%w: %s offered %s key %s, which is not in %s; "+
				"check that fingerprint with the host's administrator, then add the key: "+
				"ssh-keyscan -p %s %s >> %s", ErrHostKeyUnknown, hostname, key.Type(), fp, file, port, host, file)
		}
		w := ke.Want[0]
		return fmt.Errorf("%w: %s offered %s key %s, but %s:%d holds a different key (%s): "+
			"the host was reinstalled or the connection is intercepted; refusing to fence through it. "+
			"If the change is expected, verify the new key and replace the entry (ssh-keygen -R '%s' -f %s)",
			ErrHostKeyMismatch, hostname, key.Type(), fp, w.Filename, w.Line,
			ssh.FingerprintSHA256(w.Key), knownhosts.Normalize(hostname), file)
	}
	return cb, knownAlgorithms(kh, addr, remote), nil
}

// probeKey is a fresh key no known_hosts file can hold; asking knownhosts
// about it yields the keys that are on file for a host.
var probeKey = sync.OnceValue(func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("generate probe key: %v", err))
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(fmt.Sprintf("probe key: %v", err))
	}
	return k
})

func knownAlgorithms(kh ssh.HostKeyCallback, addr string, remote net.Addr) []string {
	var ke *knownhosts.KeyError
	if err := kh(addr, remote, probeKey()); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil // unknown host: the handshake will fail with a clear error
	}
	seen := map[string]bool{}
	var algos []string
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				algos = append(algos, x)
			}
		}
	}
	for _, w := range ke.Want {
		if w.Key.Type() == ssh.KeyAlgoRSA {
			// An RSA key signs with any of these; prefer SHA-2.
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
			continue
		}
		add(w.Key.Type())
	}
	return algos
}

// runRemote runs line in a new session and returns its combined output.
// When ctx ends the remote process is sent SIGKILL (if the server honours
// signal requests) and the connection is closed.
func runRemote(ctx context.Context, client *ssh.Client, line string) ([]byte, error) {
	sess, err := client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	defer sess.Close()
	out := proc.NewBuffer(maxOutput)
	sess.Stdout, sess.Stderr = out, out
	stop := context.AfterFunc(ctx, func() {
		_ = sess.Signal(ssh.SIGKILL)
		client.Close()
	})
	defer stop()
	err = sess.Run(line)
	return out.Bytes(), err
}

// remoteLine builds the command sent to sshd. The target's values become
// exported variables, each single-quoted for the shell (integers are
// formatted, never copied from text), and the operator's command runs
// under coreutils timeout so it dies on the target when the method's
// deadline passes even if the connection is already gone. The outer
// "exec /bin/sh -c" keeps the login shell, which may not be POSIX, out of it.
func remoteLine(ctx context.Context, t Target, command string) string {
	secs := int(DefaultSSHTimeout / time.Second)
	if dl, ok := ctx.Deadline(); ok {
		secs = int(time.Until(dl) / time.Second)
	}
	secs = max(secs, 1)
	var assigns []string
	for _, kv := range targetEnv(t) {
		k, v, _ := strings.Cut(kv, "=")
		assigns = append(assigns, k+"="+shQuote(v))
	}
	inner := "export " + strings.Join(assigns, " ") +
		"; exec timeout -s KILL " + strconv.Itoa(secs) + " /bin/sh -c " + shQuote(command)
	return "exec /bin/sh -c " + shQuote(inner)
}

// shQuote quotes s as one POSIX shell word.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// explainExit turns a session error into words an operator can act on.
func explainExit(ctx context.Context, err error) error {
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("remote command interrupted: %w", ctx.Err())
	case errors.As(err, &ee) && ee.ExitStatus() == 127:
		return fmt.Errorf("a command or tool is missing on the target (exit status 127): %w", err)
	case errors.As(err, &ee) && ee.ExitStatus() == 128+9:
		return fmt.Errorf("remote command killed at its deadline: %w", err)
	case errors.As(err, &missing):
		return fmt.Errorf("remote command ended without an exit status, so the fence is unconfirmed: %w", err)
	default:
		return err
	}
}

package fencing

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Default per-method timeouts.
const (
	DefaultGracefulTimeout   = 5 * time.Second
	DefaultSSHTimeout        = 30 * time.Second
	DefaultShellTimeout      = 30 * time.Second
	DefaultSSHConnectTimeout = 10 * time.Second
)

// MethodConfig is one entry of fencing.methods.
type MethodConfig struct {
	Type    string        // "lease_expired", "graceful", "ssh" or "shell"
	Timeout time.Duration // whole method, connect and command included
	SSH     *SSHConfig
	Shell   *ShellConfig
}

// SSHConfig configures the ssh method.
type SSHConfig struct {
	User     string // required
	Port     int    // default 22
	KeyFile  string // private key; must be mode 0600 or stricter
	UseAgent bool   // also offer the keys of the agent at $SSH_AUTH_SOCK
	// KnownHostsFile verifies the target's host key (required unless
	// InsecureIgnoreHostKey). Unknown or changed keys are refused.
	KnownHostsFile string
	// InsecureIgnoreHostKey skips host key verification. Explicit opt-out
	// only; logged as an error at start and on every use.
	InsecureIgnoreHostKey bool
	ConnectTimeout        time.Duration // TCP connect + SSH handshake; default 10s
	// Command runs on the target through /bin/sh with ZKFC_TARGET_* set
	// (see DefaultSSHCommand). It must exit 0 only once the service is
	// confirmed dead. Default DefaultSSHCommand.
	Command string
}

// ShellConfig configures the shell method.
type ShellConfig struct {
	Command []string // argv, run without a shell unless it names one
	Env     []string // KEY=value, added to the daemon's environment
}

// DefaultSSHCommand kills whatever has the service port open and succeeds
// only when ss confirms no listener is left. fuser alone cannot confirm:
// run as a user who cannot see the service's processes it finds nothing
// and reports nothing to kill. A missing tool exits 127, a failure.
const DefaultSSHCommand = `port="$ZKFC_TARGET_PORT"
for tool in fuser ss; do
  command -v "$tool" >/dev/null 2>&1 || { echo "zkfc fencing: $tool not found on the target" >&2; exit 127; }
done
i=0
while [ "$i" -lt 50 ]; do
  fuser -k -n tcp "$port" >/dev/null 2>&1
  out=$(ss -Hltn "sport = :$port") || { echo "zkfc fencing: ss failed" >&2; exit 1; }
  [ -z "$out" ] && exit 0
  i=$((i + 1))
  sleep 0.1
done
echo "zkfc fencing: port $port still has a listener: $out" >&2
exit 1`

// Validate calls bad for every problem of methods that shows without
// reading a file or reaching a host, each with its key under prefix
// ("fencing.methods[1].ssh.user"). New runs it first; a configuration
// loader runs it to report these problems with the rest of the file's.
func Validate(prefix string, methods []MethodConfig, bad func(key, format string, args ...any)) {
	if len(methods) == 0 {
		bad(prefix, "no fencing method: list at least one of lease_expired, graceful, ssh, shell "+
			"(promotion without fencing is refused: a failover could leave two actives)")
	}
	for i, mc := range methods {
		key := func(k string) string { return fmt.Sprintf("%s[%d].%s", prefix, i, k) }
		if mc.Timeout < 0 {
			bad(key("timeout"), "must be positive, e.g. 5s, got %s", mc.Timeout)
		}
		switch mc.Type {
		case "lease_expired", "graceful":
		case "shell":
			c := mc.Shell
			if c == nil || len(c.Command) == 0 || c.Command[0] == "" {
				bad(key("shell.command"), "required for a shell fencing method: an argv list, e.g. [\"/usr/local/sbin/power-off\", \"--node\"]")
				continue
			}
			for j, kv := range c.Env {
				if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
					bad(key(fmt.Sprintf("shell.env[%d]", j)), "want KEY=value, got %q", kv)
				}
			}
		case "ssh":
			c := mc.SSH
			if c == nil || c.User == "" {
				bad(key("ssh.user"), "required for an ssh fencing method: the user the command runs as on the target")
				continue
			}
			if c.Port < 0 || c.Port > 65535 {
				bad(key("ssh.port"), "must be in 1-65535, got %d", c.Port)
			}
			if c.ConnectTimeout < 0 {
				bad(key("ssh.connect_timeout"), "must be positive, got %s", c.ConnectTimeout)
			}
			if c.KeyFile == "" && !c.UseAgent {
				bad(key("ssh.key_file"), "set a private key file or use_agent: true")
			}
			if c.KnownHostsFile == "" && !c.InsecureIgnoreHostKey {
				bad(key("ssh.known_hosts_file"), "required (or insecure_ignore_host_key: true, which is not recommended)")
			}
		case "":
			bad(key("type"), "required (lease_expired, graceful, ssh or shell)")
		default:
			bad(key("type"), "unknown method %q (want lease_expired, graceful, ssh or shell)", mc.Type)
		}
	}
}

// build constructs the method of a configuration Validate accepted,
// checking what needs the files and the environment.
func build(i int, mc MethodConfig, graceful GracefulClient, d deps, lg *zap.Logger) (Method, time.Duration, error) {
	key := fmt.Sprintf("fencing.methods[%d]", i)
	timeout := func(def time.Duration) time.Duration {
		if mc.Timeout == 0 {
			return def
		}
		return mc.Timeout
	}
	switch mc.Type {
	case "lease_expired":
		// The daemon always passes its session; the CLI's checks need none
		// (Check reaches nothing), and Fence without one fails.
		return &leaseMethod{oracle: d.sessions}, timeout(DefaultLeaseTimeout), nil
	case "graceful":
		if graceful == nil {
			return nil, 0, fmt.Errorf("%s.type: graceful needs the daemon's control-API client, and none was given", key)
		}
		return &gracefulMethod{client: graceful}, timeout(DefaultGracefulTimeout), nil
	case "shell":
		m, err := newShellMethod(key+".shell", *mc.Shell)
		return m, timeout(DefaultShellTimeout), err
	default: // ssh
		m, err := newSSHMethod(key+".ssh", *mc.SSH, lg)
		return m, timeout(DefaultSSHTimeout), err
	}
}

func newShellMethod(key string, c ShellConfig) (*shellMethod, error) {
	if _, err := exec.LookPath(c.Command[0]); err != nil {
		return nil, fmt.Errorf("%s.command: %w", key, err)
	}
	return &shellMethod{
		argv: append([]string(nil), c.Command...),
		env:  append([]string(nil), c.Env...),
	}, nil
}

func newSSHMethod(key string, c SSHConfig, lg *zap.Logger) (*sshMethod, error) {
	m := &sshMethod{cfg: c, lg: lg}
	var errs []error
	bad := func(sub, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", key, sub, fmt.Sprintf(format, args...)))
	}
	if m.cfg.Port == 0 {
		m.cfg.Port = 22
	}
	if m.cfg.ConnectTimeout == 0 {
		m.cfg.ConnectTimeout = DefaultSSHConnectTimeout
	}
	if strings.TrimSpace(m.cfg.Command) == "" {
		m.cfg.Command = DefaultSSHCommand
		m.defaultCommand = true
	}
	if m.cfg.KeyFile != "" {
		signer, err := loadKey(m.cfg.KeyFile)
		if err != nil {
			bad("key_file", "%v", err)
		}
		m.signer = signer
	}
	if m.cfg.UseAgent && os.Getenv("SSH_AUTH_SOCK") == "" && m.cfg.KeyFile == "" {
		bad("use_agent", "SSH_AUTH_SOCK is not set in zkfc's environment")
	}
	if m.cfg.InsecureIgnoreHostKey {
		lg.Error("SSH fencing host key verification is DISABLED (" + key + ".insecure_ignore_host_key): " +
			"anyone who can intercept the connection can fake a successful fence")
	} else if _, err := knownhosts.New(m.cfg.KnownHostsFile); err != nil {
		bad("known_hosts_file", "%v; collect the targets' host keys first, e.g. "+
			"ssh-keyscan -p PORT HOST >> %s, and check their fingerprints", err, m.cfg.KnownHostsFile)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// loadKey reads a private key, refusing files others can read: a fencing
// key usually grants root on every node.
func loadKey(path string) (ssh.Signer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s is accessible by group or others (mode %04o): run chmod 600 %s", path, perm, path)
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("%s is passphrase-protected: load it into ssh-agent and set use_agent: true", path)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return signer, nil
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

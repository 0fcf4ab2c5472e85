package healthcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/zkfc-project/zkfc/zkfc/proc"
)

// checker runs one kind of check. probe must honour ctx and return
// TimedOut when ctx's deadline cut it short.
type checker interface {
	name() string
	probe(ctx context.Context) (Outcome, error)
}

// classify turns a probe error into an outcome: the probe's own deadline
// means the service did not answer in time, anything else is a bad answer.
func classify(ctx context.Context, err error) Outcome {
	if err == nil {
		return OK
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return TimedOut
	}
	return Failed
}

// maxBody bounds how much of a health page is read; health pages are small
// and a runaway one must not eat the daemon's memory.
const maxBody = 1 << 20

type httpChecker struct {
	cfg    HTTPCheck
	client *http.Client
}

func newHTTPChecker(cfg HTTPCheck) (*httpChecker, error) {
	tr := &http.Transport{
		Proxy: nil, // a health check of a local service must not go through a proxy
		// A fresh connection each probe: a pooled one could hide a
		// listener that has gone away.
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify},
	}
	if cfg.CAFile != "" {
		pool, err := loadCAPool(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("health.http.ca_file: %w", err)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &httpChecker{cfg: cfg, client: &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}, nil
}

func (c *httpChecker) name() string { return "http" }

func (c *httpChecker) probe(ctx context.Context) (Outcome, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.URL, nil)
	if err != nil {
		return CheckError, fmt.Errorf("build request for %s: %w", c.cfg.URL, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return classify(ctx, err), err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return classify(ctx, err), fmt.Errorf("GET %s: read body: %w", c.cfg.URL, err)
	}
	if !c.statusOK(resp.StatusCode) {
		return Failed, fmt.Errorf("GET %s: status %d: %s", c.cfg.URL, resp.StatusCode, snippet(body))
	}
	if c.cfg.BodyContains != "" && !strings.Contains(string(body), c.cfg.BodyContains) {
		return Failed, fmt.Errorf("GET %s: body lacks %q: %s", c.cfg.URL, c.cfg.BodyContains, snippet(body))
	}
	return OK, nil
}

func (c *httpChecker) statusOK(code int) bool {
	if len(c.cfg.ExpectStatus) == 0 {
		return code >= 200 && code <= 299
	}
	for _, s := range c.cfg.ExpectStatus {
		if s == code {
			return true
		}
	}
	return false
}

// snippet keeps error texts short enough for a log line.
func snippet(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}

type tcpChecker struct{ addr string }

func (c *tcpChecker) name() string { return "tcp" }

func (c *tcpChecker) probe(ctx context.Context) (Outcome, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return classify(ctx, err), fmt.Errorf("connect %s: %w", c.addr, err)
	}
	conn.Close()
	return OK, nil
}

type execChecker struct{ cfg ExecCheck }

func (c *execChecker) name() string { return "exec" }

func (c *execChecker) probe(ctx context.Context) (Outcome, error) {
	argv := c.cfg.Command
	// Resolve first so a missing binary reads as the monitor's problem, not
	// the service's: exit code 127 from a shell would be indistinguishable.
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return CheckError, fmt.Errorf("health.exec.command: %s: %w", argv[0], err)
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = append(os.Environ(), c.cfg.Env...)
	out, err := proc.Combined(ctx, cmd, maxOutput)
	switch {
	case err == nil:
		return OK, nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return TimedOut, fmt.Errorf("%s: killed after timeout: %s", argv[0], snippet(out))
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.ENOEXEC):
		return CheckError, fmt.Errorf("health.exec.command: start %s: %w", argv[0], err)
	default:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return CheckError, fmt.Errorf("health.exec.command: run %s: %w", argv[0], err)
		}
		return Failed, fmt.Errorf("%s: %v: %s", argv[0], err, snippet(out))
	}
}

// maxOutput bounds the captured output of a check command.
const maxOutput = 4096

package healthcheck

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults applied to zero fields of Config.
const (
	DefaultInterval = time.Second
	DefaultTimeout  = 2 * time.Second
	DefaultRise     = 2
	DefaultFall     = 2
)

// HTTPCheck passes when a GET of URL answers with an expected status and,
// if BodyContains is set, a body holding that text. Redirects are not
// followed: the status is the endpoint's own.
type HTTPCheck struct {
	URL          string
	ExpectStatus []int // default: any 2xx
	BodyContains string
	// CAFile replaces the system roots for https URLs.
	CAFile             string
	InsecureSkipVerify bool
}

// TCPCheck passes when a TCP connection to Address (host:port) opens.
type TCPCheck struct {
	Address string
}

// ExecCheck passes when Command exits 0. Command is an argv run without a
// shell; write {"sh", "-c", "..."} to get one. Env entries (KEY=value) are
// added to the daemon's environment.
type ExecCheck struct {
	Command []string
	Env     []string
}

// Config says what to probe and how to judge it. Zero durations and counts
// take the defaults above.
type Config struct {
	// Interval between the starts of two probes. A probe that takes longer
	// delays the next one; probes never overlap.
	Interval time.Duration
	// Timeout of one probe (all checks run in parallel under it). It may
	// exceed Interval: a slow but successful probe counts as a success.
	Timeout time.Duration
	// Rise: consecutive passing probes to become Healthy again. The first
	// probe after start needs only one (see tracker).
	Rise int
	// Fall: consecutive failing probes to leave Healthy.
	Fall int

	HTTP *HTTPCheck
	TCP  *TCPCheck
	Exec *ExecCheck
}

// withDefaults returns a copy with zero fields filled in.
func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	return c
}

// Validate reports every problem of the configuration, each naming its key
// under "health.".
func (c *Config) Validate() error {
	var errs []error
	c.Check("health", func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	})
	return errors.Join(errs...)
}

// Check calls bad for every problem of the configuration with its key under
// prefix ("health.http.url"), so that a caller reading it from a file names
// the key the operator wrote. Several checks may be configured: a probe
// passes only when all of them pass.
func (c Config) Check(prefix string, bad func(key, format string, args ...any)) {
	d := c.withDefaults()
	key := func(k string) string { return prefix + "." + k }
	if d.Interval < 0 {
		bad(key("interval"), "must be positive, got %s", d.Interval)
	}
	if d.Timeout < 0 {
		bad(key("timeout"), "must be positive, got %s", d.Timeout)
	}
	if d.Rise < 0 {
		bad(key("rise"), "must be at least 1, got %d", d.Rise)
	}
	if d.Fall < 0 {
		bad(key("fall"), "must be at least 1, got %d", d.Fall)
	}
	if d.HTTP == nil && d.TCP == nil && d.Exec == nil {
		bad(prefix, "no check configured: set at least one of %[1]s.http, %[1]s.tcp, %[1]s.exec", prefix)
	}
	if h := d.HTTP; h != nil {
		u, err := url.Parse(h.URL)
		switch {
		case h.URL == "":
			bad(key("http.url"), "required, e.g. http://127.0.0.1:8080/health")
		case err != nil:
			bad(key("http.url"), "%v", err)
		case u.Scheme != "http" && u.Scheme != "https":
			bad(key("http.url"), "scheme must be http or https, got %q", u.Scheme)
		case u.Host == "":
			bad(key("http.url"), "no host in %q", h.URL)
		}
		for i, s := range h.ExpectStatus {
			if s < 100 || s > 599 {
				bad(key(fmt.Sprintf("http.expect_status[%d]", i)), "%d is not an HTTP status", s)
			}
		}
		if h.CAFile != "" {
			if _, err := loadCAPool(h.CAFile); err != nil {
				bad(key("http.ca_file"), "%v", err)
			}
			if h.InsecureSkipVerify {
				bad(key("http.insecure_skip_verify"), "contradicts %s: set one or the other", key("http.ca_file"))
			}
		}
	}
	if t := d.TCP; t != nil {
		host, port, err := net.SplitHostPort(t.Address)
		if err != nil {
			bad(key("tcp.address"), "want host:port: %v", err)
		} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || host == "" {
			bad(key("tcp.address"), "want host:port with a port in 1-65535, got %q", t.Address)
		}
	}
	if e := d.Exec; e != nil {
		if len(e.Command) == 0 || e.Command[0] == "" {
			bad(key("exec.command"), "required: an argv list, e.g. [\"/usr/local/bin/check\", \"--quick\"]")
		}
		for i, kv := range e.Env {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				bad(key(fmt.Sprintf("exec.env[%d]", i)), "want KEY=value, got %q", kv)
			}
		}
	}
}

func loadCAPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificates in %s", path)
	}
	return pool, nil
}

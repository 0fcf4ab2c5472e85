package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/config"
	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// electorConfig is how every command reaches the cluster's znodes: the
// connect string, TLS, credentials and the ACL of new znodes, all from
// the configuration (secrets from their files).
func electorConfig(cfg *config.Config, sec config.Secrets) (elector.Config, error) {
	ec := elector.Config{Servers: servers(cfg), SessionTimeout: cfg.ZooKeeper.SessionTimeout, ClusterPath: cfg.ClusterPath(),
		RefuseWorldWritable: !cfg.ZooKeeper.AllowWorldWritable}
	acl, err := config.ParseACL(cfg.ZooKeeper.ACL)
	if err != nil {
		return ec, fmt.Errorf("config %s: %w", cfg.Source, err)
	}
	ec.ACL = acl
	if !sec.ZooKeeperAuth.Empty() {
		ec.Auth = []elector.Auth{{Scheme: "digest", Cred: sec.ZooKeeperAuth.Reveal()}}
	}
	base, err := cfg.ZooKeeperTLSConfig("")
	if err != nil {
		return ec, err
	}
	if base != nil {
		ec.Dialer = tlsDialer(base)
	}
	return ec, nil
}

// controlWiring is what the guarding daemon and a witness both build from
// the configuration before they serve: the client for the peers' control
// APIs, the way to the cluster's znodes, and the control server's TLS. Both
// serve the same control API, so secure is where its security and console
// are set for either.
type controlWiring struct {
	client    *control.Client
	elector   elector.Config
	serverTLS *tls.Config
	token     []byte
}

func newControlWiring(cfg *config.Config, sec config.Secrets) (controlWiring, error) {
	w := controlWiring{token: sec.ControlToken.Reveal()}
	var err error
	if w.client, err = controlClient(cfg, sec); err != nil {
		return w, err
	}
	if w.elector, err = electorConfig(cfg, sec); err != nil {
		return w, err
	}
	if w.serverTLS, err = cfg.ControlServerTLSConfig(!sec.ControlToken.Empty()); err != nil {
		return w, err
	}
	return w, nil
}

// secure sets srv's token, TLS and client for calls to peers, and serves
// the console over el's view of the cluster.
func (w controlWiring) secure(srv *control.Server, el *elector.Elector) {
	srv.Secure(control.Security{Token: w.token, TLS: w.serverTLS, Client: w.client})
	srv.EnableConsole(control.ConsoleSources{Tree: el, Witnesses: el.Witnesses, Servers: w.elector.Servers, Dial: w.elector.Dialer})
}

// tlsDialer dials ZooKeeper's secure client port, which speaks TLS from
// the first byte; each server's certificate is checked against its own
// host name unless zookeeper.tls.server_name fixes one.
func tlsDialer(base *tls.Config) func(network, address string, timeout time.Duration) (net.Conn, error) {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c := base.Clone()
		if c.ServerName == "" {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return nil, fmt.Errorf("zookeeper address %q: %w", address, err)
			}
			c.ServerName = host
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		d := tls.Dialer{NetDialer: &net.Dialer{}, Config: c}
		conn, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, fmt.Errorf("TLS to zookeeper %s: %w", address, err)
		}
		return conn, nil
	}
}

// loadWithSecrets loads the configuration and the secrets it names.
func loadWithSecrets(cf *configFlags) (*config.Config, config.Secrets, error) {
	cfg, err := cf.load()
	if err != nil {
		return nil, config.Secrets{}, err
	}
	sec, err := cfg.LoadSecrets()
	return cfg, sec, err
}

// controlClient is the control API client of the daemon (peers, graceful
// fencing) and of the CLI: the token and client certificate from cfg.
func controlClient(cfg *config.Config, sec config.Secrets) (*control.Client, error) {
	c := control.NewClient()
	c.Token = sec.ControlToken.Reveal()
	tc, err := cfg.ControlClientTLSConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		c.HTTP.Transport = tr
	}
	return c, nil
}

// cliClient is the CLI's control client and the API it talks to: --url
// wins over the configuration's advertised URL, and --token-file over its
// control.token_file, but the configuration (when its file exists) still
// supplies the certificates.
func cliClient(flagURL string, cf *configFlags) (*control.Client, string, error) {
	var c *control.Client
	base := flagURL
	if _, err := os.Stat(cf.path); err != nil && flagURL != "" {
		c = control.NewClient()
	} else {
		cfg, sec, err := loadWithSecrets(cf)
		switch {
		case err != nil && flagURL == "":
			return nil, "", fmt.Errorf("%w\n(or pass --url http://HOST:PORT of a running zkfc)", err)
		case err != nil && cf.explicit():
			return nil, "", err
		case err != nil:
			// Only the default file, which --url did not ask for: it may
			// be another cluster's, or unreadable to this user.
			fmt.Fprintf(os.Stderr, "zkfc: not using %s for --url: %v\n", cf.path, err)
			c = control.NewClient()
		default:
			if c, err = controlClient(cfg, sec); err != nil {
				return nil, "", err
			}
			if base == "" {
				base = cfg.AdvertisedControlURL()
			}
		}
	}
	if err := cf.useTokenFile(c); err != nil {
		return nil, "", err
	}
	return c, base, nil
}

// useTokenFile gives c the token of --token-file, if one was passed.
func (cf *configFlags) useTokenFile(c *control.Client) error {
	if cf.tokenFile == "" {
		return nil
	}
	tok, err := config.ReadSecretFile("--token-file", cf.tokenFile)
	if err != nil {
		return err
	}
	c.Token = tok.Reveal()
	return nil
}

// apiHint says what to do about a failed control API call.
func apiHint(err error, base string) string {
	var he *control.HTTPError
	switch {
	case errors.As(err, &he) && he.Code == http.StatusUnauthorized:
		return "a token is needed: pass --token-file FILE (the token in the daemon's control.token_file), or -c CONFIG whose control.token_file names it"
	case errors.As(err, &he) && he.Code == http.StatusForbidden:
		return "the daemon refused these credentials: check that --token-file or control.token_file holds the daemon's token, and the client certificate of control.tls"
	case errors.As(err, &he):
		return ""
	}
	return fmt.Sprintf("is zkfc running at %s? check control.listen in its config, or pass --url", base)
}

// apiFail reports a failed control API call with what to do about it.
func apiFail(what string, err error, base string) int {
	if h := apiHint(err, base); h != "" {
		return fail("%s: %v\n(%s)", what, err, h)
	}
	return fail("%s: %v", what, err)
}

func aclText(acl []string) string {
	if len(acl) == 0 {
		return "world:anyone:cdrwa (open, allowed by zookeeper.allow_world_writable)"
	}
	return fmt.Sprint(acl)
}

package config

import (
	"net/url"
)

// validateFailsafe checks failover.failsafe and failover.failsafe_peers:
// the peers are every other candidate of the cluster, each with the URL
// of its control API, and answers are trusted only from an authenticated
// API (each peer's promise is what keeps two actives apart).
func (c *Config) validateFailsafe(witness bool, bad func(key, format string, args ...any)) {
	f := c.Failover
	if !f.Failsafe {
		if len(f.FailsafePeers) > 0 {
			bad("failover.failsafe_peers", "set while failover.failsafe is false: set failover.failsafe: true on every candidate, or remove the list")
		}
		return
	}
	if witness {
		bad("failover.failsafe", "a witness guards no service and takes no part in failsafe mode: remove it from the witness's configuration (the witness is never asked)")
		return
	}
	if len(f.FailsafePeers) == 0 {
		bad("failover.failsafe_peers", "failover.failsafe needs the list of every other candidate (id and control API URL), e.g. [{id: nn2, url: \"https://nn2.example:8019\"}]")
	}
	if c.Control.TokenFile == "" && c.Control.TLS.ClientCAFile == "" {
		bad("failover.failsafe", "needs an authenticated control API (control.token_file or control.tls.client_ca_file): a peer's answer keeps the service active without the quorum")
	}
	seen := map[string]bool{}
	for i, p := range f.FailsafePeers {
		switch {
		case p.ID == "":
			bad("failover.failsafe_peers", "entry %d has no id (the peer's node.id)", i)
		case p.ID == c.Node.ID:
			bad("failover.failsafe_peers", "entry %d is this node (%s): list only the other candidates", i, p.ID)
		case seen[p.ID]:
			bad("failover.failsafe_peers", "%s is listed twice", p.ID)
		}
		seen[p.ID] = true
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("failover.failsafe_peers", "%s: url %q is not an absolute http(s) URL of its control API like https://10.0.0.2:8019", p.ID, p.URL)
		}
	}
}

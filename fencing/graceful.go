package fencing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

// gracefulMethod asks the old active's zkfc to demote its service. It is
// the cheapest method and the only one that leaves the old node usable as
// a standby, but it proves nothing when the node is unreachable, so it is
// normally followed by ssh or shell.
type gracefulMethod struct {
	client GracefulClient
}

func (g *gracefulMethod) Name() string { return "graceful" }

func (g *gracefulMethod) Fence(ctx context.Context, t Target) error {
	if err := checkControlURL(t); err != nil {
		return err
	}
	if err := g.client.Demote(ctx, t.ControlURL, t.Token); err != nil {
		return fmt.Errorf("graceful demote of %s via %s: %w", t.NodeID, t.ControlURL, err)
	}
	return nil
}

// Check pings the control API when the client can; otherwise it can only
// say whether there is a URL to call.
func (g *gracefulMethod) Check(ctx context.Context, t Target) error {
	if err := checkControlURL(t); err != nil {
		return err
	}
	p, ok := g.client.(GracefulPinger)
	if !ok {
		return nil
	}
	if err := p.Ping(ctx, t.ControlURL); err != nil {
		return fmt.Errorf("control API of %s at %s: %w", t.NodeID, t.ControlURL, err)
	}
	return nil
}

func checkControlURL(t Target) error {
	if t.ControlURL == "" {
		return errors.New("target " + t.NodeID + " has no control URL")
	}
	u, err := url.Parse(t.ControlURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("target %s: bad control URL %q", t.NodeID, t.ControlURL)
	}
	return nil
}

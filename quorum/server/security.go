package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/sasl"
	"github.com/zkfc-project/zkfc/quorum/tlsconfig"
)

// security holds what the member needs to authenticate clients and peers,
// set up once from ZooKeeper's keys (zoo.cfg and -D properties).
type security struct {
	// clientTLS is the secure client port's configuration; nil without
	// secureClientPort.
	clientTLS *tls.Config
	reloaders []*tlsconfig.Reloader
	// peerServer and peerClient secure member links when sslQuorum=true.
	peerServer, peerClient *tls.Config
	// saslUsers are the DigestLoginModule users of the JAAS Server
	// section; nil when SASL is not configured.
	saslUsers sasl.Users
	superUser string
}

func truthy(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "true") }

// setupSecurity reads the TLS and SASL settings. Every error names the key
// or file at fault.
func (s *Server) setupSecurity() error {
	props := s.cfg.Properties()
	if s.cfg.SecureClientPort > 0 {
		_, c, err := s.serverTLS(props, "ssl.", "secureClientPort is set but ssl.keyStore.location is not: name the server's key store (PEM or PKCS12)", "secure client port")
		if err != nil {
			return err
		}
		s.sec.clientTLS = c
	}
	if truthy(props["sslQuorum"]) || truthy(props["zookeeper.sslQuorum"]) {
		const what = "member links (sslQuorum)"
		st, srv, err := s.serverTLS(props, "ssl.quorum.", "sslQuorum=true but ssl.quorum.keyStore.location is not set", what)
		if err != nil {
			return err
		}
		// Members prove themselves to each other: a peer without a
		// certificate from the quorum's trust store cannot connect.
		srv.ClientAuth = tls.RequireAndVerifyClientCert
		cli, err := st.ClientConfig("")
		if err != nil {
			return fmt.Errorf("%s: %s: %w", s.cfg.Source, what, err)
		}
		s.sec.peerServer, s.sec.peerClient = srv, cli
	}
	if jaas := props["java.security.auth.login.config"]; jaas != "" {
		section := props["zookeeper.sasl.serverconfig"]
		if section == "" {
			section = "Server"
		}
		users, err := sasl.ParseJAASSection(jaas, section)
		switch {
		case errors.Is(err, sasl.ErrNoSection):
			s.lg.Info("JAAS file has no server section; SASL authentication disabled", zap.String("file", jaas), zap.String("section", section))
		case err != nil:
			return fmt.Errorf("java.security.auth.login.config: %w", err)
		default:
			s.sec.saslUsers = users
			s.sec.superUser = props["zookeeper.superUser"]
			s.lg.Info("SASL DIGEST-MD5 authentication enabled", zap.String("file", jaas), zap.Int("users", len(users)))
		}
	}
	return nil
}

// serverTLS reads the TLS settings under prefix and makes their server
// side, keeping its reloader. missing is the error when no key store is
// named; what names the use in the other errors.
func (s *Server) serverTLS(props map[string]string, prefix, missing, what string) (tlsconfig.Settings, *tls.Config, error) {
	st, ok := tlsconfig.FromProperties(props, prefix)
	if !ok {
		return st, nil, fmt.Errorf("%s: %s", s.cfg.Source, missing)
	}
	c, r, err := st.ServerConfig(s.lg.Named("tls"))
	if err != nil {
		return st, nil, fmt.Errorf("%s: %s: %w", s.cfg.Source, what, err)
	}
	s.sec.reloaders = append(s.sec.reloaders, r)
	return st, c, nil
}

// listenSecure opens the secure client port.
func (s *Server) listenSecure() (net.Listener, error) {
	addr := net.JoinHostPort(s.cfg.SecureClientPortAddress, strconv.Itoa(s.cfg.SecureClientPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: secureClientPort %d: %w", s.cfg.Source, s.cfg.SecureClientPort, err)
	}
	s.lg.Info("secure client port listening", zap.String("address", ln.Addr().String()))
	return tls.NewListener(ln, s.sec.clientTLS), nil
}

func (s *Server) runReloaders(ctx context.Context) {
	for _, r := range s.sec.reloaders {
		go every(ctx, 10*time.Second, func(time.Time) { _ = r.Check() })
	}
}

// tlsIdentity adds the x509 identity of a client that presented a
// certificate, as ZooKeeper's X509AuthenticationProvider does (its subject
// distinguished name).
func (c *conn) tlsIdentity() {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return
	}
	st := tc.ConnectionState()
	if len(st.PeerCertificates) > 0 {
		c.addAuth(proto.Id{Scheme: "x509", ID: st.PeerCertificates[0].Subject.String()})
	}
}

// handleSASL runs one step of a client's SASL DIGEST-MD5 exchange. Replies
// carry zxid 0, as ZooKeeper's do; any failure is AuthFailed and closes the
// connection.
func (c *conn) handleSASL(hdr proto.RequestHeader, req *proto.SASLRequest, start time.Time) bool {
	rh := proto.ReplyHeader{Xid: hdr.Xid}
	if c.s.sec.saslUsers == nil {
		// Without a JAAS Server section ZooKeeper answers OK with no
		// token and grants nothing.
		return c.answer(&reply{hdr: rh, body: &proto.SASLRequest{}, start: start, op: proto.OpSASL})
	}
	{
		if c.saslConv == nil {
			c.saslConv = sasl.NewDigestMD5(c.s.sec.saslUsers, sasl.DefaultRealm, nil)
		}
		challenge, done, err := c.saslConv.Step(req.Token)
		if err == nil {
			if done {
				user := c.saslConv.Username()
				c.addAuth(proto.Id{Scheme: sasl.Scheme, ID: user})
				if c.s.sec.superUser != "" && user == c.s.sec.superUser {
					c.addAuth(proto.Id{Scheme: "super", ID: ""})
				}
				c.s.lg.Info("SASL authentication succeeded", zap.String("user", user), zap.String("session", sessionHex(c.sessionID)))
			}
			return c.answer(&reply{hdr: rh, body: &proto.SASLRequest{Token: challenge}, start: start, op: proto.OpSASL})
		}
		c.s.lg.Info("SASL authentication failed; closing connection", zap.String("session", sessionHex(c.sessionID)), zap.Error(err))
		rh.Err = proto.ErrAuthFailed
	}
	c.answer(&reply{hdr: rh, start: start, op: proto.OpSASL, closeAfter: true})
	return false
}

// checkACLSchemes refuses ACLs naming an authentication scheme this member
// does not provide, as ZooKeeper does (InvalidACL): sasl without SASL,
// x509 without client certificates.
func (s *Server) checkACLSchemes(acl []proto.ACL) proto.Err {
	for _, a := range acl {
		switch a.ID.Scheme {
		case "sasl":
			if s.sec.saslUsers == nil {
				return proto.ErrInvalidACL
			}
		case "x509":
			if s.sec.clientTLS == nil {
				return proto.ErrInvalidACL
			}
		}
	}
	return proto.ErrOK
}

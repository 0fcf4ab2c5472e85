// Package tlsconfig turns ZooKeeper's ssl.* and ssl.quorum.* settings into
// crypto/tls configurations for the secure client port, the links between
// quorum members and zkfc's connections to the quorum, and keeps the
// served certificates current when the files on disk are replaced.
//
// It must never accept a private key that other users can read, never
// fall back to an unverified connection when verification was asked for,
// and never log or return a password.
package tlsconfig

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"strings"
)

// Store types, as ZooKeeper names them in ssl.keyStore.type.
const (
	TypePEM    = "PEM"
	TypePKCS12 = "PKCS12"
	TypeJKS    = "JKS"
)

// Client authentication modes of ssl.clientAuth.
const (
	ClientAuthNone = "none"
	ClientAuthWant = "want"
	ClientAuthNeed = "need"
)

// Settings are the TLS keys of one ZooKeeper prefix. Values are kept as
// written and checked when a configuration is built, so that every error
// can name the key it came from.
type Settings struct {
	// Prefix is "ssl." or "ssl.quorum."; error messages put it in front of
	// the key names below.
	Prefix string

	KeyStore, KeyStorePassword, KeyStoreType       string // keyStore.location, .password, .type
	TrustStore, TrustStorePassword, TrustStoreType string // trustStore.location, .password, .type
	ClientAuth                                     string // clientAuth: none, want, need (default need, as ZooKeeper)
	Protocol                                       string // protocol: TLSv1.2 or TLSv1.3
	EnabledProtocols                               string // enabledProtocols: comma-separated
	CipherSuites                                   string // ciphersuites: comma-separated IANA names
	HostnameVerification                           string // hostnameVerification: true (default) or false

	// KeyStorePasswordPath and TrustStorePasswordPath (keyStore.passwordPath,
	// trustStore.passwordPath, ZooKeeper 3.8) name files holding the
	// password, used when the password key itself is not set.
	KeyStorePasswordPath, TrustStorePasswordPath string

	// KeyFile is an extension of ours (keyStore.keyLocation): a PEM private
	// key kept apart from the certificates in KeyStore. ZooKeeper's PEM
	// type wants both in one file; operators with separate files (as most
	// CAs hand them out) need not concatenate them.
	KeyFile string
}

// keys maps each Settings field to its name under the prefix.
var keys = []struct {
	name  string
	field func(*Settings) *string
}{
	{"keyStore.location", func(s *Settings) *string { return &s.KeyStore }},
	{"keyStore.password", func(s *Settings) *string { return &s.KeyStorePassword }},
	{"keyStore.type", func(s *Settings) *string { return &s.KeyStoreType }},
	{"keyStore.passwordPath", func(s *Settings) *string { return &s.KeyStorePasswordPath }},
	{"trustStore.passwordPath", func(s *Settings) *string { return &s.TrustStorePasswordPath }},
	{"keyStore.keyLocation", func(s *Settings) *string { return &s.KeyFile }},
	{"trustStore.location", func(s *Settings) *string { return &s.TrustStore }},
	{"trustStore.password", func(s *Settings) *string { return &s.TrustStorePassword }},
	{"trustStore.type", func(s *Settings) *string { return &s.TrustStoreType }},
	{"clientAuth", func(s *Settings) *string { return &s.ClientAuth }},
	{"protocol", func(s *Settings) *string { return &s.Protocol }},
	{"enabledProtocols", func(s *Settings) *string { return &s.EnabledProtocols }},
	{"ciphersuites", func(s *Settings) *string { return &s.CipherSuites }},
	{"hostnameVerification", func(s *Settings) *string { return &s.HostnameVerification }},
}

// FromProperties reads the settings under prefix ("ssl." for the client
// port and zkfc's client, "ssl.quorum." for member links) from props,
// which holds zoo.cfg keys and Java system properties together. ZooKeeper
// turns a zoo.cfg key k into the system property "zookeeper."+k and a
// zoo.cfg value overrides a -D flag, so for each key the bare name (as in
// zoo.cfg) wins over the "zookeeper."-prefixed one (as in SERVER_JVMFLAGS).
// configured reports whether a keystore or truststore is named at all.
func FromProperties(props map[string]string, prefix string) (s Settings, configured bool) {
	s.Prefix = prefix
	for _, k := range keys {
		if v, ok := props[prefix+k.name]; ok {
			*k.field(&s) = strings.TrimSpace(v)
		} else if v, ok := props["zookeeper."+prefix+k.name]; ok {
			*k.field(&s) = strings.TrimSpace(v)
		}
	}
	return s, s.KeyStore != "" || s.TrustStore != ""
}

func (s Settings) key(name string) string { return s.Prefix + name }

// storeType resolves a store's type from its .type key or, as ZooKeeper
// does, from the file name's extension.
func (s Settings) storeType(kind, location, typ string) (string, error) {
	typeKey := s.key(kind + ".type")
	switch strings.ToUpper(typ) {
	case "":
	case TypePEM, TypePKCS12:
		return strings.ToUpper(typ), nil
	case TypeJKS:
		return "", fmt.Errorf("%s=JKS (%s): JKS stores are not supported; convert with keytool -importkeystore -srckeystore %s -destkeystore %s -deststoretype PKCS12 and set %s=PKCS12",
			typeKey, location, location, strings.TrimSuffix(location, filepath.Ext(location))+".p12", typeKey)
	default:
		return "", fmt.Errorf("%s=%q: unknown store type; use PEM or PKCS12", typeKey, typ)
	}
	switch strings.ToLower(filepath.Ext(location)) {
	case ".pem", ".crt", ".cer", ".key":
		return TypePEM, nil
	case ".p12", ".pfx", ".pkcs12":
		return TypePKCS12, nil
	case ".jks":
		return s.storeType(kind, location, TypeJKS)
	}
	return "", fmt.Errorf("%s: cannot tell the type of %s from its name; set %s to PEM or PKCS12", s.key(kind+".location"), location, typeKey)
}

// versions resolves protocol and enabledProtocols. Without either, TLS 1.2
// and 1.3 are allowed, as ZooKeeper 3.8 on Java 11+ does; protocol alone
// allows just that version, as ZooKeeper's enabledProtocols defaults to it.
func (s Settings) versions() (minV, maxV uint16, err error) {
	names := s.EnabledProtocols
	key := s.key("enabledProtocols")
	if names == "" {
		names, key = s.Protocol, s.key("protocol")
	}
	if names == "" {
		return tls.VersionTLS12, tls.VersionTLS13, nil
	}
	for _, n := range strings.Split(names, ",") {
		var v uint16
		switch strings.TrimSpace(n) {
		case "TLSv1.2":
			v = tls.VersionTLS12
		case "TLSv1.3":
			v = tls.VersionTLS13
		case "TLS":
			// Java's generic "TLS" context: whatever the runtime allows.
			minV, maxV = tls.VersionTLS12, tls.VersionTLS13
			continue
		case "TLSv1", "TLSv1.1", "SSLv3":
			return 0, 0, fmt.Errorf("%s: %s is insecure and not supported; use TLSv1.2 and/or TLSv1.3", key, strings.TrimSpace(n))
		default:
			return 0, 0, fmt.Errorf("%s: unknown protocol %q; use TLSv1.2 and/or TLSv1.3", key, strings.TrimSpace(n))
		}
		if minV == 0 || v < minV {
			minV = v
		}
		if v > maxV {
			maxV = v
		}
	}
	return minV, maxV, nil
}

// cipherSuites maps ciphersuites to Go's IDs. TLS 1.3 suites are accepted
// and skipped: Go always enables all of them, which are all secure.
func (s Settings) cipherSuites() ([]uint16, error) {
	if s.CipherSuites == "" {
		return nil, nil
	}
	byName := map[string]*tls.CipherSuite{}
	for _, cs := range tls.CipherSuites() {
		byName[cs.Name] = cs
	}
	var ids []uint16
	for _, n := range strings.Split(s.CipherSuites, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		cs, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("%s: %q is not a supported secure cipher suite (see Go's tls.CipherSuites)", s.key("ciphersuites"), n)
		}
		if len(cs.SupportedVersions) == 1 && cs.SupportedVersions[0] == tls.VersionTLS13 {
			continue
		}
		ids = append(ids, cs.ID)
	}
	return ids, nil
}

func (s Settings) clientAuth() (tls.ClientAuthType, error) {
	switch strings.ToLower(s.ClientAuth) {
	case "", ClientAuthNeed:
		return tls.RequireAndVerifyClientCert, nil
	case ClientAuthWant:
		return tls.VerifyClientCertIfGiven, nil
	case ClientAuthNone:
		return tls.NoClientCert, nil
	}
	return 0, fmt.Errorf("%s=%q: use none, want or need", s.key("clientAuth"), s.ClientAuth)
}

func (s Settings) hostnameVerification() (bool, error) {
	switch strings.ToLower(s.HostnameVerification) {
	case "", "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%s=%q: use true or false", s.key("hostnameVerification"), s.HostnameVerification)
}

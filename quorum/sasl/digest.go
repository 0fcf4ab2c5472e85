// Package sasl is the server side of ZooKeeper's SASL authentication with
// the DIGEST-MD5 mechanism (RFC 2831), as Apache ZooKeeper runs it when its
// JAAS file has a Server section with DigestLoginModule users: it reads
// those users from the JAAS file and runs one challenge/response
// conversation per client, after which the session holds the identity
// {"sasl", username}.
//
// The package only authenticates. It never talks to the network, never
// logs or returns a password or a value derived from one in an error, and
// offers only qop=auth: integrity and confidentiality layers (auth-int,
// auth-conf) are refused, because ZooKeeper clients never ask for them and
// a half-done security layer is worse than none.
package sasl

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

const (
	// DefaultRealm is the realm and server name Apache ZooKeeper uses for
	// DIGEST-MD5; clients hard-code it in the digest-uri, so it is not
	// really configurable.
	DefaultRealm = "zk-sasl-md5"
	// Protocol is the service name in the digest-uri ("zookeeper/<realm>").
	Protocol = "zookeeper"
	// Scheme is the ACL scheme of an identity established here.
	Scheme = "sasl"
)

var (
	// ErrAuthFailed means the client did not prove knowledge of a known
	// user's password. The server answers it, like every error from Step,
	// with error code AuthFailed and closes the connection.
	ErrAuthFailed = errors.New("sasl: authentication failed")
	// ErrMalformed means the client's token did not follow RFC 2831.
	ErrMalformed = errors.New("sasl: malformed digest directives")
	// ErrState means Step was called after the conversation ended.
	ErrState = errors.New("sasl: conversation already finished")
)

// nonceBytes is the amount of randomness in a server nonce; base64 turns
// 30 bytes into 40 characters, the length Java's DigestMD5Server sends.
const nonceBytes = 30

type step int

const (
	stepStart step = iota
	stepResponse
	stepDone
	stepFailed
)

// Conversation is one client's DIGEST-MD5 exchange. It is not safe for
// concurrent use; a connection owns its Conversation.
type Conversation struct {
	users Users
	realm string
	rnd   io.Reader

	step     step
	nonce    string
	username string
}

// NewDigestMD5 starts a conversation that accepts the given users. realm
// is normally DefaultRealm. rnd supplies the server nonce; nil means
// crypto/rand, and anything else is for tests.
func NewDigestMD5(users Users, realm string, rnd io.Reader) *Conversation {
	if rnd == nil {
		rnd = rand.Reader
	}
	return &Conversation{users: users, realm: realm, rnd: rnd}
}

// Step consumes the client's token and returns the token to send back.
// The first call gets the client's initial token, which for DIGEST-MD5
// must be empty, and returns the digest-challenge. The second gets the
// digest-response and, when it is correct, returns the response-auth
// (rspauth=...) with done set: the client is authenticated as Username()
// from that moment. Any error ends the conversation; the caller answers
// with AuthFailed and closes the connection, as ZooKeeper does. A Step after
// the end, successful or not, is ErrState.
func (c *Conversation) Step(response []byte) (challenge []byte, done bool, err error) {
	switch c.step {
	case stepStart:
		if len(response) != 0 {
			c.step = stepFailed
			return nil, false, fmt.Errorf("%w: initial token must be empty, got %d bytes (subsequent authentication is not supported)", ErrMalformed, len(response))
		}
		raw := make([]byte, nonceBytes)
		if _, err := io.ReadFull(c.rnd, raw); err != nil {
			c.step = stepFailed
			return nil, false, fmt.Errorf("sasl: generate nonce: %w", err)
		}
		c.nonce = base64.StdEncoding.EncodeToString(raw)
		c.step = stepResponse
		// Same directives, in the same order, as Apache ZooKeeper 3.8 sends;
		// qop is left out because "auth" is its default.
		return []byte("realm=" + quote(c.realm) + ",nonce=" + quote(c.nonce) + ",charset=utf-8,algorithm=md5-sess"), false, nil
	case stepResponse:
		c.step = stepFailed
		rspauth, user, err := c.verify(response)
		if err != nil {
			return nil, false, err
		}
		c.step = stepDone
		c.username = user
		return []byte("rspauth=" + rspauth), true, nil
	default:
		return nil, false, ErrState
	}
}

// Username is the authenticated user once Step has returned done, and ""
// before.
func (c *Conversation) Username() string {
	if c.step != stepDone {
		return ""
	}
	return c.username
}

// verify checks a digest-response and returns the rspauth value and the
// user name.
func (c *Conversation) verify(response []byte) (string, string, error) {
	d, err := parseDirectives(response)
	if err != nil {
		return "", "", err
	}
	for _, name := range []string{"username", "nonce", "cnonce", "nc", "digest-uri", "response"} {
		if _, ok := d[name]; !ok {
			return "", "", fmt.Errorf("%w: directive %q missing", ErrMalformed, name)
		}
	}
	utf8Charset := false
	if cs, ok := d["charset"]; ok {
		if cs != "utf-8" {
			return "", "", fmt.Errorf("%w: charset %q, only utf-8 is offered", ErrMalformed, cs)
		}
		utf8Charset = true
	}
	if qop, ok := d["qop"]; ok && qop != "auth" {
		return "", "", fmt.Errorf("%w: qop %q, only auth is offered", ErrAuthFailed, qop)
	}
	// A nonce other than the one this conversation issued is a replay of an
	// earlier exchange (or a guess); nc must be 1 because every exchange
	// has a fresh nonce and we never offer subsequent authentication.
	if subtle.ConstantTimeCompare([]byte(d["nonce"]), []byte(c.nonce)) != 1 {
		return "", "", fmt.Errorf("%w: nonce is not the one issued to this client (replayed or forged response)", ErrAuthFailed)
	}
	nc, err := strconv.ParseUint(d["nc"], 16, 32)
	if err != nil || len(d["nc"]) != 8 {
		return "", "", fmt.Errorf("%w: nc %q is not 8 hex digits", ErrMalformed, d["nc"])
	}
	if nc != 1 {
		return "", "", fmt.Errorf("%w: nonce count %d, want 1 (replayed response)", ErrAuthFailed, nc)
	}
	realm, hasRealm := d["realm"]
	if hasRealm && realm != c.realm {
		return "", "", fmt.Errorf("%w: realm %q, want %q", ErrAuthFailed, realm, c.realm)
	}
	if uri := Protocol + "/" + c.realm; d["digest-uri"] != uri {
		return "", "", fmt.Errorf("%w: digest-uri %q, want %q", ErrAuthFailed, d["digest-uri"], uri)
	}
	if len(d["response"]) != 32 {
		return "", "", fmt.Errorf("%w: response is not 32 hex digits", ErrMalformed)
	}

	user := d["username"]
	if !utf8Charset {
		// Without charset=utf-8 the client's strings are ISO 8859-1.
		user = latin1ToUTF8(user)
	}
	authzid, hasAuthzid := d["authzid"]
	if hasAuthzid && authzid != user {
		// ZooKeeper would grant the authentication id anyway; refusing a
		// request to act as someone else is clearer than silently ignoring it.
		return "", "", fmt.Errorf("%w: authzid %q differs from username %q; acting as another user is not supported", ErrAuthFailed, authzid, user)
	}
	password, known := c.users[user]
	if !known {
		// Compute a digest anyway so that an unknown user costs the same as
		// a wrong password and cannot be told apart by timing.
		password = "\x00unknown user"
	}
	// RFC 2831 2.1.2.1: strings go into the hash as ISO 8859-1 whenever
	// every character fits, and as UTF-8 only otherwise; Java does the same.
	pw, fits := utf8ToLatin1(password)
	if !fits {
		if !utf8Charset {
			known = false
		}
		pw = []byte(password)
	}
	sum := md5.Sum(concat(hashForm(user), []byte(":"), hashForm(realm), []byte(":"), pw))
	a1 := concat(sum[:], []byte(":"+d["nonce"]+":"+d["cnonce"]))
	if hasAuthzid {
		a1 = concat(a1, []byte(":"+authzid))
	}
	ha1 := hexMD5(a1)
	kd := func(a2 string) string {
		return hexMD5([]byte(ha1 + ":" + d["nonce"] + ":" + d["nc"] + ":" + d["cnonce"] + ":auth:" + hexMD5([]byte(a2))))
	}
	want := kd("AUTHENTICATE:" + d["digest-uri"])
	got := []byte(d["response"])
	match := subtle.ConstantTimeCompare([]byte(want), lowerHex(got)) == 1
	if !known || !match {
		// One message for both cases: the client must not learn which
		// user names exist.
		return "", "", fmt.Errorf("%w: user %q: wrong password or unknown user", ErrAuthFailed, user)
	}
	return kd(":" + d["digest-uri"]), user, nil
}

func hexMD5(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// lowerHex lower-cases ASCII letters, since RFC 2831 hex is case-insensitive
// on input but our digest is lower case.
func lowerHex(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'F' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// hashForm is s as it enters the digest: ISO 8859-1 when it fits, else
// UTF-8.
func hashForm(s string) []byte {
	if b, ok := utf8ToLatin1(s); ok {
		return b
	}
	return []byte(s)
}

func latin1ToUTF8(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

func utf8ToLatin1(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r == utf8.RuneError || r > 0xff {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

package sasl

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// Captured from Apache ZooKeeper 3.8 (Debian) authenticating kazoo 2.8 /
// puresasl as bob with password bobpw (jaas user_bob="bobpw").
const (
	apacheNonce     = "7FG1DnMOuoANKl3dUSNWDSkBOA/1iYGr9t9Gxevm"
	apacheChallenge = `realm="zk-sasl-md5",nonce="7FG1DnMOuoANKl3dUSNWDSkBOA/1iYGr9t9Gxevm",charset=utf-8,algorithm=md5-sess`
	kazooResponse   = `qop=auth,realm="zk-sasl-md5",username="bob",nonce="7FG1DnMOuoANKl3dUSNWDSkBOA/1iYGr9t9Gxevm",cnonce="9194187594750104",nc=00000001,digest-uri="zookeeper/zk-sasl-md5",response=ebe8fe7968d07bf0e927eec796044a4c`
	apacheRspauth   = "rspauth=346aa767969a37d18658f623396621d6"
)

// TestApacheTranscript replays a real exchange: given the same nonce, our
// challenge is byte for byte Apache's, we accept kazoo's response, and our
// rspauth is the one Apache sent (which kazoo verified).
func TestApacheTranscript(t *testing.T) {
	raw, err := base64.StdEncoding.DecodeString(apacheNonce)
	if err != nil {
		t.Fatal(err)
	}
	c := NewDigestMD5(Users{"bob": "bobpw", "alice": "alicepw"}, DefaultRealm, bytes.NewReader(raw))
	ch, done, err := c.Step(nil)
	if err != nil || done {
		t.Fatalf("first step: done=%v err=%v", done, err)
	}
	if string(ch) != apacheChallenge {
		t.Fatalf("challenge\n got %s\nwant %s", ch, apacheChallenge)
	}
	if c.Username() != "" {
		t.Fatalf("username %q before the end", c.Username())
	}
	ch, done, err = c.Step([]byte(kazooResponse))
	if err != nil || !done {
		t.Fatalf("second step: done=%v err=%v", done, err)
	}
	if string(ch) != apacheRspauth {
		t.Fatalf("rspauth\n got %s\nwant %s", ch, apacheRspauth)
	}
	if c.Username() != "bob" {
		t.Fatalf("username %q, want bob", c.Username())
	}
	if _, _, err := c.Step(nil); !errors.Is(err, ErrState) {
		t.Fatalf("step after done: %v, want ErrState", err)
	}
}

// testClient is an independent RFC 2831 client: it computes the response
// from the directives it is given, so that tests can bend any of them.
type testClient struct {
	user, password string
	realm          string // "" leaves the directive out
	uri            string
	cnonce         string
	nc             string
	qop            string // "" leaves the directive out
	charset        bool
	authzid        string
	latin1         bool // hash strings as ISO 8859-1 where they fit (RFC 2831)
	upperHex       bool
}

func defaultClient(user, password string) testClient {
	return testClient{
		user: user, password: password, realm: DefaultRealm,
		uri: "zookeeper/zk-sasl-md5", cnonce: "OA6MG9tEQGm2hh", nc: "00000001",
		qop: "auth", charset: true, latin1: true,
	}
}

func (tc testClient) respond(t *testing.T, challenge []byte) []byte {
	t.Helper()
	d, err := parseDirectives(challenge)
	if err != nil {
		t.Fatalf("client cannot parse challenge %q: %v", challenge, err)
	}
	return tc.respondTo(d["nonce"])
}

func (tc testClient) respondTo(nonce string) []byte {
	enc := func(s string) string {
		if tc.latin1 {
			if b, ok := utf8ToLatin1(s); ok {
				return string(b)
			}
		}
		return s
	}
	h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	key := md5.Sum([]byte(enc(tc.user) + ":" + enc(tc.realm) + ":" + enc(tc.password)))
	a1 := string(key[:]) + ":" + nonce + ":" + tc.cnonce
	if tc.authzid != "" {
		a1 += ":" + tc.authzid
	}
	qop := tc.qop
	if qop == "" {
		qop = "auth"
	}
	resp := h(h(a1) + ":" + nonce + ":" + tc.nc + ":" + tc.cnonce + ":" + qop + ":" + h("AUTHENTICATE:"+tc.uri))
	if tc.upperHex {
		resp = strings.ToUpper(resp)
	}
	var parts []string
	if tc.charset {
		parts = append(parts, "charset=utf-8")
	}
	parts = append(parts, "username="+quote(tc.user))
	if tc.realm != "" {
		parts = append(parts, "realm="+quote(tc.realm))
	}
	parts = append(parts, "nonce="+quote(nonce), "nc="+tc.nc, "cnonce="+quote(tc.cnonce), "digest-uri="+quote(tc.uri), "maxbuf=65536", "response="+resp)
	if tc.qop != "" {
		parts = append(parts, "qop="+tc.qop)
	}
	if tc.authzid != "" {
		parts = append(parts, "authzid="+quote(tc.authzid))
	}
	return []byte(strings.Join(parts, ","))
}

// expectedRspauth is what a client checks the server's final token against.
func (tc testClient) expectedRspauth(nonce string) string {
	h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	key := md5.Sum([]byte(tc.user + ":" + tc.realm + ":" + tc.password))
	a1 := string(key[:]) + ":" + nonce + ":" + tc.cnonce
	return "rspauth=" + h(h(a1)+":"+nonce+":"+tc.nc+":"+tc.cnonce+":auth:"+h(":"+tc.uri))
}

var testUsers = Users{"bob": "bobpw", "alice": "alicepw", "zoë": "pässwörd", "日本": "パスワード"}

func TestExchange(t *testing.T) {
	tests := []struct {
		name    string
		client  func() testClient
		wantErr error
	}{
		{"ok", func() testClient { return defaultClient("bob", "bobpw") }, nil},
		{"ok second user", func() testClient { return defaultClient("alice", "alicepw") }, nil},
		{"ok without qop (defaults to auth)", func() testClient { c := defaultClient("bob", "bobpw"); c.qop = ""; return c }, nil},
		{"ok upper-case hex response", func() testClient { c := defaultClient("bob", "bobpw"); c.upperHex = true; return c }, nil},
		{"ok authzid equal to username", func() testClient { c := defaultClient("bob", "bobpw"); c.authzid = "bob"; return c }, nil},
		{"ok latin-1 user hashed as ISO 8859-1", func() testClient { return defaultClient("zoë", "pässwörd") }, nil},
		{"ok non-latin user hashed as UTF-8", func() testClient { return defaultClient("日本", "パスワード") }, nil},
		{"ok latin-1 user without charset", func() testClient {
			c := defaultClient("zoë", "pässwörd")
			c.charset = false
			// Without charset the client sends ISO 8859-1 bytes on the wire.
			b, _ := utf8ToLatin1(c.user)
			c.user = string(b)
			return c
		}, nil},
		{"latin-1 password hashed as UTF-8", func() testClient { c := defaultClient("zoë", "pässwörd"); c.latin1 = false; return c }, ErrAuthFailed},
		{"wrong password", func() testClient { return defaultClient("bob", "alicepw") }, ErrAuthFailed},
		{"empty password", func() testClient { return defaultClient("bob", "") }, ErrAuthFailed},
		{"unknown user", func() testClient { return defaultClient("mallory", "bobpw") }, ErrAuthFailed},
		{"password of another user", func() testClient { return defaultClient("alice", "bobpw") }, ErrAuthFailed},
		{"nonce count 2", func() testClient { c := defaultClient("bob", "bobpw"); c.nc = "00000002"; return c }, ErrAuthFailed},
		{"other digest-uri", func() testClient { c := defaultClient("bob", "bobpw"); c.uri = "zookeeper/localhost"; return c }, ErrAuthFailed},
		{"other realm", func() testClient { c := defaultClient("bob", "bobpw"); c.realm = "EXAMPLE.COM"; return c }, ErrAuthFailed},
		{"qop auth-int", func() testClient { c := defaultClient("bob", "bobpw"); c.qop = "auth-int"; return c }, ErrAuthFailed},
		{"authzid of another user", func() testClient { c := defaultClient("bob", "bobpw"); c.authzid = "alice"; return c }, ErrAuthFailed},
		{"nc not hex", func() testClient { c := defaultClient("bob", "bobpw"); c.nc = "0000000x"; return c }, ErrMalformed},
		{"nc too short", func() testClient { c := defaultClient("bob", "bobpw"); c.nc = "1"; return c }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := tt.client()
			c := NewDigestMD5(testUsers, DefaultRealm, nil)
			ch, done, err := c.Step(nil)
			if err != nil || done {
				t.Fatalf("first step: done=%v err=%v", done, err)
			}
			final, done, err := c.Step(tc.respond(t, ch))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if done || c.Username() != "" || final != nil {
					t.Fatalf("failed exchange left done=%v username=%q token=%q", done, c.Username(), final)
				}
				if strings.Contains(err.Error(), tc.password) && tc.password != "" {
					t.Fatalf("error %q reveals the password", err)
				}
				if _, _, err := c.Step(nil); !errors.Is(err, ErrState) {
					t.Fatalf("step after failure: %v, want ErrState", err)
				}
				return
			}
			if err != nil || !done {
				t.Fatalf("second step: done=%v err=%v", done, err)
			}
			d, _ := parseDirectives(ch)
			if tc.authzid == "" && tc.latin1 && tc.charset && isASCII(tc.user+tc.password) {
				if got, want := string(final), tc.expectedRspauth(d["nonce"]); got != want {
					t.Fatalf("rspauth %s, want %s", got, want)
				}
			}
			if !strings.HasPrefix(string(final), "rspauth=") {
				t.Fatalf("final token %q", final)
			}
			wantUser := tc.user
			if !tc.charset {
				wantUser = latin1ToUTF8(tc.user)
			}
			if c.Username() != wantUser {
				t.Fatalf("username %q, want %q", c.Username(), wantUser)
			}
		})
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// TestReplay: a response that was valid for one conversation does not
// authenticate another, because each conversation has its own nonce.
func TestReplay(t *testing.T) {
	tc := defaultClient("bob", "bobpw")
	first := NewDigestMD5(testUsers, DefaultRealm, nil)
	ch, _, _ := first.Step(nil)
	captured := tc.respond(t, ch)
	if _, done, err := first.Step(captured); err != nil || !done {
		t.Fatalf("original exchange: done=%v err=%v", done, err)
	}

	second := NewDigestMD5(testUsers, DefaultRealm, nil)
	ch2, _, _ := second.Step(nil)
	if bytes.Equal(ch, ch2) {
		t.Fatal("two conversations issued the same challenge")
	}
	if _, done, err := second.Step(captured); !errors.Is(err, ErrAuthFailed) || done {
		t.Fatalf("replayed response: done=%v err=%v, want ErrAuthFailed", done, err)
	}
	if second.Username() != "" {
		t.Fatalf("replay authenticated %q", second.Username())
	}
}

func TestNonEmptyInitialToken(t *testing.T) {
	c := NewDigestMD5(testUsers, DefaultRealm, nil)
	if _, _, err := c.Step([]byte("username=\"bob\"")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
}

func TestNonceReadError(t *testing.T) {
	c := NewDigestMD5(testUsers, DefaultRealm, bytes.NewReader([]byte("short")))
	if _, _, err := c.Step(nil); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Fatalf("err = %v, want a nonce error", err)
	}
}

func TestMalformedResponses(t *testing.T) {
	good := string(defaultClient("bob", "bobpw").respondTo("NONCE"))
	tests := []struct {
		name     string
		response string
	}{
		{"empty", ""},
		{"garbage", "xx="},
		{"no equals", "username"},
		{"unterminated quote", `username="bob`},
		{"duplicate username", good + `,username="alice"`},
		{"duplicate response", good + ",response=00000000000000000000000000000000"},
		{"missing response", strings.Replace(good, "response=", "respons=", 1)},
		{"missing cnonce", strings.Replace(good, "cnonce=", "xnonce=", 1)},
		{"missing digest-uri", strings.Replace(good, "digest-uri=", "digest-url=", 1)},
		{"short response", regexp.MustCompile(`response=[0-9a-f]+`).ReplaceAllString(good, "response=abc")},
		{"charset latin1", "charset=iso-8859-1," + strings.TrimPrefix(good, "charset=utf-8,")},
		{"junk after value", strings.Replace(good, "nc=00000001", `nc=00000001 "x"`, 1)},
		{"too long", good + "," + strings.Repeat("a", maxDirectiveBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewDigestMD5(testUsers, DefaultRealm, bytes.NewReader(bytes.Repeat([]byte{7}, nonceBytes)))
			if _, _, err := c.Step(nil); err != nil {
				t.Fatal(err)
			}
			resp := strings.ReplaceAll(tt.response, `nonce="NONCE"`, `nonce="`+c.nonce+`"`)
			_, done, err := c.Step([]byte(resp))
			if err == nil || done || c.Username() != "" {
				t.Fatalf("accepted %q: done=%v user=%q", resp, done, c.Username())
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("err = %v, want ErrMalformed or ErrAuthFailed", err)
			}
		})
	}
}

func TestParseDirectives(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
		bad  bool
	}{
		{in: `a=b`, want: map[string]string{"a": "b"}},
		{in: ` A = "x, \"y\" \\ z" ,, b=c , `, want: map[string]string{"a": `x, "y" \ z`, "b": "c"}},
		{in: `qop="auth,auth-int",maxbuf=1`, want: map[string]string{"qop": "auth,auth-int", "maxbuf": "1"}},
		{in: `a=`, want: map[string]string{"a": ""}},
		{in: ``, want: map[string]string{}},
		{in: `a="\`, bad: true},
		{in: `=b`, bad: true},
		{in: `a=b c=d`, bad: true},
		{in: `a=b,A=c`, bad: true},
		{in: `a b=c`, bad: true},
	}
	for _, tt := range tests {
		got, err := parseDirectives([]byte(tt.in))
		if tt.bad {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%q: err = %v, want ErrMalformed", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%q: got %v, want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzParseDirectives checks that the parser never panics and that what it
// accepts survives a round trip through quote.
func FuzzParseDirectives(f *testing.F) {
	for _, s := range []string{kazooResponse, apacheChallenge, apacheRspauth, `a="\"\\",,b=c`, `qop="auth,auth-int"`, `x="`, `,=,`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := parseDirectives(in)
		if err != nil {
			return
		}
		var parts []string
		for k, v := range d {
			parts = append(parts, k+"="+quote(v))
		}
		again, err := parseDirectives([]byte(strings.Join(parts, ",")))
		if err != nil {
			t.Fatalf("re-encoded %q does not parse: %v", parts, err)
		}
		if fmt.Sprint(again) != fmt.Sprint(d) {
			t.Fatalf("round trip changed %v into %v", d, again)
		}
		// And a whole conversation fed with the input must fail cleanly.
		c := NewDigestMD5(testUsers, DefaultRealm, nil)
		if _, _, err := c.Step(nil); err != nil {
			t.Fatal(err)
		}
		if _, done, _ := c.Step(in); done {
			t.Fatalf("random input %q authenticated", in)
		}
	})
}

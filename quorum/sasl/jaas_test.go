package sasl

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeJAAS(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "jaas.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseJAAS(t *testing.T) {
	p := writeJAAS(t, `
/* ZooKeeper server users */
Server {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_super="adminsecret"   // the super user
  user_bob="bob\"pw"
  user_semi="a;b=c}"
  debug=true;
  com.sun.security.auth.module.Krb5LoginModule optional useKeyTab=true keyTab="/k" principal="zk/host@R";
};
# the client side, ignored by the server
Client {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  username="bob"
  password="bobpw";
};
QuorumServer {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_zk='quorumpw';
};
`)
	got, err := ParseJAAS(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Users{"super": "adminsecret", "bob": `bob"pw`, "semi": "a;b=c}"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	q, err := ParseJAASSection(p, "QuorumServer")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q, Users{"zk": "quorumpw"}) {
		t.Fatalf("QuorumServer: %v", q)
	}
	if _, err := ParseJAASSection(p, "Missing"); !errors.Is(err, ErrNoSection) {
		t.Fatalf("missing section: %v, want ErrNoSection", err)
	}
}

func TestParseJAASErrors(t *testing.T) {
	const mod = "org.apache.zookeeper.server.auth.DigestLoginModule"
	tests := []struct {
		name, text, want string
	}{
		{"no semicolon after entry", "Server {\n " + mod + " required\n user_a=\"x\"\n};\n", `:4: expected ';' ending the`},
		{"no semicolon after brace", "Server {\n " + mod + " required user_a=\"x\";\n}\n", `:3: expected ';' after '}'`},
		{"bad flag", "Server {\n " + mod + " mandatory user_a=\"x\";\n};", `:2: control flag "mandatory"`},
		{"option without value", "Server {\n " + mod + " required\n user_a= ;\n};", `:3: option "user_a" has no value`},
		{"unterminated string", "Server {\n " + mod + " required\n user_a=\"x;\n};", `:3: quoted string not closed`},
		{"unterminated comment", "/* x\n\nServer {};", `:1: comment not closed`},
		{"duplicate user", "Server {\n " + mod + " required\n user_a=\"x\"\n user_a=\"y\";\n};", `:4: user "a" defined twice`},
		{"empty user name", "Server {\n " + mod + " required\n user_=\"x\";\n};", `:3: option "user_" has an empty user name`},
		{"duplicate section", "Server {\n};\nServer {\n};", `:3: section "Server" defined twice`},
		{"missing brace", "Server\n " + mod + " required;\n};", `:2: expected '{' after section name`},
		{"truncated", "Server {\n " + mod, `:2: expected control flag`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeJAAS(t, tt.text)
			_, err := ParseJAAS(p)
			if err == nil {
				t.Fatal("parsed")
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q should name %s and contain %q", err, p, tt.want)
			}
		})
	}
}

func TestParseJAASMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.conf")
	_, err := ParseJAAS(p)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v, want one naming %s", err, p)
	}
}

// FuzzParseJAAS checks that the JAAS parser ends and never panics, and
// that every user it returns came from a user_ option of a
// DigestLoginModule entry.
func FuzzParseJAAS(f *testing.F) {
	for _, s := range []string{
		"Server {\n " + DigestLoginModule + " required user_bob=\"pw\" user_x=y;\n};",
		"/* c */ A { m optional k='v\\'q'; n required; }; B {};",
		"S { m required k=\"unterminated",
		"# only a comment",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		sections, err := parseJAAS(text)
		if err != nil {
			return
		}
		for _, entries := range sections {
			for _, e := range entries {
				if !jaasFlags[e.flag] {
					t.Fatalf("entry %s has flag %q", e.module, e.flag)
				}
			}
		}
	})
}

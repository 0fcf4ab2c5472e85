package healthcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tcp := &TCPCheck{Address: "127.0.0.1:8080"}
	cases := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none = valid
	}{
		{"tcp only", Config{TCP: tcp}, nil},
		{"all three", Config{
			HTTP: &HTTPCheck{URL: "https://127.0.0.1:8443/health", ExpectStatus: []int{200, 204}},
			TCP:  tcp,
			Exec: &ExecCheck{Command: []string{"/bin/true"}, Env: []string{"A=b"}},
		}, nil},
		{"nothing to check", Config{}, []string{"no check configured"}},
		{"negative timing", Config{TCP: tcp, Interval: -time.Second, Timeout: -1, Rise: -1, Fall: -2},
			[]string{"health.interval:", "health.timeout:", "health.rise:", "health.fall:"}},
		{"missing url", Config{HTTP: &HTTPCheck{}}, []string{"health.http.url: required"}},
		{"bad scheme", Config{HTTP: &HTTPCheck{URL: "ftp://x/"}}, []string{"health.http.url: scheme"}},
		{"bad status", Config{HTTP: &HTTPCheck{URL: "http://x/", ExpectStatus: []int{200, 42}}},
			[]string{"health.http.expect_status[1]"}},
		{"ca file missing", Config{HTTP: &HTTPCheck{URL: "https://x/", CAFile: "/nonexistent/ca.pem"}},
			[]string{"health.http.ca_file:"}},
		{"ca file not pem", Config{HTTP: &HTTPCheck{URL: "https://x/", CAFile: notPEM}},
			[]string{"health.http.ca_file: no PEM"}},
		{"tcp without port", Config{TCP: &TCPCheck{Address: "127.0.0.1"}}, []string{"health.tcp.address:"}},
		{"tcp port out of range", Config{TCP: &TCPCheck{Address: "127.0.0.1:70000"}}, []string{"health.tcp.address:"}},
		{"exec without argv", Config{Exec: &ExecCheck{}}, []string{"health.exec.command: required"}},
		{"exec bad env", Config{Exec: &ExecCheck{Command: []string{"x"}, Env: []string{"NOEQUALS"}}},
			[]string{"health.exec.env[0]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	d := Config{}.withDefaults()
	if d.Interval != time.Second || d.Timeout != 2*time.Second || d.Rise != 2 || d.Fall != 2 {
		t.Fatalf("defaults = %+v", d)
	}
}

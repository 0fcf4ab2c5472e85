package config

import (
	"strings"
	"testing"
)

func TestFailsafeValidation(t *testing.T) {
	const tokenFile = "control: {token_file: /etc/zkfc/token}\n"
	peers := func(list string) string { return "failover: {failsafe: true, failsafe_peers: [" + list + "]}\n" }
	cases := []struct {
		name, yaml, want string // want "": valid
	}{
		{"valid", peers("{id: nn2, url: 'https://nn2:8019'}"), ""},
		{"no peers", peers(""), "failover.failsafe_peers: failover.failsafe needs the list"},
		{"peers without failsafe", "failover: {failsafe_peers: [{id: nn2, url: 'https://nn2:8019'}]}\n", "failover.failsafe_peers: set while failover.failsafe is false"},
		{"itself", peers("{id: nn1, url: 'https://nn1:8019'}"), "is this node"},
		{"twice", peers("{id: nn2, url: 'https://nn2:8019'}, {id: nn2, url: 'https://x:8019'}"), "nn2 is listed twice"},
		{"no id", peers("{url: 'https://nn2:8019'}"), "has no id"},
		{"relative url", peers("{id: nn2, url: 'nn2:8019'}"), "is not an absolute http(s) URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, mergeTop(validYAML, tokenFile+tc.yaml)), nil, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	_, err := Load(write(t, mergeTop(validYAML, peers("{id: nn2, url: 'https://nn2:8019'}"))), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "failover.failsafe: needs an authenticated control API") {
		t.Errorf("failsafe on an open control API: %v", err)
	}
}

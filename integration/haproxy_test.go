package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
)

// lbInter is HAProxy's check interval in this test (fall 1), and lbDrain
// zkfc's control.lb_drain: above HAProxy's detection time, inter × fall,
// with room for a check's own latency and HAProxy's timer slack.
const (
	lbInter = 500 * time.Millisecond
	lbDrain = 2*lbInter + 200*time.Millisecond
)

// answer is one client request through HAProxy.
type answer struct {
	sent, got time.Time
	server    string // X-Served-By: the HAProxy server that answered
	body      string // the service's role, as it answered
	code      int
}

// Real HAProxy (examples/haproxy's checks) in front of the two demo
// services of a zkfc pair: when the active's service fails or is killed,
// clients through HAProxy reach the new active, and no request through
// HAProxy is answered by the old active after its demotion. The failing
// service keeps running and answering clients: the case where a load
// balancer that lags could still send it requests.
func TestHAProxyFollowsFailover(t *testing.T) {
	t.Run("service fails", func(t *testing.T) { haproxyFailover(t, false) })
	t.Run("service killed", func(t *testing.T) { haproxyFailover(t, true) })
}

func haproxyFailover(t *testing.T, kill bool) {
	hb, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatalf("haproxy: %v (apt-get install haproxy)", err)
	}
	example := filepath.Join(filepath.Dir(zkfcenv.ExamplesDir()), "haproxy", "haproxy.cfg")
	if out, err := exec.Command(hb, "-c", "-f", example).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c %s: %v\n%s", example, err, out)
	}
	p := startPair(t, func(_ int, o *zkfcenv.ZKFCOptions) {
		o.Env = append(o.Env, "ZKFC_CONTROL_LB_DRAIN="+lbDrain.String())
		// A killed service cannot demote: the shell method confirms it is gone.
		o.Fencing = `    - type: graceful
      timeout: 3s
    - type: shell
      timeout: 5s
      shell:
        command: ["/bin/sh", "-c", "! curl -sS --max-time 2 http://$ZKFC_TARGET_ADDRESS/role"]
`
	})
	port := harness.FreePort(t)
	front := fmt.Sprintf("127.0.0.1:%d", port)
	var servers strings.Builder
	for i, d := range p.demos {
		ctl := strings.TrimPrefix(p.zkfcs[i].URL, "http://")
		fmt.Fprintf(&servers, "  server %s %s check port %s\n", d.Name, d.Addr, ctl[strings.LastIndex(ctl, ":")+1:])
	}
	cfg := fmt.Sprintf(`global
  maxconn 256
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 10s
frontend clients
  bind %s
  default_backend service
backend service
  option httpchk GET /active
  http-check expect status 200
  default-server inter %dms fall 1 rise 1 on-marked-down shutdown-sessions
  http-response set-header X-Served-By %%[srv_name]
%s`, front, lbInter.Milliseconds(), servers.String())
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(hb, "-c", "-f", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	harness.StartProc(t, "haproxy", filepath.Join(dir, "haproxy.log"), hb, "-f", cfgPath, "-db")

	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	ask := func() answer {
		a := answer{sent: time.Now()}
		resp, err := c.Get("http://" + front + "/role")
		a.got = time.Now()
		if err != nil {
			return a
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		a.code, a.server, a.body = resp.StatusCode, resp.Header.Get("X-Served-By"), strings.TrimSpace(string(b))
		return a
	}
	// HAProxy starts with every server up until its first check: wait
	// until it has checked both (a few intervals), then for nn1.
	time.Sleep(3 * lbInter)
	harness.WaitFor(t, 30*time.Second, "HAProxy routing to nn1 only", func() bool {
		for range 20 {
			if a := ask(); a.code != 200 || a.server != "nn1" {
				return false
			}
		}
		return true
	})

	// The client loop, bounded in time and count, runs through the failover.
	var mu sync.Mutex
	var answers []answer
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		end := time.Now().Add(90 * time.Second)
		for i := 0; i < 20000 && time.Now().Before(end); i++ {
			select {
			case <-stop:
				return
			default:
			}
			a := ask()
			mu.Lock()
			answers = append(answers, a)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { close(stop); <-done }()

	// The clients' outage runs from their last answer before the fault:
	// they must have had one.
	harness.WaitFor(t, 10*time.Second, "a client answered through HAProxy", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(answers) > 0
	})
	killed := map[string]time.Time{}
	if kill {
		killed["nn1"] = p.demos[0].Kill()
	} else {
		p.demos[0].Fail(t)
	}
	harness.WaitFor(t, 30*time.Second, "nn2 active", func() bool { return p.zkfcs[1].Role() == "active" })
	harness.WaitFor(t, 30*time.Second, "a client through HAProxy answered by nn2", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(answers) > 0 && answers[len(answers)-1].server == "nn2"
	})
	time.Sleep(4 * lbInter) // more answers after the switch: none may come from nn1
	mu.Lock()
	got := append([]answer(nil), answers...)
	mu.Unlock()

	var demoted, promoted time.Time
	for _, iv := range zkfcenv.ReadIntervalsKilled(t, p.roles, time.Now(), killed) {
		switch {
		case iv.Name == "nn1" && iv.End != nil && (!iv.Open || kill):
			demoted = *iv.End
		case iv.Name == "nn2":
			promoted = iv.Start
		}
	}
	if demoted.IsZero() || promoted.IsZero() {
		t.Fatalf("roles file: no demotion of nn1 (%v) or promotion of nn2 (%v)", demoted, promoted)
	}
	var firstNew time.Time
	counts := map[string]int{}
	for _, a := range got {
		counts[fmt.Sprintf("%s %d", a.server, a.code)]++
		if a.server == "nn1" && a.sent.After(demoted) {
			t.Errorf("HAProxy routed to the old active after its demotion at %s: request sent %s (+%s), answered %q",
				demoted.Format(time.RFC3339Nano), a.sent.Format(time.RFC3339Nano), a.sent.Sub(demoted), a.body)
		}
		if a.code == 200 && a.body != "active" {
			t.Errorf("HAProxy routed to %s while its service was %s (request sent %s)", a.server, a.body, a.sent.Format(time.RFC3339Nano))
		}
		if a.server == "nn2" && firstNew.IsZero() {
			firstNew = a.got
		}
	}
	t.Logf("%d requests through HAProxy (server, status: count): %v", len(got), counts)
	outage := clientOutage(got)
	t.Logf("nn1 demoted %s, nn2 promoted %s; first answer by nn2 through HAProxy %s after its promotion (HAProxy inter %s: 2 intervals = %s); client-observed outage %s",
		demoted.Format(time.RFC3339Nano), promoted.Format(time.RFC3339Nano), firstNew.Sub(promoted), lbInter, 2*lbInter, outage)
	if path := os.Getenv("HAPROXY_OUTAGE"); path != "" {
		name := map[bool]string{false: "service fails", true: "service killed"}[kill]
		if err := drill.AppendJSONLine(path, drill.LBOutage{Case: name, Outage: outage, Requests: len(got), AfterPromotion: firstNew.Sub(promoted)}); err != nil {
			t.Error(err)
		}
	}
	zkfcenv.CheckNoOverlap(t, zkfcenv.ReadIntervalsKilled(t, p.roles, time.Now(), killed))
}

// clientOutage is the longest time a client through the load balancer
// went without an answer from an active service: the largest gap between
// two successive answers that were 200 from a service saying "active".
// For the bench (HAPROXY_OUTAGE), which reports it per run.
func clientOutage(as []answer) time.Duration {
	var longest time.Duration
	var last time.Time
	for _, a := range as {
		if a.code != 200 || a.body != "active" {
			continue
		}
		if !last.IsZero() && a.got.Sub(last) > longest {
			longest = a.got.Sub(last)
		}
		last = a.got
	}
	return longest
}

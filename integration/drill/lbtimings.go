package drill

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// LBOutage is one failover as clients behind a load balancer saw it: the
// longest time without a successful answer from an active service, from
// the HAProxy test (integration/haproxy_test.go), for the bench.
type LBOutage struct {
	Case     string        `json:"case"` // e.g. "service fails"
	Outage   time.Duration `json:"outage_ns"`
	Requests int           `json:"requests"`
	// AfterPromotion: from the new active's promotion to the first answer
	// it gave through the load balancer.
	AfterPromotion time.Duration `json:"after_promotion_ns"`
}

// AppendLBOutage adds o to the JSON-lines file at path.
func AppendLBOutage(path string, o LBOutage) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("load-balancer outages %s: %w", path, err)
	}
	b, _ := json.Marshal(o)
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("load-balancer outages %s: %w", path, err)
	}
	return f.Close()
}

// ReadLBOutages reads a file AppendLBOutage wrote.
func ReadLBOutages(path string) ([]LBOutage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []LBOutage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var o LBOutage
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			return nil, fmt.Errorf("load-balancer outages %s: %w", path, err)
		}
		out = append(out, o)
	}
	return out, sc.Err()
}

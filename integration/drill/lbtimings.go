package drill

import "time"

// LBOutage is one failover as clients behind a load balancer saw it: the
// longest time without a successful answer from an active service, from
// the HAProxy test (integration/haproxy_test.go), for the bench: one JSON
// line per case (AppendJSONLine).
type LBOutage struct {
	Case     string        `json:"case"` // e.g. "service fails"
	Outage   time.Duration `json:"outage_ns"`
	Requests int           `json:"requests"`
	// AfterPromotion: from the new active's promotion to the first answer
	// it gave through the load balancer.
	AfterPromotion time.Duration `json:"after_promotion_ns"`
}

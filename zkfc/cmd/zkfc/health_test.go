package main

import (
	"testing"

	"github.com/zkfc-project/zkfc/healthcheck"
	"github.com/zkfc-project/zkfc/zkfc/controller"
)

// The controller answers graceful fencing at once when the service does not
// answer its probes; it recognises that state by the name run.go passes it.
func TestNotRespondingNameMatchesController(t *testing.T) {
	if got := healthcheck.NotResponding.String(); got != controller.NotResponding {
		t.Fatalf("healthcheck reports %q, controller waits for %q: a hung service's graceful fence would wait out its demote", got, controller.NotResponding)
	}
}

// Package drill is the independent observer of zkfc's failure drills: it
// reads every demo-service's roles file (the service's own record of when
// it was active and with which fencing token), polls the services' /role
// while a drill runs as a second source, and proves that no two actives
// ever overlapped, that fencing tokens only grew, and how long the cluster
// went without an active. It also holds the drills' network-namespace
// partition helper, the timings file the bench report draws and the
// JSON-lines files of the bench's other per-run records.
//
// It must never trust what a zkfc daemon says about roles: the services'
// own records are the evidence. Everything it starts or creates is undone
// by t.Cleanup.
package drill

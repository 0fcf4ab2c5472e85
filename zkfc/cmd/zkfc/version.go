package main

import "fmt"

// Set at build time by make build and make deb:
//
//	-ldflags "-X main.version=... -X main.commit=... -X main.buildDate=..."
//
// A plain go build leaves the defaults, which say so.
var (
	version   = "0.1.0-dev"
	commit    = "unknown"
	buildDate = "unknown"
)

func init() {
	register("version", "print the version, the git commit and the build date", func(args []string) int {
		fs := newFlagSet("version", "zkfc version: print the version, the git commit it was built from and when.\n")
		if code, done := parseFlags(fs, args); done {
			return code
		}
		fmt.Printf("zkfc %s\ncommit: %s\nbuilt:  %s\n", version, commit, buildDate)
		return 0
	})
}

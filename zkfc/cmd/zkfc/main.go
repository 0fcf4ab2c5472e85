// Command zkfc is the single binary of the project: the failover controller
// daemon, its control CLI, and a member of the embedded ZooKeeper-compatible
// quorum. Each subcommand lives in its own file of this package and
// registers itself in commands.
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/zkfc-project/zkfc/quorum/server"
)

// command is one subcommand. run gets the arguments after the subcommand
// name and returns the process exit code.
type command struct {
	summary string
	run     func(args []string) int
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string) int) {
	commands[name] = command{summary: summary, run: run}
}

func usage() {
	fmt.Fprintf(os.Stderr, `zkfc: failover controller with an embedded ZooKeeper-compatible quorum.

Usage: zkfc <command> [flags]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'zkfc <command> --help' for the flags of one command.\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	server.BuildVersion = version
	name := os.Args[1]
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "zkfc: unknown command %q\n\n", name)
		usage()
		os.Exit(2)
	}
	os.Exit(c.run(os.Args[2:]))
}

package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/zkfc-project/zkfc/zkfc/config"
)

func init() {
	register("digest", "print the ZooKeeper digest ACL id of a user (password on stdin)", cmdDigest)
}

const digestUsage = `zkfc digest USER: print USER's id for a digest ACL entry.

Reads the password from the first line of stdin (never from an argument,
which other users could see in the process list) and prints the
zookeeper.acl entry granting USER every permission. The id is
USER:base64(sha1(USER:password)), as ZooKeeper computes it.

Example:
  zkfc digest zkfc < /etc/zkfc/zookeeper-password
  cut -d: -f2- /etc/zkfc/zookeeper-auth | zkfc digest zkfc
`

func cmdDigest(args []string) int {
	fs := newFlagSet("digest", digestUsage)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" || strings.Contains(fs.Arg(0), ":") {
		fs.Usage()
		return 2
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return fail("digest: no password on stdin (%v)", err)
	}
	fmt.Printf("digest:%s:cdrwa\n", config.DigestID(fs.Arg(0), pw))
	return 0
}

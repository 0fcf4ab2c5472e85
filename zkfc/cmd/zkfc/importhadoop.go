package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/zkfc-project/zkfc/zkfc/config"
	"github.com/zkfc-project/zkfc/zkfc/hadoopconf"
)

func init() {
	register("import-hadoop", "write a zkfc.yaml per NameNode from a Hadoop HA configuration", cmdImportHadoop)
}

const importHadoopUsage = `zkfc import-hadoop: write a zkfc.yaml per NameNode from a Hadoop HA configuration.

Reads core-site.xml and hdfs-site.xml (from --conf-dir, default
$HADOOP_CONF_DIR or /etc/hadoop/conf) and writes OUT/<namenode id>/zkfc.yaml
for every NameNode of the nameservice: its addresses, the ZooKeeper
ensemble, session timeout, parent znode, ACL and credentials
(OUT/<id>/zookeeper-auth, chmod 600), the health monitor's interval and
timeout, and the fencing methods (graceful first, as Hadoop's ZKFC does,
then sshfence and shell(...) in order). The NameNode's health and role are
checked through its JMX status over HTTP (--check jmx) or hdfs haadmin
(--check haadmin); promotion and demotion run hdfs haadmin.

Every file written is loaded and validated as zkfc run would. What is
unsafe is mapped faithfully and reported with the reason, in the output
and at the top of each file: a fencing list ending in shell(/bin/true), a
missing known_hosts file, world-writable ACLs. A property of the ZKFC's
namespaces (ha.*, dfs.ha.fencing.*, dfs.ha.zkfc.*) that cannot be mapped
is refused, by name, and nothing is written. Properties of the NameNode,
DataNodes and clients are ignored.

Example:
  zkfc import-hadoop --conf-dir /etc/hadoop/conf --out /tmp/zkfc-import
  zkfc import-hadoop --hdfs-site hdfs-site.xml --core-site core-site.xml \
      --out out --check haadmin --ssh-user hdfs
`

func cmdImportHadoop(args []string) int {
	fs := newFlagSet("import-hadoop", importHadoopUsage)
	confDir := fs.String("conf-dir", envOr("HADOOP_CONF_DIR", "/etc/hadoop/conf"), "directory holding core-site.xml and hdfs-site.xml (env HADOOP_CONF_DIR)")
	coreSite := fs.String("core-site", "", "core-site.xml file (default: in --conf-dir)")
	hdfsSite := fs.String("hdfs-site", "", "hdfs-site.xml file (default: in --conf-dir)")
	out := fs.String("out", "", "directory to write <namenode id>/zkfc.yaml into (required)")
	force := fs.Bool("force", false, "overwrite files already in --out")
	ns := fs.String("nameservice", "", "the nameservice to import when dfs.nameservices lists several")
	check := fs.String("check", hadoopconf.CheckJMX, "health and role check: jmx (the NameNode's /jmx over HTTP) or haadmin (hdfs haadmin, a JVM per probe)")
	hdfs := fs.String("hdfs", hadoopconf.DefaultHDFS, "the hdfs command on the NameNode hosts")
	sshUser := fs.String("ssh-user", hadoopconf.DefaultSSHUser, "user for an sshfence that names none (Hadoop used the ZKFC's own user)")
	knownHosts := fs.String("known-hosts", hadoopconf.DefaultKnownHostsFile, "known_hosts file zkfc's ssh fencing verifies host keys with")
	authFile := fs.String("auth-file", hadoopconf.DefaultAuthFile, "path zkfc will read ha.zookeeper.auth's credentials from on the NameNode hosts")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *out == "" {
		return fail("import-hadoop: --out DIR is required")
	}
	if *coreSite == "" {
		*coreSite = filepath.Join(*confDir, "core-site.xml")
	}
	if *hdfsSite == "" {
		*hdfsSite = filepath.Join(*confDir, "hdfs-site.xml")
	}
	conf, err := hadoopconf.ReadFiles(*coreSite, *hdfsSite)
	if err != nil {
		return fail("import-hadoop: %v", err)
	}
	res, err := hadoopconf.Map(conf, hadoopconf.Options{
		Nameservice: *ns, Check: *check, HDFS: *hdfs, SSHUser: *sshUser,
		KnownHostsFile: *knownHosts, AuthFile: *authFile,
	})
	if err != nil {
		var lines []string
		for _, e := range unjoin(err) {
			lines = append(lines, "  "+e.Error())
		}
		return fail("import-hadoop: nothing written; cannot map:\n%s", strings.Join(lines, "\n"))
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(os.Stderr, "warning: %s\n", w)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(os.Stderr, "note: %s\n", n)
	}
	for _, n := range res.Nodes {
		dir := filepath.Join(*out, n.ID)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail("import-hadoop: %v", err)
		}
		path := filepath.Join(dir, "zkfc.yaml")
		if err := writeNew(path, n.YAML, 0o644, *force); err != nil {
			return fail("import-hadoop: %v", err)
		}
		if res.Auth != nil {
			if err := writeNew(filepath.Join(dir, "zookeeper-auth"), res.Auth, 0o600, *force); err != nil {
				return fail("import-hadoop: %v", err)
			}
		}
		// What zkfc run would say about the file, before anyone installs it.
		if _, err := config.Load(path, nil, nil); err != nil {
			return fail("import-hadoop: the file written for %s does not load (a bug in import-hadoop; please report it with the Hadoop files): %v", n.ID, err)
		}
		fmt.Printf("%s: %s\n", n.ID, path)
	}
	if res.Auth != nil {
		fmt.Printf("install each <id>/zookeeper-auth as %s (owner zkfc, mode 0600)\n", *authFile)
	}
	return 0
}

// writeNew writes a file, refusing to replace one unless force.
func writeNew(path string, b []byte, mode os.FileMode, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, mode)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; pass --force to overwrite it", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// unjoin lists the errors errors.Join combined (or err alone).
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

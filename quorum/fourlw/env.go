package fourlw

import (
	"math"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/zkfc-project/zkfc/quorum/config"
)

// StandardConf returns the conf lines ZooKeeper 3.8 prints for c, given
// the current sizes of the data and log directories. In quorum mode it
// adds the peer keys and the membership block. Like ZooKeeper it names the
// version-2 directories under dataDir and dataLogDir, where the snapshots
// and logs of a ZooKeeper-layout member live.
func StandardConf(c *config.Config, dataDirSize, dataLogSize int64) []string {
	secure := c.SecureClientPort
	if secure == 0 {
		secure = -1
	}
	lines := []string{
		"clientPort=" + strconv.Itoa(c.ClientPort),
		"secureClientPort=" + strconv.Itoa(secure),
		"dataDir=" + filepath.Join(absPath(c.DataDir), "version-2"),
		"dataDirSize=" + strconv.FormatInt(dataDirSize, 10),
		"dataLogDir=" + filepath.Join(absPath(c.DataLogDir), "version-2"),
		"dataLogSize=" + strconv.FormatInt(dataLogSize, 10),
		"tickTime=" + strconv.FormatInt(c.TickTime.Milliseconds(), 10),
		"maxClientCnxns=" + strconv.Itoa(c.MaxClientCnxns),
		"minSessionTimeout=" + strconv.FormatInt(c.MinSessionTimeout.Milliseconds(), 10),
		"maxSessionTimeout=" + strconv.FormatInt(c.MaxSessionTimeout.Milliseconds(), 10),
		"clientPortListenBacklog=-1",
		"serverId=" + strconv.FormatUint(c.MyID, 10),
	}
	if c.Standalone {
		return lines
	}
	me, _ := c.Member()
	peerType := "0"
	if me.Observer {
		peerType = "1"
	}
	lines = append(lines,
		"initLimit="+strconv.Itoa(c.InitLimit),
		"syncLimit="+strconv.Itoa(c.SyncLimit),
		"electionAlg=3",
		"electionPort="+strconv.Itoa(me.ElectionPort),
		"quorumPort="+strconv.Itoa(me.PeerPort),
		"peerType="+peerType,
		"membership: ",
	)
	for _, s := range c.Servers {
		lines = append(lines, "server."+strconv.FormatUint(s.ID, 10)+"="+serverString(s))
	}
	return append(lines, "version=0")
}

// serverString is ZooKeeper's QuorumServer.toString:
// host:peerPort:electionPort:type[;clientHost:clientPort].
func serverString(s config.Server) string {
	host := s.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	typ := "participant"
	if s.Observer {
		typ = "observer"
	}
	out := host + ":" + strconv.Itoa(s.PeerPort) + ":" + strconv.Itoa(s.ElectionPort) + ":" + typ
	if s.ClientPort != 0 {
		ch := s.ClientHost
		if ch == "" {
			ch = "0.0.0.0"
		} else if strings.Contains(ch, ":") {
			ch = "[" + ch + "]"
		}
		out += ";" + ch + ":" + strconv.Itoa(s.ClientPort)
	}
	return out
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// ProcessEnv returns envi's lines for this process, in ZooKeeper's order
// and with its key names where a Go process has an equivalent (the JVM
// keys become go.*).
func ProcessEnv(fullVersion string) []KV {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	exe, _ := os.Executable()
	userName, home := "", ""
	if u, err := user.Current(); err == nil {
		userName, home = u.Username, u.HomeDir
	}
	osVersion := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		osVersion = strings.TrimSpace(string(b))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return []KV{
		{"zookeeper.version", fullVersion},
		{"host.name", host},
		{"go.version", runtime.Version()},
		{"go.executable", exe},
		{"go.maxprocs", strconv.Itoa(runtime.GOMAXPROCS(0))},
		{"os.name", strings.ToUpper(runtime.GOOS[:1]) + runtime.GOOS[1:]},
		{"os.arch", runtime.GOARCH},
		{"os.version", osVersion},
		{"user.name", userName},
		{"user.home", home},
		{"user.dir", wd},
		// ZooKeeper prints the JVM's free, max and total memory; the Go
		// runtime's nearest equivalents: memory obtained from the OS and
		// not in use by the heap, the memory limit (or what was obtained
		// when unlimited), and what was obtained.
		{"os.memory.free", strconv.FormatUint((ms.Sys-ms.HeapInuse)>>20, 10) + "MB"},
		{"os.memory.max", strconv.FormatUint(memoryMax(ms.Sys)>>20, 10) + "MB"},
		{"os.memory.total", strconv.FormatUint(ms.Sys>>20, 10) + "MB"},
	}
}

func memoryMax(sys uint64) uint64 {
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 {
		return uint64(l)
	}
	return sys
}

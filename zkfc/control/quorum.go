package control

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The console's quorum view asks every member the four-letter word srvr,
// which Apache ZooKeeper and the embedded quorum both enable by default:
// mode, last zxid, connections, latency. The members come from
// /zookeeper/config, read on this zkfc's session, or from
// zookeeper.connect when that names none.

type quorumMember struct {
	ID          string `json:"id,omitempty"`
	Address     string `json:"address"`
	Role        string `json:"role,omitempty"` // participant | observer, from /zookeeper/config
	Mode        string `json:"mode,omitempty"`
	Serving     bool   `json:"serving"`
	Zxid        string `json:"zxid,omitempty"`
	Epoch       int64  `json:"epoch,omitempty"`
	Leader      bool   `json:"leader"`
	Lag         *int64 `json:"lag,omitempty"` // transactions behind the leader, same epoch
	Connections *int   `json:"connections,omitempty"`
	Outstanding *int   `json:"outstanding,omitempty"`
	Latency     string `json:"latency,omitempty"` // min/avg/max ms
	NodeCount   *int   `json:"node_count,omitempty"`
	Error       string `json:"error,omitempty"`
	zxid        int64
}

type quorumView struct {
	Time    time.Time      `json:"time"`
	Source  string         `json:"source"`
	Leader  string         `json:"leader,omitempty"`
	Members []quorumMember `json:"members"`
	Errors  []string       `json:"errors,omitempty"`
}

func (s *Server) consoleQuorum(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*consolePeerTimeout)
	defer cancel()
	writeJSON(w, http.StatusOK, s.gatherQuorum(ctx))
}

func (s *Server) gatherQuorum(ctx context.Context) quorumView {
	v := quorumView{Time: time.Now(), Source: "/zookeeper/config"}
	var members []quorumMember
	if t := s.con.src.Tree; t != nil {
		z, err := t.Znode("/zookeeper/config")
		if err != nil {
			v.Errors = append(v.Errors, "read /zookeeper/config: "+err.Error())
		} else {
			members = parseClusterConfig(string(z.Data))
		}
	}
	if len(members) == 0 {
		v.Source = "zookeeper.connect"
		for _, a := range s.con.src.Servers {
			members = append(members, quorumMember{Address: a})
		}
	}
	var wg sync.WaitGroup
	for i := range members {
		wg.Add(1)
		go func(m *quorumMember) {
			defer wg.Done()
			s.srvr(ctx, m)
		}(&members[i])
	}
	wg.Wait()
	var leader *quorumMember
	for i := range members {
		if members[i].Mode == "leader" {
			members[i].Leader = true
			leader = &members[i]
			v.Leader = members[i].ID
			if v.Leader == "" {
				v.Leader = members[i].Address
			}
		}
	}
	if leader != nil {
		for i := range members {
			m := &members[i]
			if m.Zxid != "" && m.Epoch == leader.Epoch {
				lag := max(leader.zxid-m.zxid, 0)
				m.Lag = &lag
			}
		}
	}
	if members == nil {
		members = []quorumMember{}
	}
	v.Members = members
	return v
}

// parseClusterConfig reads ZooKeeper's dynamic configuration
// ("server.1=host:peer:election:participant;clientHost:clientPort").
// A member without a client address cannot be asked and is left out.
func parseClusterConfig(text string) []quorumMember {
	var out []quorumMember
	for _, line := range strings.Split(text, "\n") {
		key, val, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || !strings.HasPrefix(key, "server.") {
			continue
		}
		server, client, ok := strings.Cut(val, ";")
		if !ok || client == "" {
			continue
		}
		host, rest := server, ""
		if strings.HasPrefix(host, "[") {
			if i := strings.Index(host, "]"); i > 0 {
				host, rest = host[1:i], host[i+1:]
			}
		} else if i := strings.Index(host, ":"); i >= 0 {
			host, rest = host[:i], host[i:]
		}
		role := "participant"
		if strings.HasSuffix(rest, ":observer") {
			role = "observer"
		}
		chost, cport := host, client
		if h, p, err := net.SplitHostPort(client); err == nil {
			chost, cport = h, p
			if h == "" || h == "0.0.0.0" || h == "::" {
				chost = host
			}
		}
		out = append(out, quorumMember{ID: strings.TrimPrefix(key, "server."), Address: net.JoinHostPort(chost, cport), Role: role})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// srvr asks one member and fills m from the reply.
func (s *Server) srvr(ctx context.Context, m *quorumMember) {
	dial := s.con.src.Dial
	if dial == nil {
		dial = net.DialTimeout
	}
	deadline := time.Now().Add(consolePeerTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn, err := dial("tcp", m.Address, time.Until(deadline))
	if err != nil {
		m.Error = err.Error()
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte("srvr")); err != nil {
		m.Error = "send srvr: " + err.Error()
		return
	}
	out, err := io.ReadAll(io.LimitReader(conn, 64<<10))
	if err != nil && len(out) == 0 {
		m.Error = "read srvr: " + err.Error()
		return
	}
	parseSrvr(out, m)
}

func parseSrvr(out []byte, m *quorumMember) {
	if bytes.Contains(out, []byte("not currently serving")) {
		m.Mode, m.Error = "not serving", strings.TrimSpace(string(out))
		return
	}
	if bytes.Contains(out, []byte("is not executed because it is not in the whitelist")) {
		m.Error = "srvr is not in this member's 4lw.commands.whitelist"
		return
	}
	atoi := func(v string) *int {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil
		}
		return &n
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		switch k {
		case "Mode":
			m.Mode = v
		case "Zxid":
			if z, err := strconv.ParseInt(strings.TrimPrefix(v, "0x"), 16, 64); err == nil {
				m.Zxid, m.zxid, m.Epoch = v, z, z>>32
			}
		case "Connections":
			m.Connections = atoi(v)
		case "Outstanding":
			m.Outstanding = atoi(v)
		case "Node count":
			m.NodeCount = atoi(v)
		case "Latency min/avg/max":
			m.Latency = v
		}
	}
	m.Serving = m.Mode != ""
	if !m.Serving && m.Error == "" {
		m.Error = fmt.Sprintf("unexpected srvr reply: %.80q", out)
	}
}

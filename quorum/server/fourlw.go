package server

import (
	"net"
	"time"
)

// Temporary: replaced by the quorum/fourlw glue.
func (s *Server) isFourLetterWord(b []byte) bool {
	switch string(b) {
	case "ruok", "srvr", "stat", "mntr", "conf", "cons", "envi", "wchs", "wchc", "wchp", "dump", "isro", "srst", "crst", "dirs":
		return true
	}
	return false
}

func (s *Server) fourLetterWord(cmd string) []byte {
	if cmd == "ruok" {
		return []byte("imok")
	}
	return nil
}

func (s *Server) serveFourLetterWord(nc net.Conn, cmd string) {
	_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = nc.Write(s.fourLetterWord(cmd))
}

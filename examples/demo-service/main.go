// Command demo-service is a small service for zkfc drills and tests: an
// HTTP server with a role (standby or active), a health endpoint that can
// be made to fail or hang on demand, and a JSON-lines log of its active
// intervals from which an independent observer can check that no two
// instances were ever active at once (format: package roles).
//
//	GET  /health          200 ok, 503 when failed, never answers when hung
//	GET  /role            active | standby
//	POST /promote?token=N become active; refused (409) if N < the highest token seen
//	POST /demote          become standby
//	POST /admin/fail      make /health answer 503
//	POST /admin/hang      make /health hang
//	POST /admin/recover   make /health answer 200 again
//
// It must never become active on its own: only /promote does that.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/zkfc-project/zkfc/examples/demo-service/roles"
)

type service struct {
	name  string
	mu    sync.Mutex
	role  string
	token uint64 // token of the current active interval
	max   uint64 // highest token ever accepted
	since time.Time
	mode  string // ok | fail | hang
	hang  chan struct{}
	log   *os.File
}

func (s *service) record(iv roles.Interval) {
	if s.log == nil {
		return
	}
	// One write per line; O_APPEND keeps lines of several processes whole.
	if _, err := s.log.Write(roles.Line(iv)); err != nil {
		log.Printf("roles file: %v", err)
	}
	_ = s.log.Sync()
}

func (s *service) promote(w http.ResponseWriter, r *http.Request) {
	tok, err := strconv.ParseUint(r.URL.Query().Get("token"), 10, 64)
	if err != nil {
		http.Error(w, "token: want a non-negative integer", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok < s.max {
		http.Error(w, fmt.Sprintf("stale fencing token %d < %d", tok, s.max), http.StatusConflict)
		return
	}
	s.max = tok
	if s.role == "active" {
		if s.token == tok {
			fmt.Fprintln(w, "active")
			return
		}
		s.endLocked()
	}
	s.role, s.token, s.since = "active", tok, time.Now()
	s.record(roles.Interval{Role: "active", Token: tok, Start: s.since, PID: os.Getpid(), Name: s.name})
	log.Printf("promoted with token %d", tok)
	fmt.Fprintln(w, "active")
}

func (s *service) endLocked() {
	if s.role != "active" {
		return
	}
	end := time.Now()
	s.record(roles.Interval{Role: "active", Token: s.token, Start: s.since, End: &end, PID: os.Getpid(), Name: s.name})
	s.role = "standby"
}

func (s *service) demote(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.endLocked()
	s.mu.Unlock()
	log.Printf("demoted")
	fmt.Fprintln(w, "standby")
}

func (s *service) health(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	mode, hang := s.mode, s.hang
	s.mu.Unlock()
	switch mode {
	case "fail":
		http.Error(w, "failing on purpose", http.StatusServiceUnavailable)
	case "hang":
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintln(w, "ok")
	default:
		fmt.Fprintln(w, "ok")
	}
}

func (s *service) setMode(mode string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		if s.mode == "hang" && mode != "hang" {
			close(s.hang)
		}
		if mode == "hang" && s.mode != "hang" {
			s.hang = make(chan struct{})
		}
		s.mode = mode
		s.mu.Unlock()
		log.Printf("health mode %s", mode)
		fmt.Fprintln(w, mode)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	rolesFile := flag.String("roles-file", "", "append active intervals as JSON lines to this file")
	name := flag.String("name", "", "instance name written to the roles file (default: the listen address)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "demo-service: a toy service with a role, for zkfc drills.\n\nExample:\n  demo-service --listen 127.0.0.1:8081 --roles-file /tmp/roles.jsonl\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	s := &service{name: *name, role: "standby", mode: "ok"}
	if s.name == "" {
		s.name = *listen
	}
	if *rolesFile != "" {
		f, err := os.OpenFile(*rolesFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			log.Fatalf("roles file %s: %v", *rolesFile, err)
		}
		defer f.Close()
		s.log = f
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /role", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		fmt.Fprintln(w, s.role)
	})
	mux.HandleFunc("POST /promote", s.promote)
	mux.HandleFunc("POST /demote", s.demote)
	mux.HandleFunc("POST /admin/fail", s.setMode("fail"))
	mux.HandleFunc("POST /admin/hang", s.setMode("hang"))
	mux.HandleFunc("POST /admin/recover", s.setMode("ok"))
	hs := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	log.Printf("demo-service on %s", *listen)
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("listen %s: %v", *listen, err)
	}
	s.mu.Lock()
	s.endLocked()
	s.mu.Unlock()
}

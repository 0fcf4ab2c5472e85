package pgenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/lib/pq"
)

// ioTimeout bounds every read and write on a writer's connection. lib/pq
// cancels a query on its context by asking the server, which a server cut
// off by a partition never hears: without a deadline on the socket the
// writer would hang on it for good.
const ioTimeout = 4 * time.Second

type deadlineDialer struct{}

func (deadlineDialer) Dial(network, addr string) (net.Conn, error) {
	return deadlineDialer{}.DialTimeout(network, addr, 2*time.Second)
}

func (deadlineDialer) DialTimeout(network, addr string, d time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout(network, addr, d)
	if err != nil {
		return nil, err
	}
	return deadlineConn{c}, nil
}

type deadlineConn struct{ net.Conn }

func (c deadlineConn) Read(b []byte) (int, error) {
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	return c.Conn.Read(b)
}

func (c deadlineConn) Write(b []byte) (int, error) {
	_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
	return c.Conn.Write(b)
}

// open returns a database handle whose connections carry ioTimeout.
func open(dsn string) (*sql.DB, error) {
	conn, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	conn.Dialer(deadlineDialer{})
	return sql.OpenDB(conn), nil
}

// RowsTable is where the writer commits its numbered rows.
const RowsTable = "zkfc_rows"

// CreateRowsTable creates the writer's table on a primary (it replicates
// to the standby).
func CreateRowsTable(dsn string) error {
	db, err := open(dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+RowsTable+" (id bigint PRIMARY KEY, server text NOT NULL, token bigint NOT NULL)")
	return err
}

// Target is one server the writer writes to.
type Target struct {
	Name string // the zkfc node id, as zkfc.fencing.node names it
	DSN  string
	// NoToken: the server has no zkfc.fencing table (a cluster run by
	// Patroni); commits carry token 0 and nothing is refused.
	NoToken bool
}

// Ack is one commit the server acknowledged.
type Ack struct {
	ID     int64
	Server string
	Token  int64 // the server's fencing token, read in the same transaction
	Start  time.Time
	At     time.Time // when the commit's acknowledgment reached the writer
}

// Refusal is a transaction the writer rolled back instead of committing:
// the server's token was below one the writer had already seen.
type Refusal struct {
	Server      string
	Token, Seen int64
	At          time.Time
}

// History is what a writer saw.
type History struct {
	Acks     []Ack
	Refusals []Refusal
	Errors   int // failed attempts: server down, read-only, not the token's holder...
}

// Writer commits numbered rows to every target at once, one connection
// and goroutine per target, so that two servers accepting writes at the
// same time would both show in its history. Each transaction reads the
// server's fencing token (zkfc.fencing, written by promote.sh) and
// commits only if the token row names that very server and is not lower
// than the highest token the writer has seen; otherwise it rolls back.
type Writer struct {
	mu      sync.Mutex
	next    int64
	seen    int64
	hist    History
	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
	pause   time.Duration
	timeout time.Duration
}

// StartWriter starts writing to targets; pause is the wait between two
// attempts on one target (bounding the load it adds).
func StartWriter(targets []Target, pause time.Duration) *Writer {
	// The attempt's deadline is longer than ioTimeout on purpose: when a
	// context ends, lib/pq sends the server a cancel request, and a commit
	// cancelled while it waits for the synchronous standby is committed
	// locally and reported as a success (with only a WARNING): an
	// acknowledgment the standby never had. The socket deadline instead
	// drops the connection, and the commit counts as not acknowledged.
	w := &Writer{stop: make(chan struct{}), pause: pause, timeout: 3 * ioTimeout}
	for _, tg := range targets {
		w.wg.Add(1)
		go w.run(tg)
	}
	return w
}

// Stop ends the writer (bounded by one attempt's timeout) and returns its
// history; it may be called again.
func (w *Writer) Stop() History {
	w.stopped.Do(func() { close(w.stop) })
	w.wg.Wait()
	return w.Snapshot()
}

// Snapshot is the history so far.
func (w *Writer) Snapshot() History {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := History{Errors: w.hist.Errors}
	h.Acks = append(h.Acks, w.hist.Acks...)
	h.Refusals = append(h.Refusals, w.hist.Refusals...)
	return h
}

// LastAck is the time of the latest acknowledged commit (zero if none).
func (w *Writer) LastAck() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.hist.Acks); n > 0 {
		return w.hist.Acks[n-1].At
	}
	return time.Time{}
}

// AcksOn counts acknowledged commits on server after t.
func (w *Writer) AcksOn(server string, after time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, a := range w.hist.Acks {
		if a.Server == server && a.At.After(after) {
			n++
		}
	}
	return n
}

func (w *Writer) run(tg Target) {
	defer w.wg.Done()
	db, err := open(tg.DSN)
	if err != nil {
		panic(err) // only a malformed DSN, a bug of the caller
	}
	defer db.Close()
	// One connection: a reconnect after a failure is a fresh one, and a
	// connection to a killed server is not kept in a pool.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		if err := w.once(db, tg); err != nil {
			w.mu.Lock()
			w.hist.Errors++
			w.mu.Unlock()
			// Drop the connection so that the next attempt reconnects
			// rather than reusing a broken one.
			db.SetMaxIdleConns(0)
			db.SetMaxIdleConns(1)
		}
		select {
		case <-w.stop:
			return
		case <-time.After(w.pause):
		}
	}
}

func (w *Writer) once(db *sql.DB, tg Target) error {
	server := tg.Name
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var token int64
	holder := server
	if !tg.NoToken {
		if err := tx.QueryRowContext(ctx, "SELECT token, node FROM zkfc.fencing").Scan(&token, &holder); err != nil {
			return err
		}
	}
	if holder != server {
		// A promotion in progress: the token row still names the old
		// primary, so this server has not stored its own token yet.
		return fmt.Errorf("%s: token %d belongs to %s", server, token, holder)
	}
	w.mu.Lock()
	id := w.next
	w.next++
	seen := w.seen
	w.mu.Unlock()
	if token < seen {
		w.mu.Lock()
		w.hist.Refusals = append(w.hist.Refusals, Refusal{Server: server, Token: token, Seen: seen, At: time.Now()})
		w.mu.Unlock()
		return nil
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+RowsTable+" (id, server, token) VALUES ($1, $2, $3)", id, server, token); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		// Unknown outcome: the row may or may not be there; it was not
		// acknowledged, so the checker does not ask for it.
		return err
	}
	at := time.Now()
	w.mu.Lock()
	w.hist.Acks = append(w.hist.Acks, Ack{ID: id, Server: server, Token: token, Start: start, At: at})
	if token > w.seen {
		w.seen = token
	}
	w.mu.Unlock()
	return nil
}

// Row is one row of the writer's table as a server holds it.
type Row struct {
	Server string
	Token  int64
}

// ReadRows reads the writer's table from a server.
func ReadRows(dsn string) (map[int64]Row, error) {
	db, err := open(dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SELECT id, server, token FROM "+RowsTable)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]Row{}
	for rows.Next() {
		var id int64
		var r Row
		if err := rows.Scan(&id, &r.Server, &r.Token); err != nil {
			return nil, err
		}
		out[id] = r
	}
	return out, rows.Err()
}

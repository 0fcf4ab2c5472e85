package integration

// The raw-wire vocabulary the differential scenarios share: calls that
// record their reply (and the events that came before it) in the
// transcript.

import (
	"fmt"
	"strings"

	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

// closedText reduces a read error to whether the connection was closed.
func closedText(err error) string {
	if err == nil {
		return "open"
	}
	if strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset") {
		return "closed"
	}
	return "error: " + err.Error()
}

var eventNames = map[int32]string{
	proto.EventNone: "None", proto.EventNodeCreated: "NodeCreated", proto.EventNodeDeleted: "NodeDeleted",
	proto.EventNodeDataChanged: "NodeDataChanged", proto.EventNodeChildrenChanged: "NodeChildrenChanged",
	proto.EventDataWatchRemoved: "DataWatchRemoved", proto.EventChildWatchRemoved: "ChildWatchRemoved",
	proto.EventPersistentWatchRemoved: "PersistentWatchRemoved",
}

func evText(ev proto.WatcherEvent) string {
	name, ok := eventNames[ev.Type]
	if !ok {
		name = fmt.Sprintf("type%d", ev.Type)
	}
	return fmt.Sprintf("event %s state=%d path=%s", name, ev.State, ev.Path)
}

// rcall makes a raw call and writes the notifications that preceded the
// reply, then "label -> ErrName". The returned error is a harness failure.
func rcall(tr *zkenv.Transcript, r *zkenv.RawConn, label string, op int32, req, resp proto.Record) (proto.Err, error) {
	rep, err := r.Call(op, req, resp)
	return recordReply(tr, label, rep, err)
}

func rcallXid(tr *zkenv.Transcript, r *zkenv.RawConn, label string, xid, op int32, req, resp proto.Record) (proto.Err, error) {
	rep, err := r.CallXid(xid, op, req, resp)
	return recordReply(tr, label, rep, err)
}

func recordReply(tr *zkenv.Transcript, label string, rep zkenv.Reply, err error) (proto.Err, error) {
	for _, ev := range rep.Events {
		tr.Printf("  %s", evText(ev))
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", label, err)
	}
	tr.Printf("%s -> %s", label, rep.Header.Err)
	return rep.Header.Err, nil
}

// barrier pings on r and records the notifications that arrived before the
// ping's reply. A change made by another session whose reply that session
// already has is notified to r before any later reply on r (ZooKeeper
// queues the notification before answering the writer), so this is a
// deterministic way to collect "the events caused so far".
func barrier(tr *zkenv.Transcript, r *zkenv.RawConn, label string) error {
	rep, err := r.Ping()
	if err != nil {
		return fmt.Errorf("barrier %s: %w", label, err)
	}
	tr.Printf("%s: %d events", label, len(rep.Events))
	for _, ev := range rep.Events {
		tr.Printf("  %s", evText(ev))
	}
	return nil
}

func rawCreate(tr *zkenv.Transcript, r *zkenv.RawConn, path string, data string, mode int32) error {
	_, err := rcall(tr, r, "create "+path, proto.OpCreate,
		&proto.CreateRequest{Path: path, Data: []byte(data), ACL: proto.OpenACL, Flags: mode}, &proto.PathResponse{})
	return err
}

func rawSet(tr *zkenv.Transcript, r *zkenv.RawConn, path string, data string) error {
	_, err := rcall(tr, r, "setData "+path, proto.OpSetData,
		&proto.SetDataRequest{Path: path, Data: []byte(data), Version: -1}, &proto.StatResponse{})
	return err
}

func rawDelete(tr *zkenv.Transcript, r *zkenv.RawConn, path string) error {
	_, err := rcall(tr, r, "delete "+path, proto.OpDelete, &proto.PathVersionRequest{Path: path, Version: -1}, nil)
	return err
}

// steps runs fs in order and stops at the first harness error.
func steps(fs ...func() error) error {
	for _, f := range fs {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func multiResultText(res proto.MultiResult) string {
	switch b := res.Body.(type) {
	case *proto.PathResponse:
		return fmt.Sprintf("op=%d path=%s", res.Type, b.Path)
	case *proto.Create2Response:
		return fmt.Sprintf("op=%d path=%s %s", res.Type, b.Path, zkenv.FormatStat(b.Stat))
	case *proto.StatResponse:
		return fmt.Sprintf("op=%d %s", res.Type, zkenv.FormatStat(b.Stat))
	case *proto.GetDataResponse:
		return fmt.Sprintf("op=%d data=%q %s", res.Type, b.Data, zkenv.FormatStat(b.Stat))
	case *proto.GetChildrenResponse:
		return fmt.Sprintf("op=%d children=%s", res.Type, zkenv.SortedList(b.Children))
	}
	if res.Type == proto.OpError {
		return fmt.Sprintf("error %s", res.Err)
	}
	return fmt.Sprintf("op=%d", res.Type)
}

func rawMulti(tr *zkenv.Transcript, r *zkenv.RawConn, label string, op int32, ops ...proto.MultiOp) error {
	var resp proto.MultiResponse
	if _, err := rcall(tr, r, label, op, &proto.MultiRequest{Ops: ops}, &resp); err != nil {
		return err
	}
	for i, res := range resp.Results {
		tr.Printf("  result %d: %s", i, multiResultText(res))
	}
	return nil
}

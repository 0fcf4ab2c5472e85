package tree

import (
	"github.com/zkfc-project/zkfc/quorum/proto"
)

// Entry is one transaction of the replicated log: a client write as the
// proposing member received it, plus what that member knew when it
// proposed (time, the session's identities). Apply decides the outcome
// from the tree alone, so every member that applies the same entries in the
// same order reaches the same tree. Nothing in an Entry depends on the
// member that applies it.
type Entry struct {
	// Zxid is the log position the entry was committed at. It is not part
	// of the encoding: the log assigns it.
	Zxid int64
	// Time is the proposer's wall clock in ms since the epoch; it becomes
	// ctime/mtime and is the clock for TTL and container reaping.
	Time int64
	// Session is the session that issued the request (0 for the server's
	// own entries such as reaping).
	Session int64
	// Auth is the session's identities at proposal time (ip:<addr>,
	// digest:<user:hash>, super:...), used for ACL checks during Apply.
	Auth []proto.Id
	// Op is the request opcode: any proto.IsWrite op, OpCreateSession,
	// OpCloseSession or OpDeleteContainer (reaping a container or TTL node).
	Op int32
	// Req is the decoded request body; its type matches Op
	// (proto.NewRequestRecord), except for the ops below.
	//   OpCreateSession: *CreateSession
	//   OpCloseSession:  proto.Empty (Session names the session)
	//   OpDeleteContainer: *proto.PathRequest
	//   OpReconfig: *proto.ReconfigRequest whose NewMembers is the new
	//     membership the proposer resolved (server.N lines), carried in a
	//     raft configuration change
	Req proto.Record
}

// CreateSession is the body of an OpCreateSession entry.
type CreateSession struct {
	ID      int64
	Timeout int32 // negotiated, ms
	Passwd  []byte
}

func (c *CreateSession) fields(f proto.Fields)   { f.Long(&c.ID); f.Int(&c.Timeout); f.Buffer(&c.Passwd) }
func (c *CreateSession) Encode(e *proto.Encoder) { c.fields(e.Fields()) }
func (c *CreateSession) Decode(d *proto.Decoder) { c.fields(d.Fields()) }

// Event is a change a watch may be waiting for: proto.EventNodeCreated,
// EventNodeDeleted, EventNodeDataChanged on Path, or
// EventNodeChildrenChanged on the parent whose children changed.
type Event struct {
	Type int32
	Path string
}

// Result is what applying an Entry produced.
type Result struct {
	// Err is the request's outcome. For multi it is ErrOK and the per-op
	// outcomes are in Resp (*proto.MultiResponse), as ZooKeeper replies.
	Err proto.Err
	// Resp is the reply body when Err is ErrOK: *proto.PathResponse for
	// create, *proto.Create2Response for create2/createContainer/createTTL,
	// *proto.StatResponse for setData/setACL, *proto.MultiResponse for multi,
	// nil for delete, check, sessions and reaping.
	Resp proto.Record
	// Events are the watch triggers, in order, empty when nothing changed.
	Events []Event
	// Closed lists the ephemeral paths removed by a session close, for logs.
	Closed []string
}

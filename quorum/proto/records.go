package proto

// Stat is a znode's metadata, in wire order.
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          int64
}

func (s *Stat) fields(f Fields) {
	f.Long(&s.Czxid)
	f.Long(&s.Mzxid)
	f.Long(&s.Ctime)
	f.Long(&s.Mtime)
	f.Int(&s.Version)
	f.Int(&s.Cversion)
	f.Int(&s.Aversion)
	f.Long(&s.EphemeralOwner)
	f.Int(&s.DataLength)
	f.Int(&s.NumChildren)
	f.Long(&s.Pzxid)
}

func (s *Stat) Encode(e *Encoder) { s.fields(e.Fields()) }
func (s *Stat) Decode(d *Decoder) { s.fields(d.Fields()) }

// Id is an identity in an ACL scheme, e.g. {"digest", "user:hash"}.
type Id struct {
	Scheme string
	ID     string
}

func (i *Id) fields(f Fields)   { f.String(&i.Scheme); f.String(&i.ID) }
func (i *Id) Encode(e *Encoder) { i.fields(e.Fields()) }
func (i *Id) Decode(d *Decoder) { i.fields(d.Fields()) }

type ACL struct {
	Perms int32
	ID    Id
}

func (a *ACL) fields(f Fields)   { f.Int(&a.Perms); a.ID.fields(f) }
func (a *ACL) Encode(e *Encoder) { a.fields(e.Fields()) }
func (a *ACL) Decode(d *Decoder) { a.fields(d.Fields()) }

func encodeACLs(e *Encoder, acl []ACL) {
	if acl == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(acl)))
	for i := range acl {
		acl[i].Encode(e)
	}
}

func decodeACLs(d *Decoder) []ACL {
	n := d.Count(12)
	if d.Err() != nil {
		return nil
	}
	out := make([]ACL, n)
	for i := range out {
		out[i].Decode(d)
	}
	return out
}

// WorldAnyone is the open ACL id.
var WorldAnyone = Id{Scheme: "world", ID: "anyone"}

// OpenACL is ZooDefs.Ids.OPEN_ACL_UNSAFE.
var OpenACL = []ACL{{Perms: PermAll, ID: WorldAnyone}}

// ConnectRequest opens or resumes a session. ReadOnly is optional on the
// wire; HasReadOnly records whether the client sent it, because the reply
// must echo it only then.
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool
}

func (r *ConnectRequest) fields(f Fields) {
	f.Int(&r.ProtocolVersion)
	f.Long(&r.LastZxidSeen)
	f.Int(&r.TimeOut)
	f.Long(&r.SessionID)
	f.Buffer(&r.Passwd)
	f.TrailingBool(&r.ReadOnly, &r.HasReadOnly)
}

func (r *ConnectRequest) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *ConnectRequest) Decode(d *Decoder) { r.fields(d.Fields()) }

type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool
}

func (r *ConnectResponse) fields(f Fields) {
	f.Int(&r.ProtocolVersion)
	f.Int(&r.TimeOut)
	f.Long(&r.SessionID)
	f.Buffer(&r.Passwd)
	f.TrailingBool(&r.ReadOnly, &r.HasReadOnly)
}

func (r *ConnectResponse) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *ConnectResponse) Decode(d *Decoder) { r.fields(d.Fields()) }

type RequestHeader struct {
	Xid  int32
	Type int32
}

func (h *RequestHeader) fields(f Fields)   { f.Int(&h.Xid); f.Int(&h.Type) }
func (h *RequestHeader) Encode(e *Encoder) { h.fields(e.Fields()) }
func (h *RequestHeader) Decode(d *Decoder) { h.fields(d.Fields()) }

type ReplyHeader struct {
	Xid  int32
	Zxid int64
	Err  Err
}

func (h *ReplyHeader) fields(f Fields)   { f.Int(&h.Xid); f.Long(&h.Zxid); f.Int((*int32)(&h.Err)) }
func (h *ReplyHeader) Encode(e *Encoder) { h.fields(e.Fields()) }
func (h *ReplyHeader) Decode(d *Decoder) { h.fields(d.Fields()) }

// CreateRequest serves create, create2 and createContainer.
type CreateRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
}

func (r *CreateRequest) fields(f Fields) {
	f.String(&r.Path)
	f.Buffer(&r.Data)
	f.ACLs(&r.ACL)
	f.Int(&r.Flags)
}

func (r *CreateRequest) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *CreateRequest) Decode(d *Decoder) { r.fields(d.Fields()) }

type CreateTTLRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
	TTL   int64
}

func (r *CreateTTLRequest) fields(f Fields) {
	f.String(&r.Path)
	f.Buffer(&r.Data)
	f.ACLs(&r.ACL)
	f.Int(&r.Flags)
	f.Long(&r.TTL)
}

func (r *CreateTTLRequest) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *CreateTTLRequest) Decode(d *Decoder) { r.fields(d.Fields()) }

// PathRequest is every request whose body is only a path: getACL, sync,
// getAllChildrenNumber, getEphemerals (prefix path).
type PathRequest struct{ Path string }

func (r *PathRequest) fields(f Fields)   { f.String(&r.Path) }
func (r *PathRequest) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *PathRequest) Decode(d *Decoder) { r.fields(d.Fields()) }

// PathResponse is create's and sync's reply: a path.
type PathResponse struct{ Path string }

func (r *PathResponse) fields(f Fields)   { f.String(&r.Path) }
func (r *PathResponse) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *PathResponse) Decode(d *Decoder) { r.fields(d.Fields()) }

type Create2Response struct {
	Path string
	Stat Stat
}

func (r *Create2Response) fields(f Fields)   { f.String(&r.Path); r.Stat.fields(f) }
func (r *Create2Response) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *Create2Response) Decode(d *Decoder) { r.fields(d.Fields()) }

// PathVersionRequest serves delete and check.
type PathVersionRequest struct {
	Path    string
	Version int32
}

func (r *PathVersionRequest) fields(f Fields)   { f.String(&r.Path); f.Int(&r.Version) }
func (r *PathVersionRequest) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *PathVersionRequest) Decode(d *Decoder) { r.fields(d.Fields()) }

// PathWatchRequest serves exists, getData, getChildren and getChildren2.
type PathWatchRequest struct {
	Path  string
	Watch bool
}

func (r *PathWatchRequest) fields(f Fields)   { f.String(&r.Path); f.Bool(&r.Watch) }
func (r *PathWatchRequest) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *PathWatchRequest) Decode(d *Decoder) { r.fields(d.Fields()) }

// StatResponse serves exists, setData and setACL replies.
type StatResponse struct{ Stat Stat }

func (r *StatResponse) fields(f Fields)   { r.Stat.fields(f) }
func (r *StatResponse) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *StatResponse) Decode(d *Decoder) { r.fields(d.Fields()) }

type GetDataResponse struct {
	Data []byte
	Stat Stat
}

func (r *GetDataResponse) fields(f Fields)   { f.Buffer(&r.Data); r.Stat.fields(f) }
func (r *GetDataResponse) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *GetDataResponse) Decode(d *Decoder) { r.fields(d.Fields()) }

type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

func (r *SetDataRequest) fields(f Fields)   { f.String(&r.Path); f.Buffer(&r.Data); f.Int(&r.Version) }
func (r *SetDataRequest) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *SetDataRequest) Decode(d *Decoder) { r.fields(d.Fields()) }

type GetACLResponse struct {
	ACL  []ACL
	Stat Stat
}

func (r *GetACLResponse) fields(f Fields)   { f.ACLs(&r.ACL); r.Stat.fields(f) }
func (r *GetACLResponse) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *GetACLResponse) Decode(d *Decoder) { r.fields(d.Fields()) }

type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

func (r *SetACLRequest) fields(f Fields)   { f.String(&r.Path); f.ACLs(&r.ACL); f.Int(&r.Version) }
func (r *SetACLRequest) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *SetACLRequest) Decode(d *Decoder) { r.fields(d.Fields()) }

type GetChildrenResponse struct{ Children []string }

func (r *GetChildrenResponse) fields(f Fields)   { f.Strings(&r.Children) }
func (r *GetChildrenResponse) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *GetChildrenResponse) Decode(d *Decoder) { r.fields(d.Fields()) }

type GetChildren2Response struct {
	Children []string
	Stat     Stat
}

func (r *GetChildren2Response) fields(f Fields)   { f.Strings(&r.Children); r.Stat.fields(f) }
func (r *GetChildren2Response) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *GetChildren2Response) Decode(d *Decoder) { r.fields(d.Fields()) }

// SetWatchesRequest is setWatches (101); SetWatches2Request adds the
// persistent kinds (105).
type SetWatchesRequest struct {
	RelativeZxid int64
	DataWatches  []string
	ExistWatches []string
	ChildWatches []string
}

func (r *SetWatchesRequest) fields(f Fields) {
	f.Long(&r.RelativeZxid)
	f.Strings(&r.DataWatches)
	f.Strings(&r.ExistWatches)
	f.Strings(&r.ChildWatches)
}

func (r *SetWatchesRequest) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *SetWatchesRequest) Decode(d *Decoder) { r.fields(d.Fields()) }

type SetWatches2Request struct {
	RelativeZxid               int64
	DataWatches                []string
	ExistWatches               []string
	ChildWatches               []string
	PersistentWatches          []string
	PersistentRecursiveWatches []string
}

func (r *SetWatches2Request) fields(f Fields) {
	f.Long(&r.RelativeZxid)
	f.Strings(&r.DataWatches)
	f.Strings(&r.ExistWatches)
	f.Strings(&r.ChildWatches)
	f.Strings(&r.PersistentWatches)
	f.Strings(&r.PersistentRecursiveWatches)
}

func (r *SetWatches2Request) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *SetWatches2Request) Decode(d *Decoder) { r.fields(d.Fields()) }

type AddWatchRequest struct {
	Path string
	Mode int32
}

func (r *AddWatchRequest) fields(f Fields)   { f.String(&r.Path); f.Int(&r.Mode) }
func (r *AddWatchRequest) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *AddWatchRequest) Decode(d *Decoder) { r.fields(d.Fields()) }

// WatchesRequest serves checkWatches and removeWatches.
type WatchesRequest struct {
	Path string
	Type int32
}

func (r *WatchesRequest) fields(f Fields)   { f.String(&r.Path); f.Int(&r.Type) }
func (r *WatchesRequest) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *WatchesRequest) Decode(d *Decoder) { r.fields(d.Fields()) }

type AuthPacket struct {
	Type   int32
	Scheme string
	Auth   []byte
}

func (r *AuthPacket) fields(f Fields)   { f.Int(&r.Type); f.String(&r.Scheme); f.Buffer(&r.Auth) }
func (r *AuthPacket) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *AuthPacket) Decode(d *Decoder) { r.fields(d.Fields()) }

type ClientInfo struct {
	AuthScheme string
	User       string
}

type WhoAmIResponse struct{ ClientInfo []ClientInfo }

func (r *WhoAmIResponse) Encode(e *Encoder) {
	e.Int(int32(len(r.ClientInfo)))
	for _, c := range r.ClientInfo {
		e.String(c.AuthScheme)
		e.String(c.User)
	}
}

func (r *WhoAmIResponse) Decode(d *Decoder) {
	n := d.Count(8)
	r.ClientInfo = make([]ClientInfo, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		r.ClientInfo = append(r.ClientInfo, ClientInfo{AuthScheme: d.String(), User: d.String()})
	}
}

// StringsResponse serves getEphemerals.
type StringsResponse struct{ Values []string }

func (r *StringsResponse) fields(f Fields)   { f.Strings(&r.Values) }
func (r *StringsResponse) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *StringsResponse) Decode(d *Decoder) { r.fields(d.Fields()) }

// IntResponse serves getAllChildrenNumber and a multi's error result.
type IntResponse struct{ Value int32 }

func (r *IntResponse) fields(f Fields)   { f.Int(&r.Value) }
func (r *IntResponse) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *IntResponse) Decode(d *Decoder) { r.fields(d.Fields()) }

type WatcherEvent struct {
	Type  int32
	State int32
	Path  string
}

func (r *WatcherEvent) fields(f Fields)   { f.Int(&r.Type); f.Int(&r.State); f.String(&r.Path) }
func (r *WatcherEvent) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *WatcherEvent) Decode(d *Decoder) { r.fields(d.Fields()) }

type ReconfigRequest struct {
	JoiningServers string
	LeavingServers string
	NewMembers     string
	CurConfigID    int64
}

func (r *ReconfigRequest) fields(f Fields) {
	f.String(&r.JoiningServers)
	f.String(&r.LeavingServers)
	f.String(&r.NewMembers)
	f.Long(&r.CurConfigID)
}

func (r *ReconfigRequest) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *ReconfigRequest) Decode(d *Decoder) { r.fields(d.Fields()) }

// SASLRequest and SASLResponse carry an opaque SASL token.
type SASLRequest struct{ Token []byte }

func (r *SASLRequest) fields(f Fields)   { f.Buffer(&r.Token) }
func (r *SASLRequest) Encode(e *Encoder) { r.fields(e.Fields()) }
func (r *SASLRequest) Decode(d *Decoder) { r.fields(d.Fields()) }

// Empty is a request or reply without a body (ping, closeSession, whoAmI,
// delete's reply, ...).
type Empty struct{}

func (Empty) Encode(*Encoder) {}
func (Empty) Decode(*Decoder) {}

type MultiHeader struct {
	Type int32
	Done bool
	Err  int32
}

func (h *MultiHeader) fields(f Fields)   { f.Int(&h.Type); f.Bool(&h.Done); f.Int(&h.Err) }
func (h *MultiHeader) Encode(e *Encoder) { h.fields(e.Fields()) }
func (h *MultiHeader) Decode(d *Decoder) { h.fields(d.Fields()) }

// MultiOp is one operation inside a multi or multiRead request.
type MultiOp struct {
	Type int32
	Op   Record
}

// MultiRequest serves multi (14) and multiRead (22).
type MultiRequest struct{ Ops []MultiOp }

func (r *MultiRequest) Encode(e *Encoder) {
	for _, op := range r.Ops {
		h := MultiHeader{Type: op.Type, Done: false, Err: -1}
		h.Encode(e)
		op.Op.Encode(e)
	}
	h := MultiHeader{Type: -1, Done: true, Err: -1}
	h.Encode(e)
}

// maxMultiOps bounds the ops in one multi, so a flood of tiny headers cannot
// make the server build an enormous transaction. Each op takes at least 9
// header bytes, so jute.maxbuffer already bounds it near 116k; this is lower.
const maxMultiOps = 65536

func (r *MultiRequest) Decode(d *Decoder) {
	r.Ops = nil
	for d.Err() == nil {
		var h MultiHeader
		h.Decode(d)
		if d.Err() != nil || h.Done {
			return
		}
		op := NewMultiOpRecord(h.Type)
		if op == nil {
			d.fail(ErrUnknownOp{h.Type})
			return
		}
		op.Decode(d)
		r.Ops = append(r.Ops, MultiOp{Type: h.Type, Op: op})
		if len(r.Ops) > maxMultiOps {
			d.fail(ErrBadLength)
		}
	}
}

// ErrUnknownOp is a decode error for an opcode without a record.
type ErrUnknownOp struct{ Op int32 }

func (e ErrUnknownOp) Error() string { return "unknown opcode in multi" }

// NewMultiOpRecord returns an empty record for an op allowed inside multi or
// multiRead, or nil. An op's body inside a multi is the same record as at
// the top level, so NewRequestRecord alone maps opcodes to records.
func NewMultiOpRecord(op int32) Record {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL, OpDelete, OpCheck,
		OpSetData, OpGetData, OpGetChildren:
		return NewRequestRecord(op)
	}
	return nil
}

// MultiResult is one result inside a multi or multiRead reply. Type is the
// op's type, or OpError with Err set; Body is the op's response record
// (nil where the op has none).
type MultiResult struct {
	Type int32
	Err  Err
	Body Record
}

type MultiResponse struct{ Results []MultiResult }

func (r *MultiResponse) Encode(e *Encoder) {
	for _, res := range r.Results {
		if res.Type == OpError {
			h := MultiHeader{Type: OpError, Done: false, Err: int32(res.Err)}
			h.Encode(e)
			e.Int(int32(res.Err))
			continue
		}
		h := MultiHeader{Type: res.Type, Done: false, Err: 0}
		h.Encode(e)
		if res.Body != nil {
			res.Body.Encode(e)
		}
	}
	h := MultiHeader{Type: -1, Done: true, Err: -1}
	h.Encode(e)
}

func (r *MultiResponse) Decode(d *Decoder) {
	r.Results = nil
	for d.Err() == nil {
		var h MultiHeader
		h.Decode(d)
		if d.Err() != nil || h.Done {
			return
		}
		res := MultiResult{Type: h.Type}
		switch h.Type {
		case OpError:
			res.Err = Err(d.Int())
		case OpCreate:
			res.Body = &PathResponse{}
		case OpCreate2, OpCreateContainer, OpCreateTTL:
			res.Body = &Create2Response{}
		case OpSetData:
			res.Body = &StatResponse{}
		case OpGetData:
			res.Body = &GetDataResponse{}
		case OpGetChildren:
			res.Body = &GetChildrenResponse{}
		case OpDelete, OpCheck:
		default:
			d.fail(ErrUnknownOp{h.Type})
			return
		}
		if res.Body != nil {
			res.Body.Decode(d)
		}
		r.Results = append(r.Results, res)
	}
}

// NewRequestRecord returns an empty record for a top-level request opcode,
// or nil when the opcode is unknown (the server answers Unimplemented).
func NewRequestRecord(op int32) Record {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}
	case OpCreateTTL:
		return &CreateTTLRequest{}
	case OpDelete, OpCheck:
		return &PathVersionRequest{}
	case OpExists, OpGetData, OpGetChildren, OpGetChildren2:
		return &PathWatchRequest{}
	case OpSetData:
		return &SetDataRequest{}
	case OpGetACL, OpSync, OpGetAllChildrenNumber, OpGetEphemerals:
		return &PathRequest{}
	case OpSetACL:
		return &SetACLRequest{}
	case OpMulti, OpMultiRead:
		return &MultiRequest{}
	case OpReconfig:
		return &ReconfigRequest{}
	case OpCheckWatches, OpRemoveWatches:
		return &WatchesRequest{}
	case OpAddWatch:
		return &AddWatchRequest{}
	case OpAuth:
		return &AuthPacket{}
	case OpSetWatches:
		return &SetWatchesRequest{}
	case OpSetWatches2:
		return &SetWatches2Request{}
	case OpSASL:
		return &SASLRequest{}
	case OpPing, OpCloseSession, OpWhoAmI:
		return Empty{}
	}
	return nil
}

// IsWrite reports whether an opcode changes the tree and so must go through
// the transaction log.
func IsWrite(op int32) bool {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL, OpDelete, OpSetData,
		OpSetACL, OpMulti, OpCheck, OpCloseSession, OpCreateSession, OpDeleteContainer:
		return true
	}
	return false
}

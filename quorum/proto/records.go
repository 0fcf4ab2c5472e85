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

func (s *Stat) Encode(e *Encoder) {
	e.Long(s.Czxid)
	e.Long(s.Mzxid)
	e.Long(s.Ctime)
	e.Long(s.Mtime)
	e.Int(s.Version)
	e.Int(s.Cversion)
	e.Int(s.Aversion)
	e.Long(s.EphemeralOwner)
	e.Int(s.DataLength)
	e.Int(s.NumChildren)
	e.Long(s.Pzxid)
}

func (s *Stat) Decode(d *Decoder) {
	s.Czxid = d.Long()
	s.Mzxid = d.Long()
	s.Ctime = d.Long()
	s.Mtime = d.Long()
	s.Version = d.Int()
	s.Cversion = d.Int()
	s.Aversion = d.Int()
	s.EphemeralOwner = d.Long()
	s.DataLength = d.Int()
	s.NumChildren = d.Int()
	s.Pzxid = d.Long()
}

// Id is an identity in an ACL scheme, e.g. {"digest", "user:hash"}.
type Id struct {
	Scheme string
	ID     string
}

func (i *Id) Encode(e *Encoder) { e.String(i.Scheme); e.String(i.ID) }
func (i *Id) Decode(d *Decoder) { i.Scheme = d.String(); i.ID = d.String() }

type ACL struct {
	Perms int32
	ID    Id
}

func (a *ACL) Encode(e *Encoder) { e.Int(a.Perms); a.ID.Encode(e) }
func (a *ACL) Decode(d *Decoder) { a.Perms = d.Int(); a.ID.Decode(d) }

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

func (r *ConnectRequest) Encode(e *Encoder) {
	e.Int(r.ProtocolVersion)
	e.Long(r.LastZxidSeen)
	e.Int(r.TimeOut)
	e.Long(r.SessionID)
	e.Buffer(r.Passwd)
	if r.HasReadOnly {
		e.Bool(r.ReadOnly)
	}
}

func (r *ConnectRequest) Decode(d *Decoder) {
	r.ProtocolVersion = d.Int()
	r.LastZxidSeen = d.Long()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	if d.Err() == nil && d.Remaining() >= 1 {
		r.HasReadOnly = true
		r.ReadOnly = d.Bool()
	}
}

type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool
}

func (r *ConnectResponse) Encode(e *Encoder) {
	e.Int(r.ProtocolVersion)
	e.Int(r.TimeOut)
	e.Long(r.SessionID)
	e.Buffer(r.Passwd)
	if r.HasReadOnly {
		e.Bool(r.ReadOnly)
	}
}

func (r *ConnectResponse) Decode(d *Decoder) {
	r.ProtocolVersion = d.Int()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	if d.Err() == nil && d.Remaining() >= 1 {
		r.HasReadOnly = true
		r.ReadOnly = d.Bool()
	}
}

type RequestHeader struct {
	Xid  int32
	Type int32
}

func (h *RequestHeader) Encode(e *Encoder) { e.Int(h.Xid); e.Int(h.Type) }
func (h *RequestHeader) Decode(d *Decoder) { h.Xid = d.Int(); h.Type = d.Int() }

type ReplyHeader struct {
	Xid  int32
	Zxid int64
	Err  Err
}

func (h *ReplyHeader) Encode(e *Encoder) { e.Int(h.Xid); e.Long(h.Zxid); e.Int(int32(h.Err)) }
func (h *ReplyHeader) Decode(d *Decoder) { h.Xid = d.Int(); h.Zxid = d.Long(); h.Err = Err(d.Int()) }

// CreateRequest serves create, create2 and createContainer.
type CreateRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
}

func (r *CreateRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	encodeACLs(e, r.ACL)
	e.Int(r.Flags)
}

func (r *CreateRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = decodeACLs(d)
	r.Flags = d.Int()
}

type CreateTTLRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
	TTL   int64
}

func (r *CreateTTLRequest) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	encodeACLs(e, r.ACL)
	e.Int(r.Flags)
	e.Long(r.TTL)
}

func (r *CreateTTLRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = decodeACLs(d)
	r.Flags = d.Int()
	r.TTL = d.Long()
}

// PathRequest is every request whose body is only a path: getACL, sync,
// getAllChildrenNumber, getEphemerals (prefix path).
type PathRequest struct{ Path string }

func (r *PathRequest) Encode(e *Encoder) { e.String(r.Path) }
func (r *PathRequest) Decode(d *Decoder) { r.Path = d.String() }

// PathResponse is create's and sync's reply: a path.
type PathResponse struct{ Path string }

func (r *PathResponse) Encode(e *Encoder) { e.String(r.Path) }
func (r *PathResponse) Decode(d *Decoder) { r.Path = d.String() }

type Create2Response struct {
	Path string
	Stat Stat
}

func (r *Create2Response) Encode(e *Encoder) { e.String(r.Path); r.Stat.Encode(e) }
func (r *Create2Response) Decode(d *Decoder) { r.Path = d.String(); r.Stat.Decode(d) }

// PathVersionRequest serves delete and check.
type PathVersionRequest struct {
	Path    string
	Version int32
}

func (r *PathVersionRequest) Encode(e *Encoder) { e.String(r.Path); e.Int(r.Version) }
func (r *PathVersionRequest) Decode(d *Decoder) { r.Path = d.String(); r.Version = d.Int() }

// PathWatchRequest serves exists, getData, getChildren and getChildren2.
type PathWatchRequest struct {
	Path  string
	Watch bool
}

func (r *PathWatchRequest) Encode(e *Encoder) { e.String(r.Path); e.Bool(r.Watch) }
func (r *PathWatchRequest) Decode(d *Decoder) { r.Path = d.String(); r.Watch = d.Bool() }

// StatResponse serves exists, setData and setACL replies.
type StatResponse struct{ Stat Stat }

func (r *StatResponse) Encode(e *Encoder) { r.Stat.Encode(e) }
func (r *StatResponse) Decode(d *Decoder) { r.Stat.Decode(d) }

type GetDataResponse struct {
	Data []byte
	Stat Stat
}

func (r *GetDataResponse) Encode(e *Encoder) { e.Buffer(r.Data); r.Stat.Encode(e) }
func (r *GetDataResponse) Decode(d *Decoder) { r.Data = d.Buffer(); r.Stat.Decode(d) }

type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

func (r *SetDataRequest) Encode(e *Encoder) { e.String(r.Path); e.Buffer(r.Data); e.Int(r.Version) }
func (r *SetDataRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.Version = d.Int()
}

type GetACLResponse struct {
	ACL  []ACL
	Stat Stat
}

func (r *GetACLResponse) Encode(e *Encoder) { encodeACLs(e, r.ACL); r.Stat.Encode(e) }
func (r *GetACLResponse) Decode(d *Decoder) { r.ACL = decodeACLs(d); r.Stat.Decode(d) }

type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

func (r *SetACLRequest) Encode(e *Encoder) { e.String(r.Path); encodeACLs(e, r.ACL); e.Int(r.Version) }
func (r *SetACLRequest) Decode(d *Decoder) {
	r.Path = d.String()
	r.ACL = decodeACLs(d)
	r.Version = d.Int()
}

type GetChildrenResponse struct{ Children []string }

func (r *GetChildrenResponse) Encode(e *Encoder) { e.Strings(r.Children) }
func (r *GetChildrenResponse) Decode(d *Decoder) { r.Children = d.Strings() }

type GetChildren2Response struct {
	Children []string
	Stat     Stat
}

func (r *GetChildren2Response) Encode(e *Encoder) { e.Strings(r.Children); r.Stat.Encode(e) }
func (r *GetChildren2Response) Decode(d *Decoder) { r.Children = d.Strings(); r.Stat.Decode(d) }

// SetWatchesRequest is setWatches (101); SetWatches2Request adds the
// persistent kinds (105).
type SetWatchesRequest struct {
	RelativeZxid int64
	DataWatches  []string
	ExistWatches []string
	ChildWatches []string
}

func (r *SetWatchesRequest) Encode(e *Encoder) {
	e.Long(r.RelativeZxid)
	e.Strings(r.DataWatches)
	e.Strings(r.ExistWatches)
	e.Strings(r.ChildWatches)
}

func (r *SetWatchesRequest) Decode(d *Decoder) {
	r.RelativeZxid = d.Long()
	r.DataWatches = d.Strings()
	r.ExistWatches = d.Strings()
	r.ChildWatches = d.Strings()
}

type SetWatches2Request struct {
	RelativeZxid               int64
	DataWatches                []string
	ExistWatches               []string
	ChildWatches               []string
	PersistentWatches          []string
	PersistentRecursiveWatches []string
}

func (r *SetWatches2Request) Encode(e *Encoder) {
	e.Long(r.RelativeZxid)
	e.Strings(r.DataWatches)
	e.Strings(r.ExistWatches)
	e.Strings(r.ChildWatches)
	e.Strings(r.PersistentWatches)
	e.Strings(r.PersistentRecursiveWatches)
}

func (r *SetWatches2Request) Decode(d *Decoder) {
	r.RelativeZxid = d.Long()
	r.DataWatches = d.Strings()
	r.ExistWatches = d.Strings()
	r.ChildWatches = d.Strings()
	r.PersistentWatches = d.Strings()
	r.PersistentRecursiveWatches = d.Strings()
}

type AddWatchRequest struct {
	Path string
	Mode int32
}

func (r *AddWatchRequest) Encode(e *Encoder) { e.String(r.Path); e.Int(r.Mode) }
func (r *AddWatchRequest) Decode(d *Decoder) { r.Path = d.String(); r.Mode = d.Int() }

// WatchesRequest serves checkWatches and removeWatches.
type WatchesRequest struct {
	Path string
	Type int32
}

func (r *WatchesRequest) Encode(e *Encoder) { e.String(r.Path); e.Int(r.Type) }
func (r *WatchesRequest) Decode(d *Decoder) { r.Path = d.String(); r.Type = d.Int() }

type AuthPacket struct {
	Type   int32
	Scheme string
	Auth   []byte
}

func (r *AuthPacket) Encode(e *Encoder) { e.Int(r.Type); e.String(r.Scheme); e.Buffer(r.Auth) }
func (r *AuthPacket) Decode(d *Decoder) { r.Type = d.Int(); r.Scheme = d.String(); r.Auth = d.Buffer() }

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

func (r *StringsResponse) Encode(e *Encoder) { e.Strings(r.Values) }
func (r *StringsResponse) Decode(d *Decoder) { r.Values = d.Strings() }

// IntResponse serves getAllChildrenNumber and a multi's error result.
type IntResponse struct{ Value int32 }

func (r *IntResponse) Encode(e *Encoder) { e.Int(r.Value) }
func (r *IntResponse) Decode(d *Decoder) { r.Value = d.Int() }

type WatcherEvent struct {
	Type  int32
	State int32
	Path  string
}

func (r *WatcherEvent) Encode(e *Encoder) { e.Int(r.Type); e.Int(r.State); e.String(r.Path) }
func (r *WatcherEvent) Decode(d *Decoder) { r.Type = d.Int(); r.State = d.Int(); r.Path = d.String() }

type ReconfigRequest struct {
	JoiningServers string
	LeavingServers string
	NewMembers     string
	CurConfigID    int64
}

func (r *ReconfigRequest) Encode(e *Encoder) {
	e.String(r.JoiningServers)
	e.String(r.LeavingServers)
	e.String(r.NewMembers)
	e.Long(r.CurConfigID)
}

func (r *ReconfigRequest) Decode(d *Decoder) {
	r.JoiningServers = d.String()
	r.LeavingServers = d.String()
	r.NewMembers = d.String()
	r.CurConfigID = d.Long()
}

// SASLRequest and SASLResponse carry an opaque SASL token.
type SASLRequest struct{ Token []byte }

func (r *SASLRequest) Encode(e *Encoder) { e.Buffer(r.Token) }
func (r *SASLRequest) Decode(d *Decoder) { r.Token = d.Buffer() }

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

func (h *MultiHeader) Encode(e *Encoder) { e.Int(h.Type); e.Bool(h.Done); e.Int(h.Err) }
func (h *MultiHeader) Decode(d *Decoder) { h.Type = d.Int(); h.Done = d.Bool(); h.Err = d.Int() }

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
// multiRead, or nil.
func NewMultiOpRecord(op int32) Record {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}
	case OpCreateTTL:
		return &CreateTTLRequest{}
	case OpDelete, OpCheck:
		return &PathVersionRequest{}
	case OpSetData:
		return &SetDataRequest{}
	case OpGetData, OpGetChildren:
		return &PathWatchRequest{}
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

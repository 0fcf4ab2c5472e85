// Package proto is ZooKeeper's client wire format: jute records, opcodes,
// error codes and framing. It holds types and their encodings only; it must
// never touch the network, the data tree or any server state.
package proto

import "fmt"

// Opcodes, as in ZooKeeper's ZooDefs.OpCode.
const (
	OpNotification         int32 = 0
	OpCreate               int32 = 1
	OpDelete               int32 = 2
	OpExists               int32 = 3
	OpGetData              int32 = 4
	OpSetData              int32 = 5
	OpGetACL               int32 = 6
	OpSetACL               int32 = 7
	OpGetChildren          int32 = 8
	OpSync                 int32 = 9
	OpPing                 int32 = 11
	OpGetChildren2         int32 = 12
	OpCheck                int32 = 13
	OpMulti                int32 = 14
	OpCreate2              int32 = 15
	OpReconfig             int32 = 16
	OpCheckWatches         int32 = 17
	OpRemoveWatches        int32 = 18
	OpCreateContainer      int32 = 19
	OpDeleteContainer      int32 = 20
	OpCreateTTL            int32 = 21
	OpMultiRead            int32 = 22
	OpAuth                 int32 = 100
	OpSetWatches           int32 = 101
	OpSASL                 int32 = 102
	OpGetEphemerals        int32 = 103
	OpGetAllChildrenNumber int32 = 104
	OpSetWatches2          int32 = 105
	OpAddWatch             int32 = 106
	OpWhoAmI               int32 = 107
	OpCreateSession        int32 = -10
	OpCloseSession         int32 = -11
	OpError                int32 = -1
)

// Special xids.
const (
	XidNotification int32 = -1
	XidPing         int32 = -2
	XidAuth         int32 = -4
	XidSetWatches   int32 = -8
)

// Err is a ZooKeeper error code as carried in ReplyHeader.Err.
type Err int32

const (
	ErrOK                       Err = 0
	ErrSystemError              Err = -1
	ErrRuntimeInconsistency     Err = -2
	ErrDataInconsistency        Err = -3
	ErrConnectionLoss           Err = -4
	ErrMarshallingError         Err = -5
	ErrUnimplemented            Err = -6
	ErrOperationTimeout         Err = -7
	ErrBadArguments             Err = -8
	ErrUnknownSession           Err = -12
	ErrNewConfigNoQuorum        Err = -13
	ErrReconfigInProgress       Err = -14
	ErrAPIError                 Err = -100
	ErrNoNode                   Err = -101
	ErrNoAuth                   Err = -102
	ErrBadVersion               Err = -103
	ErrNoChildrenForEphemerals  Err = -108
	ErrNodeExists               Err = -110
	ErrNotEmpty                 Err = -111
	ErrSessionExpired           Err = -112
	ErrInvalidCallback          Err = -113
	ErrInvalidACL               Err = -114
	ErrAuthFailed               Err = -115
	ErrSessionMoved             Err = -118
	ErrNotReadOnly              Err = -119
	ErrEphemeralOnLocalSession  Err = -120
	ErrNoWatcher                Err = -121
	ErrRequestTimeout           Err = -122
	ErrReconfigDisabled         Err = -123
	ErrSessionClosedRequireSASL Err = -124
	ErrQuotaExceeded            Err = -125
	ErrThrottledOp              Err = -127
)

var errNames = map[Err]string{
	ErrOK: "OK", ErrSystemError: "SystemError", ErrRuntimeInconsistency: "RuntimeInconsistency",
	ErrDataInconsistency: "DataInconsistency", ErrConnectionLoss: "ConnectionLoss",
	ErrMarshallingError: "MarshallingError", ErrUnimplemented: "Unimplemented",
	ErrOperationTimeout: "OperationTimeout", ErrBadArguments: "BadArguments",
	ErrUnknownSession: "UnknownSession", ErrNewConfigNoQuorum: "NewConfigNoQuorum",
	ErrReconfigInProgress: "ReconfigInProgress", ErrAPIError: "APIError", ErrNoNode: "NoNode",
	ErrNoAuth: "NoAuth", ErrBadVersion: "BadVersion", ErrNoChildrenForEphemerals: "NoChildrenForEphemerals",
	ErrNodeExists: "NodeExists", ErrNotEmpty: "NotEmpty", ErrSessionExpired: "SessionExpired",
	ErrInvalidCallback: "InvalidCallback", ErrInvalidACL: "InvalidACL", ErrAuthFailed: "AuthFailed",
	ErrSessionMoved: "SessionMoved", ErrNotReadOnly: "NotReadOnly",
	ErrEphemeralOnLocalSession: "EphemeralOnLocalSession", ErrNoWatcher: "NoWatcher",
	ErrRequestTimeout: "RequestTimeout", ErrReconfigDisabled: "ReconfigDisabled",
	ErrSessionClosedRequireSASL: "SessionClosedRequireSASL", ErrQuotaExceeded: "QuotaExceeded",
	ErrThrottledOp: "ThrottledOp",
}

func (e Err) Error() string {
	if n, ok := errNames[e]; ok {
		return n
	}
	return fmt.Sprintf("zk error %d", int32(e))
}

// Watcher event types (EventType) and keeper states.
const (
	EventNone                   int32 = -1
	EventNodeCreated            int32 = 1
	EventNodeDeleted            int32 = 2
	EventNodeDataChanged        int32 = 3
	EventNodeChildrenChanged    int32 = 4
	EventDataWatchRemoved       int32 = 5
	EventChildWatchRemoved      int32 = 6
	EventPersistentWatchRemoved int32 = 7

	StateSyncConnected int32 = 3
	StateExpired       int32 = -112
)

// Create modes (CreateRequest.Flags).
const (
	ModePersistent           int32 = 0
	ModeEphemeral            int32 = 1
	ModePersistentSequential int32 = 2
	ModeEphemeralSequential  int32 = 3
	ModeContainer            int32 = 4
	ModeTTL                  int32 = 5
	ModeTTLSequential        int32 = 6
)

// ACL permissions.
const (
	PermRead   int32 = 1
	PermWrite  int32 = 2
	PermCreate int32 = 4
	PermDelete int32 = 8
	PermAdmin  int32 = 16
	PermAll    int32 = 31
)

// Watcher types for checkWatches/removeWatches (WatcherType).
const (
	WatcherChildren int32 = 1
	WatcherData     int32 = 2
	WatcherAny      int32 = 3
)

// addWatch modes.
const (
	AddWatchPersistent          int32 = 0
	AddWatchPersistentRecursive int32 = 1
)

// DefaultMaxBuffer is jute.maxbuffer's default: the largest frame accepted.
const DefaultMaxBuffer = 0xfffff

// ContainerEphemeralOwner marks a container znode in Stat.EphemeralOwner.
const ContainerEphemeralOwner int64 = -1 << 63

// TTL nodes carry 0xFF in the top byte of ephemeralOwner, the TTL below.
const ttlMask int64 = -1 << 56

// TTLEphemeralOwner encodes ttl (ms) as ZooKeeper's EphemeralType.TTL does.
func TTLEphemeralOwner(ttl int64) int64 { return ttlMask | ttl }

// IsTTLOwner reports whether an ephemeralOwner encodes a TTL.
func IsTTLOwner(owner int64) bool {
	return owner != ContainerEphemeralOwner && owner&ttlMask == ttlMask
}

// MaxTTL is the largest TTL ZooKeeper accepts (0x00FFFFFFFFFF in ms).
const MaxTTL int64 = 0x00FFFFFFFFFF

package proto

import "sort"

// opName holds an opcode's two names: ZooKeeper's Request.op2String (logs
// and metrics labels) and the four-letter form `cons` shows as a
// connection's last operation (Apache's ServerCnxn.getLastOperation).
type opName struct{ long, short string }

var opNames = map[int32]opName{
	OpCreate: {"create", "CREA"}, OpCreate2: {"create2", "CREA"},
	OpCreateContainer: {"createContainer", "CREA"}, OpCreateTTL: {"createTTL", "CREA"},
	OpDelete: {"delete", "DELE"}, OpExists: {"exists", "EXIS"},
	OpGetData: {"getData", "GETD"}, OpSetData: {"setData", "SETD"},
	OpGetACL: {"getACL", "GETA"}, OpSetACL: {"setACL", "SETA"},
	OpGetChildren: {"getChildren", "GETC"}, OpGetChildren2: {"getChildren2", "GETC"},
	OpSync: {"sync", "SYNC"}, OpPing: {"ping", "PING"}, OpCheck: {"check", "CHEC"},
	OpMulti: {"multi", "MULT"}, OpMultiRead: {"multiRead", "MLTR"},
	OpReconfig:     {"reconfig", "NA"},
	OpCheckWatches: {"checkWatches", "CKWR"}, OpRemoveWatches: {"removeWatches", "RMWR"},
	OpAuth: {"auth", "AUTH"}, OpSASL: {"sasl", "NA"},
	OpSetWatches: {"setWatches", "SETW"}, OpSetWatches2: {"setWatches2", "STW2"},
	OpAddWatch: {"addWatch", "ADDW"}, OpWhoAmI: {"whoAmI", "HOMI"},
	OpGetEphemerals: {"getEphemerals", "GETE"}, OpGetAllChildrenNumber: {"getAllChildrenNumber", "GETACN"},
	OpCloseSession: {"closeSession", "CLOS"},
}

// OpName is the name of a client request's opcode ("getData"), or
// "unknown".
func OpName(op int32) string {
	if n, ok := opNames[op]; ok {
		return n.long
	}
	return "unknown"
}

// OpShortName is the opcode's four-letter form in `cons` ("GETD"), or
// "NA" as ZooKeeper shows for the others.
func OpShortName(op int32) string {
	if n, ok := opNames[op]; ok {
		return n.short
	}
	return "NA"
}

// ClientOps lists, in ascending order, the opcodes OpName knows.
func ClientOps() []int32 {
	ops := make([]int32, 0, len(opNames))
	for op := range opNames {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i] < ops[j] })
	return ops
}

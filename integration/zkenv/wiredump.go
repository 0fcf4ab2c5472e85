package zkenv

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// DumpReply renders one reply frame (without its length prefix) field by
// field, so that two servers' frames compare equal exactly when their bytes
// are equal apart from the fields that must differ between servers. Those
// are written as tokens for Normalize: zxids as Zxid, session ids as
// SessionID, the session password as its length, times as "set"/"0" (and
// mtime as its relation to ctime). Every other field is shown with its
// value, a null buffer or string as null, the frame length first; bytes
// the layout does not account for are shown in hex as "trailing", a body
// cut short as "truncated", so a reply with a different shape never
// renders like another.
//
// op is the opcode of the request the frame answers; notifications (xid -1)
// are recognized by their xid. Children and ephemeral lists are shown
// sorted (ZooKeeper's order is a hash order, see the README's deviations).
func DumpReply(frame []byte, op int32) string {
	w := &wireWalker{b: frame}
	w.out = append(w.out, fmt.Sprintf("len=%d", len(frame)))
	xid := w.int32("xid")
	zxid, _ := w.long()
	w.put("zxid", wireZxid(zxid))
	code := w.int32("err")
	if w.short {
		return w.String()
	}
	if code != 0 && len(w.b) > w.off {
		w.out = append(w.out, "|body-with-error")
	}
	switch {
	case xid == proto.XidNotification:
		w.out = append(w.out, "|event")
		w.int32("type")
		w.int32("state")
		w.str("path")
	case w.off == len(w.b):
		// No body.
	default:
		w.out = append(w.out, "|")
		w.body(op)
	}
	return w.String()
}

// DumpConnectResponse renders a handshake reply as DumpReply renders replies.
func DumpConnectResponse(frame []byte) string {
	w := &wireWalker{b: frame}
	w.out = append(w.out, fmt.Sprintf("len=%d", len(frame)))
	w.int32("protocolVersion")
	w.int32("timeOut")
	id, _ := w.long()
	w.put("sessionId", SessionID(id))
	if n, ok := w.length(); ok {
		if n < 0 {
			w.put("passwd", "null")
		} else if b, ok := w.take(n); ok {
			zero := true
			for _, c := range b {
				zero = zero && c == 0
			}
			w.put("passwd", fmt.Sprintf("[%d]zero=%v", n, zero))
		}
	}
	if w.off < len(w.b) {
		w.bool("readOnly")
	}
	return w.String()
}

type wireWalker struct {
	b     []byte
	off   int
	out   []string
	short bool // the frame ended inside a field
}

func (w *wireWalker) String() string {
	if w.off < len(w.b) && !w.short {
		w.out = append(w.out, "trailing="+hex.EncodeToString(w.b[w.off:]))
	}
	return strings.Join(w.out, " ")
}

func (w *wireWalker) put(name, v string) { w.out = append(w.out, name+"="+v) }

func (w *wireWalker) take(n int) ([]byte, bool) {
	if w.short || n < 0 || len(w.b)-w.off < n {
		if !w.short {
			w.out = append(w.out, "truncated="+hex.EncodeToString(w.b[w.off:]))
		}
		w.short = true
		return nil, false
	}
	b := w.b[w.off : w.off+n]
	w.off += n
	return b, true
}

func (w *wireWalker) int32(name string) int32 {
	b, ok := w.take(4)
	if !ok {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(b))
	if name != "" {
		w.put(name, strconv.Itoa(int(v)))
	}
	return v
}

func (w *wireWalker) long() (int64, bool) {
	b, ok := w.take(8)
	if !ok {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b)), true
}

func (w *wireWalker) bool(name string) bool {
	b, ok := w.take(1)
	if !ok {
		return false
	}
	w.put(name, strconv.Itoa(int(b[0])))
	return b[0] != 0
}

// length reads a jute length; -1 is null.
func (w *wireWalker) length() (int, bool) {
	b, ok := w.take(4)
	if !ok {
		return 0, false
	}
	n := int(int32(binary.BigEndian.Uint32(b)))
	if n < -1 {
		w.out = append(w.out, fmt.Sprintf("badlength=%d", n))
		w.short = true
		return 0, false
	}
	return n, true
}

// bytesText reads a buffer or string and renders it: null, a quoted
// string when it is printable text, else hex.
func (w *wireWalker) bytesText() (string, bool) {
	n, ok := w.length()
	if !ok {
		return "", false
	}
	if n == -1 {
		return "null", true
	}
	b, ok := w.take(n)
	if !ok {
		return "", false
	}
	s := string(b)
	if utf8.ValidString(s) && isPrintable(s) {
		return strconv.Quote(s), true
	}
	return "0x" + hex.EncodeToString(b), true
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r != '\n' && !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

func (w *wireWalker) str(name string) {
	if v, ok := w.bytesText(); ok {
		w.put(name, v)
	}
}

// strings reads a vector of strings, shown sorted.
func (w *wireWalker) strings(name string) {
	n, ok := w.length()
	if !ok {
		return
	}
	if n == -1 {
		w.put(name, "null")
		return
	}
	var v []string
	for i := 0; i < n; i++ {
		s, ok := w.bytesText()
		if !ok {
			return
		}
		v = append(v, s)
	}
	sort.Strings(v)
	w.put(name, "["+strings.Join(v, ",")+"]")
}

func (w *wireWalker) stat() {
	czxid, _ := w.long()
	mzxid, _ := w.long()
	ctime, _ := w.long()
	mtime, _ := w.long()
	version := w.int32("")
	cversion := w.int32("")
	aversion := w.int32("")
	owner, _ := w.long()
	dataLength := w.int32("")
	numChildren := w.int32("")
	pzxid, _ := w.long()
	if w.short {
		return
	}
	w.put("stat", "{"+FormatStat(proto.Stat{Czxid: czxid, Mzxid: mzxid, Ctime: ctime, Mtime: mtime,
		Version: version, Cversion: cversion, Aversion: aversion, EphemeralOwner: owner,
		DataLength: dataLength, NumChildren: numChildren, Pzxid: pzxid})+"}")
}

func (w *wireWalker) acls() {
	n, ok := w.length()
	if !ok {
		return
	}
	if n == -1 {
		w.put("acl", "null")
		return
	}
	var v []string
	for i := 0; i < n && !w.short; i++ {
		perms := w.int32("")
		scheme, _ := w.bytesText()
		id, _ := w.bytesText()
		v = append(v, fmt.Sprintf("%d:%s:%s", perms, scheme, id))
	}
	w.put("acl", "["+strings.Join(v, ",")+"]")
}

// body renders the success body of op's reply.
func (w *wireWalker) body(op int32) {
	switch op {
	case proto.OpCreate, proto.OpSync:
		w.str("path")
	case proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL:
		w.str("path")
		w.stat()
	case proto.OpExists, proto.OpSetData, proto.OpSetACL, proto.OpCheck:
		w.stat()
	case proto.OpGetData, proto.OpReconfig:
		w.str("data")
		w.stat()
	case proto.OpGetACL:
		w.acls()
		w.stat()
	case proto.OpGetChildren:
		w.strings("children")
	case proto.OpGetChildren2:
		w.strings("children")
		w.stat()
	case proto.OpGetEphemerals:
		w.strings("ephemerals")
	case proto.OpGetAllChildrenNumber:
		w.int32("totalNumber")
	case proto.OpAddWatch:
		w.int32("errorResponse")
	case proto.OpSASL:
		w.str("token")
	case proto.OpWhoAmI:
		n, ok := w.length()
		if !ok {
			return
		}
		var v []string
		for i := 0; i < n && !w.short; i++ {
			scheme, _ := w.bytesText()
			user, _ := w.bytesText()
			v = append(v, scheme+":"+user)
		}
		sort.Strings(v)
		w.put("clientInfo", "["+strings.Join(v, ",")+"]")
	case proto.OpMulti, proto.OpMultiRead:
		w.multi()
	}
}

// multi renders a MultiResponse: per result its header and body, then the
// end marker.
func (w *wireWalker) multi() {
	for i := 0; i < 1<<16 && !w.short; i++ {
		typ := w.int32("")
		done, ok := w.take(1)
		if !ok {
			return
		}
		code := w.int32("")
		w.out = append(w.out, fmt.Sprintf("{type=%d done=%d err=%d", typ, done[0], code))
		if done[0] != 0 {
			w.out[len(w.out)-1] += "}"
			return
		}
		switch typ {
		case proto.OpError:
			w.int32("errorResult")
		case proto.OpCreate:
			w.str("path")
		case proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL:
			w.str("path")
			w.stat()
		case proto.OpSetData:
			w.stat()
		case proto.OpGetData:
			w.str("data")
			w.stat()
		case proto.OpGetChildren:
			w.strings("children")
		}
		w.out[len(w.out)-1] += "}"
	}
}

// wireZxid renders a zxid for Normalize; 0 and the -1 of notifications
// are kept literally.
func wireZxid(z int64) string {
	if z == -1 {
		return "-1"
	}
	return Zxid(z)
}

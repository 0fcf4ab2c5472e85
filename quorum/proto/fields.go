package proto

// Fields visits a record's fields in wire order. A record lists its fields
// once, in a method taking a Fields, and gets both directions from that one
// list: e.Fields() writes each field, d.Fields() fills it. The encoding and
// the decoding of a record therefore cannot drift apart.
type Fields interface {
	Int(*int32)
	Long(*int64)
	Bool(*bool)
	Buffer(*[]byte)
	String(*string)
	Strings(*[]string)
	ACLs(*[]ACL)
	// TrailingBool is a bool that older peers leave off the end of the
	// record; present records whether it is there (written only then,
	// read only when bytes remain).
	TrailingBool(v, present *bool)
}

// Fields returns the direction of the codec that writes each field to e.
func (e *Encoder) Fields() Fields { return fieldWriter{e} }

// Fields returns the direction of the codec that reads each field from d.
func (d *Decoder) Fields() Fields { return fieldReader{d} }

type fieldWriter struct{ e *Encoder }

func (w fieldWriter) Int(v *int32)        { w.e.Int(*v) }
func (w fieldWriter) Long(v *int64)       { w.e.Long(*v) }
func (w fieldWriter) Bool(v *bool)        { w.e.Bool(*v) }
func (w fieldWriter) Buffer(v *[]byte)    { w.e.Buffer(*v) }
func (w fieldWriter) String(v *string)    { w.e.String(*v) }
func (w fieldWriter) Strings(v *[]string) { w.e.Strings(*v) }
func (w fieldWriter) ACLs(v *[]ACL)       { encodeACLs(w.e, *v) }
func (w fieldWriter) TrailingBool(v, present *bool) {
	if *present {
		w.e.Bool(*v)
	}
}

type fieldReader struct{ d *Decoder }

func (r fieldReader) Int(v *int32)        { *v = r.d.Int() }
func (r fieldReader) Long(v *int64)       { *v = r.d.Long() }
func (r fieldReader) Bool(v *bool)        { *v = r.d.Bool() }
func (r fieldReader) Buffer(v *[]byte)    { *v = r.d.Buffer() }
func (r fieldReader) String(v *string)    { *v = r.d.String() }
func (r fieldReader) Strings(v *[]string) { *v = r.d.Strings() }
func (r fieldReader) ACLs(v *[]ACL)       { *v = decodeACLs(r.d) }
func (r fieldReader) TrailingBool(v, present *bool) {
	if r.d.Err() == nil && r.d.Remaining() >= 1 {
		*present = true
		*v = r.d.Bool()
	}
}

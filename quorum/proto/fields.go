package proto

// Fields visits a record's fields in wire order. A record lists its fields
// once, in a method taking a Fields, and gets both directions from that one
// list: e.Fields() writes each field, d.Fields() fills it. The encoding and
// the decoding of a record therefore cannot drift apart.
//
// Fields is a struct with plain methods, not an interface, so the compiler
// sees that no field pointer is kept and a record on the stack stays there.
type Fields struct {
	e *Encoder // writing when set
	d *Decoder // reading otherwise
}

// Fields returns the direction of the codec that writes each field to e.
func (e *Encoder) Fields() Fields { return Fields{e: e} }

// Fields returns the direction of the codec that reads each field from d.
func (d *Decoder) Fields() Fields { return Fields{d: d} }

// field is what each of the methods below does: write *v with enc when
// f encodes, else fill *v with dec.
func field[T any](f Fields, v *T, enc func(*Encoder, T), dec func(*Decoder) T) {
	if f.e != nil {
		enc(f.e, *v)
	} else {
		*v = dec(f.d)
	}
}

func (f Fields) Int(v *int32)        { field(f, v, (*Encoder).Int, (*Decoder).Int) }
func (f Fields) Long(v *int64)       { field(f, v, (*Encoder).Long, (*Decoder).Long) }
func (f Fields) Bool(v *bool)        { field(f, v, (*Encoder).Bool, (*Decoder).Bool) }
func (f Fields) Buffer(v *[]byte)    { field(f, v, (*Encoder).Buffer, (*Decoder).Buffer) }
func (f Fields) String(v *string)    { field(f, v, (*Encoder).String, (*Decoder).String) }
func (f Fields) Strings(v *[]string) { field(f, v, (*Encoder).Strings, (*Decoder).Strings) }
func (f Fields) ACLs(v *[]ACL)       { field(f, v, encodeACLs, decodeACLs) }

// TrailingBool is a bool that older peers leave off the end of the record;
// present records whether it is there (written only then, read only when
// bytes remain).
func (f Fields) TrailingBool(v, present *bool) {
	switch {
	case f.e != nil:
		if *present {
			f.e.Bool(*v)
		}
	case f.d.Err() == nil && f.d.Remaining() >= 1:
		*present = true
		*v = f.d.Bool()
	}
}

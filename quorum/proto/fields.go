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

func (f Fields) Int(v *int32) {
	if f.e != nil {
		f.e.Int(*v)
	} else {
		*v = f.d.Int()
	}
}

func (f Fields) Long(v *int64) {
	if f.e != nil {
		f.e.Long(*v)
	} else {
		*v = f.d.Long()
	}
}

func (f Fields) Bool(v *bool) {
	if f.e != nil {
		f.e.Bool(*v)
	} else {
		*v = f.d.Bool()
	}
}

func (f Fields) Buffer(v *[]byte) {
	if f.e != nil {
		f.e.Buffer(*v)
	} else {
		*v = f.d.Buffer()
	}
}

func (f Fields) String(v *string) {
	if f.e != nil {
		f.e.String(*v)
	} else {
		*v = f.d.String()
	}
}

func (f Fields) Strings(v *[]string) {
	if f.e != nil {
		f.e.Strings(*v)
	} else {
		*v = f.d.Strings()
	}
}

func (f Fields) ACLs(v *[]ACL) {
	if f.e != nil {
		encodeACLs(f.e, *v)
	} else {
		*v = decodeACLs(f.d)
	}
}

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

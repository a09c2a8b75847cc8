package bacnet

import (
	"fmt"
	"math"
)

// WhoIs is a Who-Is request; without limits (HasRange false) every
// device answers.
type WhoIs struct {
	HasRange  bool
	Low, High uint32
}

// AppendWhoIs appends Who-Is service data.
func AppendWhoIs(b []byte, w WhoIs) []byte {
	if !w.HasRange {
		return b
	}
	return AppendContextUnsigned(AppendContextUnsigned(b, 0, uint64(w.Low)), 1, uint64(w.High))
}

// DecodeWhoIs decodes Who-Is service data.
func DecodeWhoIs(p []byte) (WhoIs, error) {
	if len(p) == 0 {
		return WhoIs{}, nil
	}
	r := &reader{b: p}
	lo, err := r.contextUint32(0)
	if err != nil {
		return WhoIs{}, err
	}
	hi, err := r.contextUint32(1)
	if err != nil {
		return WhoIs{}, err
	}
	if lo > MaxInstance || hi > MaxInstance {
		return WhoIs{}, fmt.Errorf("bacnet: Who-Is range %d-%d beyond %d", lo, hi, MaxInstance)
	}
	return WhoIs{HasRange: true, Low: lo, High: hi}, r.end()
}

// Matches reports whether a device instance is in the request's range.
func (w WhoIs) Matches(instance uint32) bool {
	return !w.HasRange || (instance >= w.Low && instance <= w.High)
}

// IAm is an I-Am announcement.
type IAm struct {
	Device       ObjectID
	MaxAPDU      uint64
	Segmentation Segmentation
	VendorID     uint64
}

// AppendIAm appends I-Am service data.
func AppendIAm(b []byte, m IAm) []byte {
	b = AppendObjectID(b, m.Device)
	b = AppendUnsigned(b, m.MaxAPDU)
	b = AppendEnumerated(b, uint32(m.Segmentation))
	return AppendUnsigned(b, m.VendorID)
}

// DecodeIAm decodes I-Am service data.
func DecodeIAm(p []byte) (IAm, error) {
	r := &reader{b: p}
	var m IAm
	var err error
	if m.Device, err = r.appObjectID(); err != nil {
		return IAm{}, fmt.Errorf("I-Am device: %w", err)
	}
	if m.Device.Type != DeviceType {
		return IAm{}, fmt.Errorf("bacnet: I-Am from a %s", m.Device.Type)
	}
	if m.MaxAPDU, err = r.appUint(); err != nil {
		return IAm{}, fmt.Errorf("I-Am max APDU: %w", err)
	}
	seg, err := r.appEnum()
	if err != nil {
		return IAm{}, fmt.Errorf("I-Am segmentation: %w", err)
	}
	if seg > uint32(NoSegmentation) {
		return IAm{}, fmt.Errorf("bacnet: I-Am segmentation %d", seg)
	}
	m.Segmentation = Segmentation(seg)
	if m.VendorID, err = r.appUint(); err != nil {
		return IAm{}, fmt.Errorf("I-Am vendor: %w", err)
	}
	return m, r.end()
}

// WhoHas asks which devices hold an object, by identifier or by name.
type WhoHas struct {
	HasRange  bool
	Low, High uint32
	ByName    bool
	Object    ObjectID
	Name      string
}

// AppendWhoHas appends Who-Has service data.
func AppendWhoHas(b []byte, w WhoHas) []byte {
	if w.HasRange {
		b = AppendContextUnsigned(AppendContextUnsigned(b, 0, uint64(w.Low)), 1, uint64(w.High))
	}
	if w.ByName {
		b = AppendTag(b, 3, true, uint32(len(w.Name)+1))
		return append(append(b, 0), w.Name...)
	}
	return AppendContextObjectID(b, 2, w.Object)
}

// DecodeWhoHas decodes Who-Has service data.
func DecodeWhoHas(p []byte) (WhoHas, error) {
	r := &reader{b: p}
	var w WhoHas
	var err error
	if r.isContext(0) {
		if w.Low, err = r.contextUint32(0); err != nil {
			return WhoHas{}, err
		}
		if w.High, err = r.contextUint32(1); err != nil {
			return WhoHas{}, err
		}
		w.HasRange = true
	}
	switch {
	case r.isContext(2):
		if w.Object, err = r.contextObjectID(2); err != nil {
			return WhoHas{}, err
		}
	case r.isContext(3):
		c, err := r.context(3)
		if err != nil {
			return WhoHas{}, err
		}
		if w.Name, err = decodeCharacterString(c); err != nil {
			return WhoHas{}, err
		}
		w.ByName = true
	default:
		return WhoHas{}, fmt.Errorf("bacnet: Who-Has without an object identifier or name")
	}
	return w, r.end()
}

// IHave answers a Who-Has.
type IHave struct {
	Device, Object ObjectID
	Name           string
}

// AppendIHave appends I-Have service data.
func AppendIHave(b []byte, m IHave) []byte {
	return AppendCharacterString(AppendObjectID(AppendObjectID(b, m.Device), m.Object), m.Name)
}

// DecodeIHave decodes I-Have service data.
func DecodeIHave(p []byte) (IHave, error) {
	r := &reader{b: p}
	var m IHave
	var err error
	if m.Device, err = r.appObjectID(); err != nil {
		return IHave{}, err
	}
	if m.Object, err = r.appObjectID(); err != nil {
		return IHave{}, err
	}
	if m.Name, err = r.appString(); err != nil {
		return IHave{}, err
	}
	return m, r.end()
}

// NoIndex is the absent property array index.
const NoIndex = math.MaxUint32

// PropertyRef names a property of an object, optionally one array element.
type PropertyRef struct {
	Property PropertyID
	Index    uint32 // NoIndex when absent
}

// ReadProperty is a ReadProperty request.
type ReadProperty struct {
	Object   ObjectID
	Property PropertyID
	Index    uint32 // NoIndex when absent
}

// AppendReadProperty appends ReadProperty service data.
func AppendReadProperty(b []byte, q ReadProperty) []byte {
	b = AppendContextObjectID(b, 0, q.Object)
	b = AppendContextEnumerated(b, 1, uint32(q.Property))
	if q.Index != NoIndex {
		b = AppendContextUnsigned(b, 2, uint64(q.Index))
	}
	return b
}

// DecodeReadProperty decodes ReadProperty service data.
func DecodeReadProperty(p []byte) (ReadProperty, error) {
	r := &reader{b: p}
	q := ReadProperty{Index: NoIndex}
	var err error
	if q.Object, err = r.contextObjectID(0); err != nil {
		return ReadProperty{}, err
	}
	prop, err := r.contextUint32(1)
	if err != nil {
		return ReadProperty{}, err
	}
	q.Property = PropertyID(prop)
	if r.isContext(2) {
		if q.Index, err = r.contextUint32(2); err != nil {
			return ReadProperty{}, err
		}
	}
	return q, r.end()
}

// ReadPropertyACK is the result of a ReadProperty.
type ReadPropertyACK struct {
	Object   ObjectID
	Property PropertyID
	Index    uint32
	Value    []Value
}

// AppendReadPropertyACK appends ReadProperty-ACK service data.
func AppendReadPropertyACK(b []byte, a ReadPropertyACK) ([]byte, error) {
	b = AppendReadProperty(b, ReadProperty{a.Object, a.Property, a.Index})
	b = AppendOpening(b, 3)
	b, err := AppendValues(b, a.Value)
	if err != nil {
		return b, err
	}
	return AppendClosing(b, 3), nil
}

// DecodeReadPropertyACK decodes ReadProperty-ACK service data.
func DecodeReadPropertyACK(p []byte) (ReadPropertyACK, error) {
	r := &reader{b: p}
	a := ReadPropertyACK{Index: NoIndex}
	var err error
	if a.Object, err = r.contextObjectID(0); err != nil {
		return ReadPropertyACK{}, err
	}
	prop, err := r.contextUint32(1)
	if err != nil {
		return ReadPropertyACK{}, err
	}
	a.Property = PropertyID(prop)
	if r.isContext(2) {
		if a.Index, err = r.contextUint32(2); err != nil {
			return ReadPropertyACK{}, err
		}
	}
	if a.Value, err = r.enclosed(3); err != nil {
		return ReadPropertyACK{}, err
	}
	return a, r.end()
}

// ReadAccessSpec is one object and its properties in a
// ReadPropertyMultiple request.
type ReadAccessSpec struct {
	Object     ObjectID
	Properties []PropertyRef
}

// AppendReadPropertyMultiple appends ReadPropertyMultiple service data.
func AppendReadPropertyMultiple(b []byte, specs []ReadAccessSpec) []byte {
	for _, s := range specs {
		b = AppendReadAccessSpec(b, s)
	}
	return b
}

// AppendReadAccessSpec appends one ReadAccessSpecification.
func AppendReadAccessSpec(b []byte, s ReadAccessSpec) []byte {
	b = AppendContextObjectID(b, 0, s.Object)
	b = AppendOpening(b, 1)
	for _, p := range s.Properties {
		b = AppendContextEnumerated(b, 0, uint32(p.Property))
		if p.Index != NoIndex {
			b = AppendContextUnsigned(b, 1, uint64(p.Index))
		}
	}
	return AppendClosing(b, 1)
}

// DecodeReadPropertyMultiple decodes ReadPropertyMultiple service data.
func DecodeReadPropertyMultiple(p []byte) ([]ReadAccessSpec, error) {
	r := &reader{b: p}
	var out []ReadAccessSpec
	for !r.done() {
		var s ReadAccessSpec
		var err error
		if s.Object, err = r.contextObjectID(0); err != nil {
			return nil, err
		}
		if err := r.open(1); err != nil {
			return nil, err
		}
		for !r.isClosing(1) {
			if r.done() {
				return nil, fmt.Errorf("%w: property list", ErrTruncated)
			}
			ref := PropertyRef{Index: NoIndex}
			v, err := r.contextUint32(0)
			if err != nil {
				return nil, err
			}
			ref.Property = PropertyID(v)
			if r.isContext(1) {
				if ref.Index, err = r.contextUint32(1); err != nil {
					return nil, err
				}
			}
			s.Properties = append(s.Properties, ref)
		}
		_ = r.close(1)
		if len(s.Properties) == 0 {
			return nil, fmt.Errorf("bacnet: read access specification without properties")
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bacnet: ReadPropertyMultiple without specifications")
	}
	return out, nil
}

// ReadResult is one property's result in a ReadPropertyMultiple-ACK:
// either Value or Err.
type ReadResult struct {
	Property PropertyID
	Index    uint32
	Value    []Value
	Err      *Error
}

// ReadAccessResult is one object's results.
type ReadAccessResult struct {
	Object  ObjectID
	Results []ReadResult
}

// AppendReadPropertyMultipleACK appends ReadPropertyMultiple-ACK service data.
func AppendReadPropertyMultipleACK(b []byte, res []ReadAccessResult) ([]byte, error) {
	var err error
	for _, o := range res {
		b = AppendContextObjectID(b, 0, o.Object)
		b = AppendOpening(b, 1)
		for _, r := range o.Results {
			b = AppendContextEnumerated(b, 2, uint32(r.Property))
			if r.Index != NoIndex {
				b = AppendContextUnsigned(b, 3, uint64(r.Index))
			}
			if r.Err != nil {
				b = AppendClosing(AppendError(AppendOpening(b, 5), *r.Err), 5)
				continue
			}
			b = AppendOpening(b, 4)
			if b, err = AppendValues(b, r.Value); err != nil {
				return b, err
			}
			b = AppendClosing(b, 4)
		}
		b = AppendClosing(b, 1)
	}
	return b, nil
}

// DecodeReadPropertyMultipleACK decodes ReadPropertyMultiple-ACK service data.
func DecodeReadPropertyMultipleACK(p []byte) ([]ReadAccessResult, error) {
	r := &reader{b: p}
	var out []ReadAccessResult
	for !r.done() {
		var o ReadAccessResult
		var err error
		if o.Object, err = r.contextObjectID(0); err != nil {
			return nil, err
		}
		if err := r.open(1); err != nil {
			return nil, err
		}
		for !r.isClosing(1) {
			if r.done() {
				return nil, fmt.Errorf("%w: list of results", ErrTruncated)
			}
			res := ReadResult{Index: NoIndex}
			v, err := r.contextUint32(2)
			if err != nil {
				return nil, err
			}
			res.Property = PropertyID(v)
			if r.isContext(3) {
				if res.Index, err = r.contextUint32(3); err != nil {
					return nil, err
				}
			}
			switch {
			case r.isOpening(4):
				if res.Value, err = r.enclosed(4); err != nil {
					return nil, err
				}
			case r.isOpening(5):
				_ = r.open(5)
				cls, err := r.appEnum()
				if err != nil {
					return nil, err
				}
				code, err := r.appEnum()
				if err != nil {
					return nil, err
				}
				if err := r.close(5); err != nil {
					return nil, err
				}
				res.Err = &Error{Class: cls, Code: code}
			default:
				return nil, fmt.Errorf("bacnet: property result without value or error")
			}
			o.Results = append(o.Results, res)
		}
		_ = r.close(1)
		out = append(out, o)
	}
	return out, nil
}

// WriteProperty is a WriteProperty request. Priority 0 means absent.
type WriteProperty struct {
	Object   ObjectID
	Property PropertyID
	Index    uint32
	Value    []Value
	Priority uint8
}

// AppendWriteProperty appends WriteProperty service data.
func AppendWriteProperty(b []byte, w WriteProperty) ([]byte, error) {
	if w.Priority > 16 {
		return b, fmt.Errorf("bacnet: write priority %d (want 1-16)", w.Priority)
	}
	b = AppendReadProperty(b, ReadProperty{w.Object, w.Property, w.Index})
	b = AppendOpening(b, 3)
	b, err := AppendValues(b, w.Value)
	if err != nil {
		return b, err
	}
	b = AppendClosing(b, 3)
	if w.Priority != 0 {
		b = AppendContextUnsigned(b, 4, uint64(w.Priority))
	}
	return b, nil
}

// DecodeWriteProperty decodes WriteProperty service data.
func DecodeWriteProperty(p []byte) (WriteProperty, error) {
	r := &reader{b: p}
	w := WriteProperty{Index: NoIndex}
	var err error
	if w.Object, err = r.contextObjectID(0); err != nil {
		return WriteProperty{}, err
	}
	prop, err := r.contextUint32(1)
	if err != nil {
		return WriteProperty{}, err
	}
	w.Property = PropertyID(prop)
	if r.isContext(2) {
		if w.Index, err = r.contextUint32(2); err != nil {
			return WriteProperty{}, err
		}
	}
	if w.Value, err = r.enclosed(3); err != nil {
		return WriteProperty{}, err
	}
	if r.isContext(4) {
		pr, err := r.contextUint(4)
		if err != nil {
			return WriteProperty{}, err
		}
		if pr < 1 || pr > 16 {
			return WriteProperty{}, fmt.Errorf("bacnet: write priority %d", pr)
		}
		w.Priority = uint8(pr)
	}
	return w, r.end()
}

// PropertyValue is one property value with an optional priority, as in
// WritePropertyMultiple and COV notifications.
type PropertyValue struct {
	Property PropertyID
	Index    uint32
	Value    []Value
	Priority uint8 // 0: absent
}

// WriteAccessSpec is one object's writes in a WritePropertyMultiple.
type WriteAccessSpec struct {
	Object ObjectID
	Values []PropertyValue
}

func appendPropertyValues(b []byte, vs []PropertyValue) ([]byte, error) {
	var err error
	for _, v := range vs {
		if v.Priority > 16 {
			return b, fmt.Errorf("bacnet: priority %d (want 1-16)", v.Priority)
		}
		b = AppendContextEnumerated(b, 0, uint32(v.Property))
		if v.Index != NoIndex {
			b = AppendContextUnsigned(b, 1, uint64(v.Index))
		}
		b = AppendOpening(b, 2)
		if b, err = AppendValues(b, v.Value); err != nil {
			return b, err
		}
		b = AppendClosing(b, 2)
		if v.Priority != 0 {
			b = AppendContextUnsigned(b, 3, uint64(v.Priority))
		}
	}
	return b, nil
}

// decodePropertyValues reads BACnetPropertyValues until closing tag end.
func decodePropertyValues(r *reader, end uint8) ([]PropertyValue, error) {
	var out []PropertyValue
	for !r.isClosing(end) {
		if r.done() {
			return nil, fmt.Errorf("%w: list of property values", ErrTruncated)
		}
		pv := PropertyValue{Index: NoIndex}
		v, err := r.contextUint32(0)
		if err != nil {
			return nil, err
		}
		pv.Property = PropertyID(v)
		if r.isContext(1) {
			if pv.Index, err = r.contextUint32(1); err != nil {
				return nil, err
			}
		}
		if pv.Value, err = r.enclosed(2); err != nil {
			return nil, err
		}
		if r.isContext(3) {
			pr, err := r.contextUint(3)
			if err != nil {
				return nil, err
			}
			if pr < 1 || pr > 16 {
				return nil, fmt.Errorf("bacnet: priority %d", pr)
			}
			pv.Priority = uint8(pr)
		}
		out = append(out, pv)
	}
	return out, r.close(end)
}

// AppendWritePropertyMultiple appends WritePropertyMultiple service data.
func AppendWritePropertyMultiple(b []byte, specs []WriteAccessSpec) ([]byte, error) {
	var err error
	for _, s := range specs {
		b = AppendContextObjectID(b, 0, s.Object)
		b = AppendOpening(b, 1)
		if b, err = appendPropertyValues(b, s.Values); err != nil {
			return b, err
		}
		b = AppendClosing(b, 1)
	}
	return b, nil
}

// DecodeWritePropertyMultiple decodes WritePropertyMultiple service data.
func DecodeWritePropertyMultiple(p []byte) ([]WriteAccessSpec, error) {
	r := &reader{b: p}
	var out []WriteAccessSpec
	for !r.done() {
		var s WriteAccessSpec
		var err error
		if s.Object, err = r.contextObjectID(0); err != nil {
			return nil, err
		}
		if err := r.open(1); err != nil {
			return nil, err
		}
		if s.Values, err = decodePropertyValues(r, 1); err != nil {
			return nil, err
		}
		if len(s.Values) == 0 {
			return nil, fmt.Errorf("bacnet: write access specification without values")
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bacnet: WritePropertyMultiple without specifications")
	}
	return out, nil
}

// SubscribeCOV is a SubscribeCOV request, or with Property set a
// SubscribeCOVProperty request. Cancel omits confirmation and lifetime.
type SubscribeCOV struct {
	ProcessID    uint32
	Object       ObjectID
	Cancel       bool
	Confirmed    bool
	Lifetime     uint32 // seconds; 0 is indefinite
	Property     *PropertyRef
	Increment    float32
	HasIncrement bool
}

// AppendSubscribeCOV appends SubscribeCOV (or SubscribeCOVProperty when
// s.Property is set) service data.
func AppendSubscribeCOV(b []byte, s SubscribeCOV) []byte {
	b = AppendContextUnsigned(b, 0, uint64(s.ProcessID))
	b = AppendContextObjectID(b, 1, s.Object)
	if !s.Cancel {
		b = AppendContextBool(b, 2, s.Confirmed)
		b = AppendContextUnsigned(b, 3, uint64(s.Lifetime))
	}
	if s.Property != nil {
		b = AppendOpening(b, 4)
		b = AppendContextEnumerated(b, 0, uint32(s.Property.Property))
		if s.Property.Index != NoIndex {
			b = AppendContextUnsigned(b, 1, uint64(s.Property.Index))
		}
		b = AppendClosing(b, 4)
		if s.HasIncrement {
			b = AppendContextReal(b, 5, s.Increment)
		}
	}
	return b
}

// DecodeSubscribeCOV decodes SubscribeCOV service data, or
// SubscribeCOVProperty when property is true.
func DecodeSubscribeCOV(p []byte, property bool) (SubscribeCOV, error) {
	r := &reader{b: p}
	var s SubscribeCOV
	var err error
	if s.ProcessID, err = r.contextUint32(0); err != nil {
		return SubscribeCOV{}, err
	}
	if s.Object, err = r.contextObjectID(1); err != nil {
		return SubscribeCOV{}, err
	}
	s.Cancel = true
	if r.isContext(2) {
		if s.Confirmed, err = r.contextBool(2); err != nil {
			return SubscribeCOV{}, err
		}
		s.Cancel = false
	}
	if r.isContext(3) {
		if s.Lifetime, err = r.contextUint32(3); err != nil {
			return SubscribeCOV{}, err
		}
		s.Cancel = false
	}
	if property {
		if err := r.open(4); err != nil {
			return SubscribeCOV{}, err
		}
		ref := PropertyRef{Index: NoIndex}
		v, err := r.contextUint32(0)
		if err != nil {
			return SubscribeCOV{}, err
		}
		ref.Property = PropertyID(v)
		if r.isContext(1) {
			if ref.Index, err = r.contextUint32(1); err != nil {
				return SubscribeCOV{}, err
			}
		}
		if err := r.close(4); err != nil {
			return SubscribeCOV{}, err
		}
		s.Property = &ref
		if r.isContext(5) {
			if s.Increment, err = r.contextReal(5); err != nil {
				return SubscribeCOV{}, err
			}
			s.HasIncrement = true
		}
	}
	return s, r.end()
}

// COVNotification is a confirmed or unconfirmed COV notification.
type COVNotification struct {
	ProcessID     uint32
	Device        ObjectID
	Object        ObjectID
	TimeRemaining uint32
	Values        []PropertyValue
}

// AppendCOVNotification appends COV notification service data.
func AppendCOVNotification(b []byte, n COVNotification) ([]byte, error) {
	b = AppendContextUnsigned(b, 0, uint64(n.ProcessID))
	b = AppendContextObjectID(b, 1, n.Device)
	b = AppendContextObjectID(b, 2, n.Object)
	b = AppendContextUnsigned(b, 3, uint64(n.TimeRemaining))
	b = AppendOpening(b, 4)
	b, err := appendPropertyValues(b, n.Values)
	if err != nil {
		return b, err
	}
	return AppendClosing(b, 4), nil
}

// DecodeCOVNotification decodes COV notification service data.
func DecodeCOVNotification(p []byte) (COVNotification, error) {
	r := &reader{b: p}
	var n COVNotification
	var err error
	if n.ProcessID, err = r.contextUint32(0); err != nil {
		return COVNotification{}, err
	}
	if n.Device, err = r.contextObjectID(1); err != nil {
		return COVNotification{}, err
	}
	if n.Object, err = r.contextObjectID(2); err != nil {
		return COVNotification{}, err
	}
	if n.TimeRemaining, err = r.contextUint32(3); err != nil {
		return COVNotification{}, err
	}
	if err := r.open(4); err != nil {
		return COVNotification{}, err
	}
	if n.Values, err = decodePropertyValues(r, 4); err != nil {
		return COVNotification{}, err
	}
	return n, r.end()
}

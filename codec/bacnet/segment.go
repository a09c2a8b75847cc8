package bacnet

import "fmt"

// Segment splits a confirmed request or complex ACK whose service data
// does not fit maxAPDU into segments: each is a copy of a with Segmented,
// MoreFollows, Sequence and WindowSize (the proposed window) set and a
// slice of the service data. A message that fits is returned unchanged as
// the only element. maxSegments (0: unlimited) bounds the count.
func Segment(a APDU, maxAPDU int, window uint8, maxSegments int) ([]APDU, error) {
	if a.Type != PDUConfirmedRequest && a.Type != PDUComplexACK {
		return nil, fmt.Errorf("bacnet: PDU type %d cannot be segmented", a.Type)
	}
	a.Segmented, a.MoreFollows = false, false
	if a.HeaderLen()+len(a.ServiceData) <= maxAPDU {
		return []APDU{a}, nil
	}
	if window == 0 || window > 127 {
		return nil, fmt.Errorf("bacnet: window size %d (want 1-127)", window)
	}
	a.Segmented = true
	per := maxAPDU - a.HeaderLen()
	if per <= 0 {
		return nil, fmt.Errorf("bacnet: max APDU %d leaves no room for data", maxAPDU)
	}
	n := (len(a.ServiceData) + per - 1) / per
	if n > 256 || (maxSegments > 0 && n > maxSegments) {
		return nil, fmt.Errorf("bacnet: %d octets need %d segments of %d, more than the peer accepts", len(a.ServiceData), n, per)
	}
	out := make([]APDU, n)
	for i := range out {
		s := a
		s.Sequence, s.WindowSize = uint8(i), window
		s.ServiceData = a.ServiceData[i*per : min((i+1)*per, len(a.ServiceData))]
		s.MoreFollows = i < n-1
		out[i] = s
	}
	return out, nil
}

// Reassembly collects the segments of one segmented message on the
// receiving side (clause 5.4.4.4 / 5.4.5.4).
type Reassembly struct {
	first   APDU
	window  uint8 // actual window size
	next    uint8 // expected sequence number
	initial uint8 // sequence number the window started at
	count   int
	max     int
	data    []byte
	done    bool
}

// NewReassembly starts with the first segment (sequence 0). ourWindow is
// the largest window we accept (1-127); maxBytes bounds the reassembled
// service data. The returned SegmentACK must be sent.
func NewReassembly(first APDU, ourWindow uint8, maxBytes int) (*Reassembly, APDU, error) {
	if !first.Segmented || first.Sequence != 0 {
		return nil, APDU{}, fmt.Errorf("bacnet: segmented message starts with sequence %d", first.Sequence)
	}
	if first.WindowSize == 0 || first.WindowSize > 127 {
		return nil, APDU{}, fmt.Errorf("bacnet: proposed window size %d", first.WindowSize)
	}
	w := min(max(ourWindow, 1), first.WindowSize, 127)
	r := &Reassembly{first: first, window: w, next: 1, max: maxBytes, count: 1}
	if len(first.ServiceData) > maxBytes {
		return nil, APDU{}, fmt.Errorf("bacnet: segmented message longer than %d octets", maxBytes)
	}
	r.data = append(r.data, first.ServiceData...)
	r.done = !first.MoreFollows
	return r, r.ack(0, false), nil
}

func (r *Reassembly) ack(seq uint8, nak bool) APDU {
	return APDU{Type: PDUSegmentACK, InvokeID: r.first.InvokeID, Sequence: seq, WindowSize: r.window,
		NAK: nak, Server: r.first.Type == PDUComplexACK}
}

// Add takes the next received segment. ack is the SegmentACK to send
// (nil: none yet); done reports that the message is complete, when
// Message returns it. A segment out of order is dropped and NAKed.
func (r *Reassembly) Add(s APDU) (ack *APDU, done bool, err error) {
	if r.done {
		// A retransmitted last segment: acknowledge it again.
		a := r.ack(r.next-1, false)
		return &a, true, nil
	}
	if !s.Segmented || s.Type != r.first.Type || s.InvokeID != r.first.InvokeID {
		return nil, false, fmt.Errorf("bacnet: segment does not belong to the message")
	}
	if s.Sequence != r.next {
		// Duplicate or gap: NAK with the last one received in order.
		a := r.ack(r.next-1, true)
		return &a, false, nil
	}
	if len(r.data)+len(s.ServiceData) > r.max {
		return nil, false, fmt.Errorf("bacnet: segmented message longer than %d octets", r.max)
	}
	if r.count >= 256 {
		return nil, false, fmt.Errorf("bacnet: more than 256 segments")
	}
	r.data = append(r.data, s.ServiceData...)
	r.count++
	r.next++
	if !s.MoreFollows {
		r.done = true
		a := r.ack(s.Sequence, false)
		return &a, true, nil
	}
	if s.Sequence-r.initial == r.window {
		r.initial = s.Sequence
		a := r.ack(s.Sequence, false)
		return &a, false, nil
	}
	return nil, false, nil
}

// Message returns the reassembled, unsegmented message.
func (r *Reassembly) Message() APDU {
	m := r.first
	m.Segmented, m.MoreFollows, m.Sequence, m.WindowSize = false, false, 0, 0
	m.ServiceData = r.data
	return m
}

// Window is the actual window size.
func (r *Reassembly) Window() uint8 { return r.window }

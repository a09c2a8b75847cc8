package snmp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/gosnmp/gosnmp"

	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/codec/value"
)

// session runs SNMP operations against one device.
type session struct {
	g *gosnmp.GoSNMP
	d *device
}

// agentError is an error the agent reported: it answered, so it is
// reachable.
type agentError struct{ msg string }

func (e *agentError) Error() string { return e.msg }

func agentErr(format string, args ...any) error { return &agentError{fmt.Sprintf(format, args...)} }

// answered reports whether err came back from the agent (an SNMP error
// status, a missing object, a v3 security report) rather than from no
// answer at all.
func answered(err error) bool {
	var ae *agentError
	return errors.As(err, &ae) ||
		errors.Is(err, gosnmp.ErrUnknownUsername) || errors.Is(err, gosnmp.ErrWrongDigest) ||
		errors.Is(err, gosnmp.ErrDecryption) || errors.Is(err, gosnmp.ErrUnknownSecurityLevel) ||
		errors.Is(err, gosnmp.ErrUnknownSecurityModels) || errors.Is(err, gosnmp.ErrUnknownReportPDU) ||
		errors.Is(err, gosnmp.ErrInvalidMsgs) || errors.Is(err, gosnmp.ErrUnknownPDUHandlers)
}

// unreachable reports whether err means the agent did not answer.
func unreachable(err error) bool {
	if err == nil || answered(err) || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	return errors.Is(err, gosnmp.ErrMaxRetriesExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) || strings.Contains(err.Error(), "timeout") ||
		strings.Contains(err.Error(), "socket")
}

func (s *session) prep(o *op) {
	s.g.Community = o.community
	s.g.Timeout = o.timeout
}

func checkPacket(p *gosnmp.SnmpPacket) error {
	if p == nil {
		return errors.New("no response")
	}
	if p.Error != gosnmp.NoError {
		return agentErr("agent error %s (index %d)", p.Error, p.ErrorIndex)
	}
	return nil
}

// read runs a read method and returns the datapoint value (int64, float64,
// bool, string or json.RawMessage).
func (s *session) read(o *op) (any, error) {
	s.prep(o)
	switch o.method {
	case "get":
		p, err := s.g.Get(o.oids[:1])
		if err != nil {
			return nil, err
		}
		if err := checkPacket(p); err != nil {
			return nil, err
		}
		if len(p.Variables) == 0 {
			return nil, agentErr("empty response")
		}
		v, ok := scalar(p.Variables[0], o.octets)
		if !ok {
			return nil, agentErr("%s: %s", plainOID(o.oids[0]), noValue(p.Variables[0].Type))
		}
		return v, nil
	case "multiget":
		return s.multiget(o)
	case "getnext":
		p, err := s.g.GetNext(o.oids[:1])
		if err != nil {
			return nil, err
		}
		if err := checkPacket(p); err != nil {
			return nil, err
		}
		var obj object
		obj.addAll(p.Variables, o.octets)
		return obj.json()
	case "walk", "multiwalk", "bulkwalk":
		var obj object
		if err := s.walk(o, o.method == "bulkwalk", func(pdu gosnmp.SnmpPDU) { obj.add(pdu, o.octets) }); err != nil {
			return nil, err
		}
		return obj.json()
	case "table", "bulktable":
		t := newTable(o.oids[0], o.baseNodes)
		if err := s.walk(o, o.method == "bulktable", func(pdu gosnmp.SnmpPDU) { t.add(pdu, o.octets) }); err != nil {
			return nil, err
		}
		return t.json()
	case "bulkget":
		if s.g.Version == gosnmp.Version1 {
			return nil, agentErr("bulkget needs SNMP v2c or v3")
		}
		oids := append(append([]string(nil), o.scalar...), o.repeating...)
		p, err := s.g.GetBulk(oids, uint8(len(o.scalar)), uint32(o.maxList))
		if err != nil {
			return nil, err
		}
		if err := checkPacket(p); err != nil {
			return nil, err
		}
		var obj object
		obj.addAll(p.Variables, o.octets)
		return obj.json()
	}
	return nil, fmt.Errorf("method %s does not read", o.method)
}

func noValue(t gosnmp.Asn1BER) string {
	switch t {
	case gosnmp.NoSuchObject:
		return "no such object"
	case gosnmp.NoSuchInstance:
		return "no such instance"
	case gosnmp.EndOfMibView:
		return "end of MIB view"
	}
	return "no value"
}

// multiget reads several OIDs and joins their text with commas, as
// upstream does; a missing value leaves an empty field.
func (s *session) multiget(o *op) (any, error) {
	parts := make([]string, 0, len(o.oids))
	found := false
	for start := 0; start < len(o.oids); start += maxGetBatch {
		chunk := o.oids[start:min(start+maxGetBatch, len(o.oids))]
		p, err := s.g.Get(chunk)
		if err != nil {
			return nil, err
		}
		if err := checkPacket(p); err != nil {
			return nil, err
		}
		for i := range chunk {
			var t string
			if i < len(p.Variables) {
				if v, ok := scalar(p.Variables[i], o.octets); ok {
					t, found = value.Text(v), true
				}
			}
			parts = append(parts, t)
		}
	}
	if !found {
		return nil, agentErr("no value for any OID")
	}
	return strings.Join(parts, ","), nil
}

var errTooMany = errors.New("too many values")

// walk walks each OID of o (GETNEXT, or GETBULK when bulk and the version
// allows it) and hands every varbind to fn, at most maxVarbinds in all.
func (s *session) walk(o *op, bulk bool, fn func(gosnmp.SnmpPDU)) error {
	n := 0
	visit := func(pdu gosnmp.SnmpPDU) error {
		if n >= maxVarbinds {
			return errTooMany
		}
		n++
		fn(pdu)
		return nil
	}
	for _, oid := range o.oids {
		var err error
		if bulk && s.g.Version != gosnmp.Version1 {
			s.g.MaxRepetitions = uint32(o.bulk)
			err = s.g.BulkWalk(oid, visit)
		} else {
			err = s.g.Walk(oid, visit)
		}
		if errors.Is(err, errTooMany) {
			return nil // keep what fits
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// getBatch reads the single-OID get items in one request. On an error
// status (SNMPv1 fails a whole request for one missing OID) it asks for
// each item alone.
func (s *session) getBatch(items []*item, out func(*item, any, error)) error {
	if len(items) == 1 {
		v, err := s.read(&items[0].op)
		out(items[0], v, err)
		return err
	}
	s.prep(&items[0].op)
	oids := make([]string, len(items))
	for i, it := range items {
		oids[i] = it.op.oids[0]
	}
	p, err := s.g.Get(oids)
	if err == nil {
		err = checkPacket(p)
	}
	if err == nil && len(p.Variables) != len(items) {
		err = agentErr("%d values for %d OIDs", len(p.Variables), len(items))
	}
	if err != nil {
		if !answered(err) {
			for _, it := range items {
				out(it, nil, err)
			}
			return err
		}
		for _, it := range items {
			v, err := s.read(&it.op)
			out(it, v, err)
			if unreachable(err) {
				return err
			}
		}
		return nil
	}
	for i, it := range items {
		v, ok := scalar(p.Variables[i], it.op.octets)
		if !ok {
			out(it, nil, agentErr("%s: %s", plainOID(oids[i]), noValue(p.Variables[i].Type)))
			continue
		}
		out(it, v, nil)
	}
	return nil
}

// write runs set or multiset. value is the incoming attribute value or RPC
// parameter; name is the attribute or method name. The result is what the
// agent echoed back.
func (s *session) write(o *op, name string, value any) (any, error) {
	s.prep(o)
	var pdus []gosnmp.SnmpPDU
	switch o.method {
	case "set":
		pdu, err := setPDU(o.oids[0], value, o.valueType)
		if err != nil {
			return nil, err
		}
		pdu.Name = o.oids[0]
		pdus = append(pdus, pdu)
	case "multiset":
		if len(o.mappings) == 0 {
			return nil, errors.New("multiset needs mappings")
		}
		for _, m := range o.mappings {
			pdu, err := setPDU(m.oid, substitute(m.value, name, value), o.valueType)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", plainOID(m.oid), err)
			}
			pdu.Name = m.oid
			pdus = append(pdus, pdu)
		}
	default:
		return nil, fmt.Errorf("method %s does not write", o.method)
	}
	p, err := s.g.Set(pdus)
	if err != nil {
		return nil, err
	}
	if err := checkPacket(p); err != nil {
		return nil, err
	}
	if o.method == "set" && len(p.Variables) > 0 {
		v, _ := scalar(p.Variables[0], o.octets)
		if v == nil {
			v = ""
		}
		return v, nil
	}
	var obj object
	obj.addAll(p.Variables, o.octets)
	return obj.json()
}

// placeholders that stand for the incoming value in multiset mappings.
var valuePlaceholders = []string{"${attribute}", "${attributeValue}", "${value}", "${params}"}

// substitute fills a mapping template: a template that is exactly a value
// placeholder takes the value as is (keeping its JSON type); otherwise the
// placeholders are replaced by text, ${attributeKey} and ${methodName} by
// name.
func substitute(t any, name string, v any) any {
	s, ok := t.(string)
	if !ok {
		return t
	}
	for _, p := range valuePlaceholders {
		if s == p {
			return v
		}
	}
	if !strings.Contains(s, "${") {
		return s
	}
	r := []string{"${attributeKey}", name, "${methodName}", name}
	for _, p := range valuePlaceholders {
		r = append(r, p, tmpl.FormatValue(v))
	}
	return strings.NewReplacer(r...).Replace(s)
}

// object builds a JSON object keyed by OID (without the leading dot), in
// the order the agent returned them; values are text, as upstream sends.
type object struct {
	buf bytes.Buffer
	n   int
}

func (o *object) add(pdu gosnmp.SnmpPDU, mode octetMode) {
	v, ok := scalar(pdu, mode)
	if !ok {
		return
	}
	if o.n == 0 {
		o.buf.WriteByte('{')
	} else {
		o.buf.WriteByte(',')
	}
	o.n++
	writeJSONString(&o.buf, plainOID(pdu.Name))
	o.buf.WriteByte(':')
	writeJSONString(&o.buf, value.Text(v))
}

func (o *object) addAll(pdus []gosnmp.SnmpPDU, mode octetMode) {
	for _, p := range pdus {
		o.add(p, mode)
	}
}

// json returns the object; an empty one is an error ("nothing found").
func (o *object) json() (any, error) {
	if o.n == 0 {
		return nil, agentErr("no values")
	}
	o.buf.WriteByte('}')
	return json.RawMessage(o.buf.Bytes()), nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// table arranges walked values as rows: {"<row index>": {"<column>":
// "<value>", ...}, ...}. The column is the arc after the table's entry
// (table OID + ".1"), the row index the arcs after the column; with
// numBaseNodes the column is the arc at that position; OIDs outside that
// shape fall back to the last two arcs (column, row), as puresnmp does.
type table struct {
	base      []string // arcs of the table OID
	baseNodes int
	rows      map[string]int
	order     []tableRow
}

type tableRow struct {
	index string
	cols  []string // column, value pairs
}

func newTable(oid string, baseNodes int) *table {
	return &table{base: strings.Split(plainOID(oid), "."), baseNodes: baseNodes, rows: map[string]int{}}
}

func (t *table) add(pdu gosnmp.SnmpPDU, mode octetMode) {
	v, ok := scalar(pdu, mode)
	if !ok {
		return
	}
	arcs := strings.Split(plainOID(pdu.Name), ".")
	var col, row string
	switch {
	case t.baseNodes > 0 && len(arcs) > t.baseNodes+1:
		col, row = arcs[t.baseNodes], strings.Join(arcs[t.baseNodes+1:], ".")
	case t.baseNodes == 0 && len(arcs) >= len(t.base)+3 && arcs[len(t.base)] == "1":
		col, row = arcs[len(t.base)+1], strings.Join(arcs[len(t.base)+2:], ".")
	case len(arcs) >= 2:
		col, row = arcs[len(arcs)-2], arcs[len(arcs)-1]
	default:
		return
	}
	i, ok := t.rows[row]
	if !ok {
		i = len(t.order)
		t.rows[row] = i
		t.order = append(t.order, tableRow{index: row})
	}
	r := &t.order[i]
	for j := 0; j < len(r.cols); j += 2 {
		if r.cols[j] == col {
			r.cols[j+1] = value.Text(v)
			return
		}
	}
	r.cols = append(r.cols, col, value.Text(v))
}

func (t *table) json() (any, error) {
	if len(t.order) == 0 {
		return nil, agentErr("no values")
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, r := range t.order {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, r.index)
		b.WriteString(":{")
		for j := 0; j < len(r.cols); j += 2 {
			if j > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, r.cols[j])
			b.WriteByte(':')
			writeJSONString(&b, r.cols[j+1])
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return json.RawMessage(b.Bytes()), nil
}

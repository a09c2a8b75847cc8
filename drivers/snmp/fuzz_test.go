package snmp

import (
	"github.com/tbgw/tbgw/drivers/kit/rpcparams"

	"encoding/json"
	"log/slog"
	"net"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/tbgw/tbgw/gw/connector"
)

// FuzzConfig: any file either loads or is rejected with an error, never a
// panic.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(trapConfig))
	f.Add([]byte(`{"devices":[{"deviceName":"D","ip":"h","version":3,"userName":"u","authKey":"12345678",
		"telemetry":[{"key":"k","method":"bulkget","scalarOid":"1.3","repeatingOid":["1.4"],"maxListSize":3}],
		"attributeUpdateRequests":[{"attributeFilter":"(?<=a)b","method":"multiset","mappings":{"1.2":"${attribute}"}}]}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := New(raw, connector.Env{Name: "f.json", Log: slog.New(slog.DiscardHandler)})
		if err == nil && c == nil {
			t.Fatal("nil connector without error")
		}
	})
}

// FuzzTrap feeds datagrams to the notification path: decode, answer (to a
// socket nobody reads) and map to device data.
func FuzzTrap(f *testing.F) {
	for _, seed := range trapSeeds(f) {
		f.Add(seed)
	}
	c, err := New([]byte(trapConfig), connector.Env{Name: "f.json", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer pc.Close()
	queue := make(chan connector.Data, 1)
	r, err := c.(*Connector).newTrapReceiver(pc, "\x80\x00\x00\x00\x05abcdefgh", 1, queue)
	if err != nil {
		f.Fatal(err)
	}
	to := pc.LocalAddr().(*net.UDPAddr)
	f.Fuzz(func(t *testing.T, msg []byte) {
		r.handle(append([]byte(nil), msg...), to)
		select {
		case d := <-queue:
			for _, p := range d.Telemetry {
				if p.Value == nil {
					t.Fatalf("nil value: %+v", p)
				}
			}
		default:
		}
	})
}

// trapSeeds encodes a few notifications of each kind.
func trapSeeds(tb testing.TB) [][]byte {
	vars := []gosnmp.SnmpPDU{
		{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(100)},
		{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.4.1.8072.2.3.0.1"},
		{Name: ".1.3.6.1.4.1.8072.2.3.2.1", Type: gosnmp.Integer, Value: 123},
		{Name: ".1.3.6.1.4.1.99999.1", Type: gosnmp.OctetString, Value: "hello"},
		{Name: ".1.3.6.1.4.1.99999.2", Type: gosnmp.IPAddress, Value: "10.1.2.3"},
		{Name: ".1.3.6.1.4.1.99999.3", Type: gosnmp.Counter64, Value: uint64(1 << 40)},
	}
	pkts := []*gosnmp.SnmpPacket{
		{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.SNMPv2Trap, RequestID: 1, Variables: vars},
		{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.InformRequest, RequestID: 2, Variables: vars},
		{Version: gosnmp.Version1, Community: "public", PDUType: gosnmp.Trap, Variables: vars[2:],
			SnmpTrap: gosnmp.SnmpTrap{Enterprise: ".1.3.6.1.4.1.8072.2.3", AgentAddress: "127.0.0.1", GenericTrap: 6, SpecificTrap: 17, Timestamp: 5}},
		{Version: gosnmp.Version3, MsgFlags: gosnmp.Reportable, SecurityModel: gosnmp.UserSecurityModel,
			SecurityParameters: &gosnmp.UsmSecurityParameters{}, PDUType: gosnmp.GetRequest, MsgID: 3, RequestID: 3},
	}
	var out [][]byte
	for _, p := range pkts {
		b, err := p.MarshalMsg()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzRPCParams: reserved RPC parameters never panic; an accepted set
// value always encodes.
func FuzzRPCParams(f *testing.F) {
	f.Add("method=get;oid=1.3.6.1.2.1.1.5.0;", "get")
	f.Add("oid=1.3.6.1.2.1.1.6.0;value=x;type=x", "set")
	f.Add("oid=1.3,1.4;method=multiwalk;timeout=2;community=c;octetString=hex", "get")
	d := &device{community: "public", timeout: 1}
	f.Fuzz(func(t *testing.T, params, rpc string) {
		kv := rpcparams.Parse(params).Map()
		o, err := reservedOp(kv, rpc, d)
		if err != nil || o.method != "set" || len(o.oids) == 0 {
			return
		}
		pdu, err := setPDU(o.oids[0], kv["value"], o.valueType)
		if err != nil {
			return
		}
		pdu.Name = o.oids[0]
		p := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "c", PDUType: gosnmp.SetRequest, Variables: []gosnmp.SnmpPDU{pdu}}
		if _, err := p.MarshalMsg(); err != nil {
			t.Fatalf("%q: set PDU %v %#v does not encode: %v", params, pdu.Type, pdu.Value, err)
		}
	})
}

// FuzzSetValue: attribute values of any JSON shape and type names either
// fail or give a PDU that encodes.
func FuzzSetValue(f *testing.F) {
	f.Add(`"abc"`, "")
	f.Add(`42`, "")
	f.Add(`1.5`, "u")
	f.Add(`"00:ff"`, "x")
	f.Add(`true`, "i")
	f.Add(`"10.0.0.1"`, "a")
	f.Fuzz(func(t *testing.T, raw, typ string) {
		v, err := decodeParams(json.RawMessage(raw))
		if err != nil {
			return
		}
		pdu, err := setPDU(".1.3.6.1.2.1.1.6.0", v, typ)
		if err != nil {
			return
		}
		pdu.Name = ".1.3.6.1.2.1.1.6.0"
		p := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "c", PDUType: gosnmp.SetRequest, Variables: []gosnmp.SnmpPDU{pdu}}
		if _, err := p.MarshalMsg(); err != nil {
			t.Fatalf("%s %q: %v %#v does not encode: %v", raw, typ, pdu.Type, pdu.Value, err)
		}
	})
}

// FuzzTable: walked values of any OID shape arrange into a table.
func FuzzTable(f *testing.F) {
	f.Add(".1.3.6.1.2.1.2.2", ".1.3.6.1.2.1.2.2.1.2.1", 0, []byte("lo"))
	f.Add(".1.3.6.1.2.1.4.20", ".1.3.6.1.2.1.4.20.1.2.127.0.0.1", 9, []byte{0xff})
	f.Fuzz(func(t *testing.T, base, oid string, nodes int, val []byte) {
		if nodes < 0 || nodes > 127 {
			return
		}
		tab := newTable(base, nodes)
		tab.add(gosnmp.SnmpPDU{Name: oid, Type: gosnmp.OctetString, Value: val}, octetAuto)
		tab.add(gosnmp.SnmpPDU{Name: oid, Type: gosnmp.Integer, Value: 1}, octetAuto)
		if v, err := tab.json(); err == nil && !json.Valid(v.(json.RawMessage)) {
			t.Fatalf("invalid JSON %s", v)
		}
	})
}

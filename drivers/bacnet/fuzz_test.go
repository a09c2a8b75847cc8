package bacnet

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/tbgw/tbgw/codec/bacnet"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// FuzzNew: any configuration is accepted or refused with an error, never
// a panic.
func FuzzNew(f *testing.F) {
	raw, err := os.ReadFile("testdata/upstream/bacnet.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"application": {"host": "127.0.0.1", "objectIdentifier": 1}, "devices": [{"address": "5:*", "deviceId": ["1-5", 9],
		"timeseries": [{"key": "${objectName}", "objectType": ["analogInput", "binaryValue"], "objectId": "*", "propertyId": "*"}]}]}`))
	f.Add([]byte(`{"application": {"address": "10.0.0.1/255.255.0.0:47809", "objectIdentifier": "7"}, "foreignDevice": {"address": "10.0.0.2:47808", "ttl": "60"}}`))
	f.Add([]byte(`{"application": {"host": "127.0.0.1", "objectIdentifier": 1}, "edeConfig": "IyBrZXluYW1lO2RldmljZSBvYmouLWluc3RhbmNlO29iamVjdC1uYW1lO29iamVjdC10eXBlO29iamVjdC1pbnN0YW5jZQpEO0Q7RDs4OzEKQTsxO0E7MDsx"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env := connector.Env{Log: slog.New(slog.DiscardHandler)}
		c, err := New(b, env)
		if err == nil && c == nil {
			t.Fatal("nil connector without an error")
		}
	})
}

// FuzzDispatch: any datagram reaching the gateway's socket is handled or
// dropped, never a panic. Answers go to a closed loopback port.
func FuzzDispatch(f *testing.F) {
	for _, s := range []string{
		"810a001401001000c4020004d22205ca9100210f",                                           // I-Am
		"810a000e010010080a03e81a07d0",                                                       // Who-Is with a range
		"810a00290100100209071c020000002c008000003a012c4e09552e4441b200002f096f2e8204002f4f", // COV
		"810a001101040275000c0c008000001955",                                                 // ReadProperty of our device
		"810a0017010030000c0c0080000019553e4441ac00003f",
		"8104000e7f000001bac001001008",
		"810a001b0108000501071000c4020000642205c49100210f",
		"810a000c0100380101100c00",
		"81000006 0030",
	} {
		b := make([]byte, 0, len(s)/2)
		for i := 0; i+1 < len(s); i += 2 {
			if s[i] == ' ' {
				i--
				continue
			}
			var x byte
			for _, ch := range s[i : i+2] {
				x <<= 4
				switch {
				case ch >= '0' && ch <= '9':
					x |= byte(ch - '0')
				case ch >= 'a' && ch <= 'f':
					x |= byte(ch - 'a' + 10)
				}
			}
			b = append(b, x)
		}
		f.Add(b)
	}
	cfg := `{"application": {"host": "127.0.0.1", "port": 0, "objectIdentifier": 599}, "devices": [
		{"address": "*:*", "pollPeriod": 60000, "cov": true, "timeseries": [{"key": "t", "objectType": "analogInput", "objectId": 0}]}]}`
	c, err := New([]byte(cfg), connector.Env{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	bc := c.(*Connector)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	defer conn.Close()
	cl := newClient(conn, bc.log, bc.plan)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bc.client, bc.running, bc.cov = cl, true, newCOVTable()
	bc.byKey, bc.byName, bc.adding, bc.refused = map[devKey]*device{}, map[string]*device{}, map[devKey]bool{}, map[devKey]bool{}
	bc.sender = nil
	cl.server = bc.serveOwn
	cl.handler = func(src peer, a bacnet.APDU) {
		// Run the event handlers inline, except adding devices (which
		// needs Run's goroutines).
		switch {
		case a.Type == 1 && a.Service == 8:
			bc.answerWhoIs(src, a.ServiceData)
		case a.Type == 1 && a.Service == 2, a.Type == 0 && a.Service == 1:
			bc.onCOV(ctx, src, a.ServiceData)
		}
	}
	closed := netip.MustParseAddrPort("127.0.0.1:9") // discard port, nothing listens
	_ = drivertest.NewSink
	f.Fuzz(func(t *testing.T, b []byte) {
		cl.dispatch(closed, b)
	})
}

package snmp

import (
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

const trapConfig = `{"traps":{"address":"127.0.0.1:0","communities":["public"],"v3Users":[
	{"userName":"trapUser","authProtocol":"SHA","authKey":"trapauth1","privProtocol":"AES","privKey":"trappriv1"},
	{"userName":"trapAuth","authProtocol":"MD5","authKey":"trapauth2"}]},
 "devices":[{"deviceName":"T","deviceType":"switch","ip":"127.0.0.1","traps":[
	{"oid":"1.3.6.1.6.3.1.1.4.1.0","key":"trapOid"},
	{"oid":"1.3.6.1.2.1.1.3.0","key":"upTime"},
	{"oid":"1.3.6.1.4.1.8072.2.3.2.1","key":"heartbeat"},
	{"oid":"1.3.6.1.4.1.99999","key":"v.${oid}"}]},
  {"deviceName":"other","ip":"10.9.9.9","traps":[{"oid":"1.3","key":"all"}]}]}`

// TestTraps sends traps and informs of every version with net-snmp's
// snmptrap and snmpinform; informs must be acknowledged (the tools exit 0
// only then).
func TestTraps(t *testing.T) {
	requireTools(t)
	c := newConnector(t, trapConfig)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	var addr string
	drivertest.Eventually(t, 5*time.Second, "trap receiver", func() bool {
		s, _ := c.trapAddr.Load().(string)
		addr = s
		return s != ""
	})
	dir := t.TempDir()
	send := func(tool string, args ...string) error {
		t.Helper()
		cmd := exec.Command(tool, args...)
		cmd.Env = append(os.Environ(), "MIBS=", "SNMP_PERSISTENT_DIR="+dir, "SNMPCONFPATH="+dir, "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("%s: %v: %s", tool, err, out)
		}
		return err
	}
	waitValue := func(what, key string, want any) {
		t.Helper()
		sink.Wait(t, 5*time.Second, what, func(data []connector.Data) bool {
			v, ok := drivertest.Latest(data, "T", key, false)
			return ok && v == want
		})
	}
	v3priv := []string{"-v", "3", "-l", "authPriv", "-u", "trapUser", "-a", "SHA", "-A", "trapauth1", "-x", "AES", "-X", "trappriv1"}
	v3auth := []string{"-v", "3", "-l", "authNoPriv", "-u", "trapAuth", "-a", "MD5", "-A", "trapauth2"}
	hb := func(n string) []string {
		return []string{addr, "", "1.3.6.1.4.1.8072.2.3.0.1", "1.3.6.1.4.1.8072.2.3.2.1", "i", n}
	}

	if err := send("snmptrap", append([]string{"-v", "2c", "-c", "public"}, hb("123")...)...); err != nil {
		t.Fatal(err)
	}
	waitValue("v2c trap", "heartbeat", int64(123))
	if v, _ := sink.Latest("T", "trapOid", false); v != "1.3.6.1.4.1.8072.2.3.0.1" {
		t.Errorf("trapOid %#v", v)
	}
	if v, _ := sink.Latest("T", "upTime", false); v == nil {
		t.Error("no upTime")
	}

	if err := send("snmptrap", "-v", "1", "-c", "public", addr, "1.3.6.1.4.1.8072.2.3", "127.0.0.1", "6", "17", "",
		"1.3.6.1.4.1.8072.2.3.2.1", "i", "5"); err != nil {
		t.Fatal(err)
	}
	waitValue("v1 trap", "heartbeat", int64(5))
	waitValue("v1 trap OID", "trapOid", "1.3.6.1.4.1.8072.2.3.0.17")

	if err := send("snmpinform", "-v", "2c", "-c", "public", "-t", "2", "-r", "0", addr, "",
		"1.3.6.1.4.1.99999.0.1", "1.3.6.1.4.1.99999.1.2", "s", "hello"); err != nil {
		t.Fatalf("v2c inform not acknowledged: %v", err)
	}
	waitValue("v2c inform", "v.1.3.6.1.4.1.99999.1.2", "hello")

	if err := send("snmptrap", append(append(append([]string{}, v3priv...), "-e", "0x8000000001020304"), hb("333")...)...); err != nil {
		t.Fatal(err)
	}
	waitValue("v3 authPriv trap", "heartbeat", int64(333))
	if err := send("snmpinform", append(append(append([]string{}, v3priv...), "-t", "2", "-r", "0"), hb("444")...)...); err != nil {
		t.Fatalf("v3 authPriv inform not acknowledged: %v", err)
	}
	waitValue("v3 authPriv inform", "heartbeat", int64(444))
	if err := send("snmpinform", append(append(append([]string{}, v3auth...), "-t", "2", "-r", "0"), hb("555")...)...); err != nil {
		t.Fatalf("v3 authNoPriv inform not acknowledged: %v", err)
	}
	waitValue("v3 authNoPriv inform", "heartbeat", int64(555))
	if err := send("snmptrap", append(append(append([]string{}, v3auth...), "-e", "0x8000000001020305"), hb("556")...)...); err != nil {
		t.Fatal(err)
	}
	waitValue("v3 authNoPriv trap", "heartbeat", int64(556))

	// Rejected: unknown community, wrong key, unknown user. An accepted
	// trap afterwards proves the rejected ones were processed (in order).
	_ = send("snmptrap", append([]string{"-v", "2c", "-c", "secret"}, hb("900")...)...)
	_ = send("snmptrap", append([]string{"-v", "3", "-l", "authNoPriv", "-u", "trapAuth", "-a", "MD5", "-A", "wrongpass",
		"-e", "0x8000000001020304"}, hb("901")...)...)
	_ = send("snmptrap", append([]string{"-v", "3", "-l", "authNoPriv", "-u", "nobody", "-a", "MD5", "-A", "trapauth2",
		"-e", "0x8000000001020304"}, hb("902")...)...)
	if err := send("snmpinform", "-v", "3", "-l", "authNoPriv", "-u", "trapAuth", "-a", "MD5", "-A", "wrongpass",
		"-t", "0.5", "-r", "0", addr, "", "1.3.6.1.4.1.8072.2.3.0.1"); err == nil {
		t.Error("inform with a wrong key was acknowledged")
	}
	if err := send("snmptrap", append([]string{"-v", "2c", "-c", "public"}, hb("124")...)...); err != nil {
		t.Fatal(err)
	}
	waitValue("last trap", "heartbeat", int64(124))
	for _, d := range sink.Data() {
		if d.Device != "T" || d.Type != "switch" {
			t.Errorf("trap data for %s/%s", d.Device, d.Type)
		}
		for _, p := range d.Telemetry {
			if v, ok := p.Value.(int64); ok && v >= 900 {
				t.Errorf("rejected trap delivered: %+v", p)
			}
			if p.Report == nil || p.Report.Type != "ON_RECEIVED" || p.TS == 0 {
				t.Errorf("point %+v", p)
			}
		}
	}
}

func TestTrapMapping(t *testing.T) {
	c := newConnector(t, trapConfig)
	v2 := &gosnmp.SnmpPacket{PDUType: gosnmp.SNMPv2Trap, Variables: []gosnmp.SnmpPDU{
		{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(500)},
		{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.4.1.99999.0.3"},
		{Name: ".1.3.6.1.4.1.99999.7.1", Type: gosnmp.OctetString, Value: []byte("x")},
		{Name: ".1.3.6.1.4.1.12345.1", Type: gosnmp.Integer, Value: 1}, // not mapped
	}}
	out := c.trapData(v2, netip.MustParseAddr("127.0.0.1"))
	if len(out) != 1 || out[0].Device != "T" {
		t.Fatalf("got %+v", out)
	}
	var keys []string
	for _, p := range out[0].Telemetry {
		keys = append(keys, p.Key)
	}
	if got := strings.Join(keys, " "); got != "upTime trapOid v.1.3.6.1.4.1.99999.7.1" {
		t.Errorf("keys %s", got)
	}
	if out[0].Telemetry[0].Value != 5.0 || out[0].Telemetry[1].Value != "1.3.6.1.4.1.99999.0.3" {
		t.Errorf("values %+v", out[0].Telemetry)
	}
	if out := c.trapData(v2, netip.MustParseAddr("192.0.2.1")); len(out) != 0 {
		t.Errorf("unknown source mapped: %+v", out)
	}
	// SNMPv1: the agent-addr field selects the device; generic traps map
	// to snmpTraps.<n+1>.
	v1 := &gosnmp.SnmpPacket{PDUType: gosnmp.Trap, SnmpTrap: gosnmp.SnmpTrap{Enterprise: ".1.3.6.1.4.1.4", AgentAddress: "10.9.9.9",
		GenericTrap: 2, Timestamp: 7}}
	out = c.trapData(v1, netip.MustParseAddr("192.0.2.1"))
	if len(out) != 1 || out[0].Device != "other" {
		t.Fatalf("v1 got %+v", out)
	}
	var oid any
	for _, p := range out[0].Telemetry {
		if v, ok := p.Value.(string); ok && strings.HasPrefix(v, "1.3.6.1.6.3.1.1.5") {
			oid = v
		}
	}
	if oid != "1.3.6.1.6.3.1.1.5.3" {
		t.Errorf("v1 generic trap OID %v in %+v", oid, out[0].Telemetry)
	}
}

func TestTrapEngineBoots(t *testing.T) {
	env := drivertest.Env(t, "snmp", "snmp")
	c1, err := New([]byte(`{"devices":[],"traps":{"address":"127.0.0.1:0"}}`), env)
	if err != nil {
		t.Fatal(err)
	}
	id1, b1 := c1.(*Connector).trapEngine()
	c2, _ := New([]byte(`{"devices":[],"traps":{"address":"127.0.0.1:0"}}`), env)
	id2, b2 := c2.(*Connector).trapEngine()
	if id1 != id2 || len(id1) != 13 || b1 != 1 || b2 != 2 {
		t.Errorf("generated engine %x boots %d, then %x boots %d", id1, b1, id2, b2)
	}
	c3, _ := New([]byte(`{"devices":[],"traps":{"address":"127.0.0.1:0","engineId":"0x8000000001aabbcc"}}`), env)
	id3, b3 := c3.(*Connector).trapEngine()
	if id3 != "\x80\x00\x00\x00\x01\xaa\xbb\xcc" || b3 != 1 {
		t.Errorf("configured engine %x boots %d", id3, b3)
	}
}

package snmp

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/tbgw/tbgw/gw/connector"
)

// warnings collects log records at Warn and above.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, r.Message)
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func load(t *testing.T, raw string) (*Connector, []string, error) {
	t.Helper()
	return loadEnv(t, raw, false)
}

func loadEnv(t *testing.T, raw string, strict bool) (*Connector, []string, error) {
	t.Helper()
	w := &warnings{}
	c, err := New([]byte(raw), connector.Env{Name: "snmp", Type: "snmp", File: "snmp.json", Log: slog.New(w), Strict: strict})
	if err != nil {
		return nil, w.msgs, err
	}
	return c.(*Connector), w.msgs, nil
}

func TestUpstreamSampleLoads(t *testing.T) {
	raw, err := os.ReadFile("testdata/snmp.json")
	if err != nil {
		t.Fatal(err)
	}
	c, warns, err := load(t, string(raw))
	if err != nil {
		t.Fatal(err)
	}
	// The only warning: upstream's sample names a Python converter class.
	if len(warns) != 1 || !strings.Contains(warns[0], `converter "CustomSNMPConverter" is not compiled in`) {
		t.Errorf("warnings: %q", warns)
	}
	for _, w := range warns {
		if strings.Contains(w, "unknown key") {
			t.Errorf("unknown key: %s", w)
		}
	}
	p := c.plan
	if len(p.devices) != 2 || p.workers != 2 || p.traps != nil {
		t.Fatalf("plan: %d devices, %d workers", len(p.devices), p.workers)
	}
	d := p.devices[0]
	if d.name != "SNMP router" || d.typ != "snmp" || d.host != "snmp.live.gambitcommunications.com" ||
		d.port != 161 || d.period != 5*time.Second || d.community != "public" || d.version != gosnmp.Version2c {
		t.Errorf("device 0: %+v", d)
	}
	var got []string
	for _, it := range d.items {
		got = append(got, it.key+":"+it.op.method)
	}
	want := "ReceivedFromGet:get ReceivedFromMultiGet:multiget ReceivedFromGetNext:getnext " +
		"ReceivedFromMultiWalk:multiwalk ReceivedFromBulkWalk:bulkwalk ReceivedFromBulkGet:bulkget " +
		"ReceivedFromWalk:walk ReceivedFromTable:table"
	if strings.Join(got, " ") != want {
		t.Errorf("items\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	walk := d.items[6]
	if walk.attr || walk.op.community != "private" || walk.op.timeout != 6*time.Second {
		t.Errorf("walk item: %+v", walk.op)
	}
	bg := d.items[5].op
	if len(bg.scalar) != 2 || len(bg.repeating) != 2 || bg.maxList != 10 {
		t.Errorf("bulkget: %+v", bg)
	}
	if len(d.batches) != 1 || len(d.batches[0]) != 1 || len(d.single) != 7 {
		t.Errorf("batches %d single %d", len(d.batches), len(d.single))
	}
	if len(d.writes) != 2 || len(d.rpcs) != 4 {
		t.Fatalf("writes %d rpcs %d", len(d.writes), len(d.rpcs))
	}
	ms := d.writes[1].op.mappings
	if len(ms) != 2 || ms[0].oid != ".1.2.3" || ms[0].value != "10" || ms[1].value != "${attribute}" {
		t.Errorf("multiset mappings: %+v", ms)
	}
	if !d.rpcs[0].filter.FullMatch("setData") || d.rpcs[0].filter.FullMatch("multiSetData") {
		t.Errorf("requestFilter setData")
	}
	d1 := p.devices[1]
	if d1.host != "127.0.0.1" || !d1.literal.IsValid() || d1.period != 5*time.Second || d1.conv != nil {
		t.Errorf("device 1: %+v", d1)
	}
}

func TestConfigErrors(t *testing.T) {
	dev := func(extra string) string {
		return `{"devices":[{"deviceName":"D","ip":"127.0.0.1"` + extra + `}]}`
	}
	for _, tc := range []struct{ name, raw, want string }{
		{"no devices", `{}`, "devices: required"},
		{"no name", `{"devices":[{"ip":"1.2.3.4"}]}`, "devices[0].deviceName: required"},
		{"no ip", `{"devices":[{"deviceName":"D"}]}`, "devices[0].ip: required"},
		{"bad port", dev(`,"port":70000`), "devices[0].port: must be between"},
		{"port type", dev(`,"port":"161"`), "devices[0].port: wrong type"},
		{"bad period", dev(`,"pollPeriod":0`), "devices[0].pollPeriod"},
		{"bad method", dev(`,"telemetry":[{"key":"k","method":"fetch","oid":"1.3"}]`), `unknown method "fetch"`},
		{"write method in telemetry", dev(`,"telemetry":[{"key":"k","method":"set","oid":"1.3"}]`), "datapoints need a read method"},
		{"no oid", dev(`,"attributes":[{"key":"k","method":"get"}]`), "devices[0].attributes[0].oid: required"},
		{"bad oid", dev(`,"attributes":[{"key":"k","method":"get","oid":"1.3.x"}]`), "MIB names are not supported"},
		{"oid list for get", dev(`,"attributes":[{"key":"k","method":"get","oid":["1.3","1.4"]}]`), "takes one OID"},
		{"oid number", dev(`,"attributes":[{"key":"k","method":"walk","oid":13}]`), "want a string OID"},
		{"bulkget empty", dev(`,"attributes":[{"key":"k","method":"bulkget"}]`), "needs scalarOid or repeatingOid"},
		{"no key", dev(`,"attributes":[{"method":"get","oid":"1.3"}]`), "attributes[0].key: required"},
		{"octetString", dev(`,"attributes":[{"key":"k","method":"get","oid":"1.3","octetString":"b64"}]`), "auto, text or hex"},
		{"strategy", dev(`,"reportStrategy":{"type":"SOMETIMES"}`), "unknown type"},
		{"filter regex", dev(`,"attributeUpdateRequests":[{"attributeFilter":"(","method":"set","oid":"1.3"}]`), "bad regular expression"},
		{"write get", dev(`,"attributeUpdateRequests":[{"attributeFilter":"a","method":"get","oid":"1.3"}]`), "must be set or multiset"},
		{"multiset no mappings", dev(`,"attributeUpdateRequests":[{"attributeFilter":"a","method":"multiset"}]`), "required for multiset"},
		{"set type", dev(`,"attributeUpdateRequests":[{"attributeFilter":"a","method":"set","oid":"1.3","type":"q"}]`), "unknown value type"},
		{"version", dev(`,"version":"4"`), "unknown SNMP version"},
		{"v3 no user", dev(`,"version":3`), "userName: required"},
		{"v3 short key", dev(`,"version":3,"userName":"u","authKey":"short"`), "authKey: at least 8"},
		{"v3 priv no auth", dev(`,"version":3,"userName":"u","securityLevel":"authPriv","authKey":"12345678"`), "privKey: at least 8"},
		{"v3 auth protocol", dev(`,"version":3,"userName":"u","authKey":"12345678","authProtocol":"CRC"`), "unknown \"CRC\""},
		{"traps address", `{"devices":[],"traps":{"address":"nowhere"}}`, "traps.address"},
		{"trap map", dev(`,"traps":[{"oid":"1.3"}]`), "traps[0].key: required"},
		{"workers", `{"devices":[],"workers":0}`, "workers: must be between"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadEnv(t, tc.raw, true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "snmp.json:1:") {
				t.Errorf("no position: %v", err)
			}
		})
	}
}

// TestUnusableEntriesSkipped: as upstream, an attributeUpdateRequests or
// serverSideRpcRequests entry that cannot work is left out with a warning
// naming its position and key path; strict mode refuses the file.
func TestUnusableEntriesSkipped(t *testing.T) {
	raw := `{"devices":[{"deviceName":"D","ip":"127.0.0.1",
"attributeUpdateRequests":[
  {"attributeFilter":"","method":"set","oid":"1.3"},
  {"attributeFilter":"a","method":"set","oid":"1.3"}],
"serverSideRpcRequests":[
  {"requestFilter":"r","method":"fetch","oid":"1.3"},
  {"requestFilter":"s","method":"get","oid":"1.3"}]}]}`
	c, warns, err := load(t, raw)
	if err != nil {
		t.Fatal(err)
	}
	d := c.plan.devices[0]
	if len(d.writes) != 1 || len(d.rpcs) != 1 {
		t.Errorf("kept %d writes, %d rpcs; want 1, 1", len(d.writes), len(d.rpcs))
	}
	all := strings.Join(warns, "\n")
	for _, w := range []string{
		"snmp.json:3:22: devices[0].attributeUpdateRequests[0].attributeFilter: required; entry skipped",
		"snmp.json:6:33: devices[0].serverSideRpcRequests[0].method: unknown method \"fetch\"; entry skipped",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("no warning %q in:\n%s", w, all)
		}
	}
	if _, _, err := loadEnv(t, raw, true); err == nil || !strings.Contains(err.Error(), "attributeUpdateRequests[0].attributeFilter: required") {
		t.Errorf("strict: err %v", err)
	}
}

func TestConfigV3AndTraps(t *testing.T) {
	c, warns, err := load(t, `{"workers":3,"devices":[{"deviceName":"D","ip":"::1","version":"v3","userName":"u",
		"authProtocol":"sha-256","authKey":"authpass1","privProtocol":"AES256","privKey":"privpass1",
		"contextName":"ctx","contextEngineId":"0x8000000001020304","traps":[{"oid":"1.3.6.1.4.1","key":"k"}]}],
		"traps":{"address":"127.0.0.1:0","communities":["public"],"engineId":"8000000001aabbcc",
		"v3Users":[{"userName":"t","authKey":"12345678"}]}}`)
	if err != nil || len(warns) > 0 {
		t.Fatal(err, warns)
	}
	d := c.plan.devices[0]
	if d.version != gosnmp.Version3 || d.usm.level != gosnmp.AuthPriv || d.usm.auth != gosnmp.SHA256 ||
		d.usm.priv != gosnmp.AES256 || d.contextName != "ctx" || len(d.contextEngineID) != 8 || !d.literal.Is6() {
		t.Errorf("device: %+v %+v", d, d.usm)
	}
	tp := c.plan.traps
	if c.plan.workers != 3 || tp == nil || !tp.communities["public"] || len(tp.engineID) != 8 ||
		len(tp.users) != 1 || tp.users[0].level != gosnmp.AuthNoPriv || tp.users[0].auth != gosnmp.SHA {
		t.Errorf("traps: %+v", tp)
	}
}

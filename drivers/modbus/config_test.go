package modbus

import (
	"context"
	mb "github.com/tbgw/tbgw/codec/modbus"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// logRecorder keeps the messages logged at warning level and above.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelWarn {
		r.mu.Lock()
		r.msgs = append(r.msgs, rec.Message)
		r.mu.Unlock()
	}
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) warnings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

func newWithLog(t *testing.T, cfg string) (*Connector, *logRecorder, error) {
	t.Helper()
	return newWithLogEnv(t, cfg, false)
}

func newWithLogEnv(t *testing.T, cfg string, strict bool) (*Connector, *logRecorder, error) {
	t.Helper()
	rec := &logRecorder{}
	env := drivertest.Env(t, "Modbus", "modbus")
	env.Log = slog.New(rec)
	env.Strict = strict
	c, err := New([]byte(cfg), env)
	if err != nil {
		return nil, rec, err
	}
	return c.(*Connector), rec, nil
}

// Every upstream sample loads with no error and no warning.
func TestUpstreamSamples(t *testing.T) {
	for _, name := range []string{"modbus.json", "modbus_serial.json"} {
		raw, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		c, rec, err := newWithLog(t, string(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w := rec.warnings(); len(w) > 0 {
			t.Errorf("%s: warnings: %q", name, w)
		}
		if len(c.devices) != 1 {
			t.Errorf("%s: %d devices", name, len(c.devices))
		}
	}
	raw, _ := os.ReadFile("testdata/modbus.json")
	c, _, _ := newWithLog(t, string(raw))
	d := c.byName["Demo Device"]
	if d == nil || d.def.link.addr != "127.0.0.1:5021" || d.def.retries != 3 || d.def.timeout.Seconds() != 35 ||
		d.def.attempts != 5 || d.def.backoff.Seconds() != 300 || d.def.poll.Milliseconds() != 1000 {
		t.Fatalf("Demo Device: %+v", d.def)
	}
	// 4 holding registers 0..3 in one request, the coil in another.
	if len(d.blocks) != 2 || d.blocks[1].qty != 4 || d.blocks[0].fc != 1 {
		t.Fatalf("plan: %+v", d.blocks)
	}
	if got := c.SharedAttributeKeys("Demo Device"); len(got) != 1 || got[0] != "relay" {
		t.Fatalf("shared keys %v", got)
	}
	raw, _ = os.ReadFile("testdata/modbus_serial.json")
	c, _, _ = newWithLog(t, string(raw))
	d = c.byName["Modbus Temperature Sensor"]
	if d.def.link.network != "serial" || d.def.link.addr != "/dev/tty0" || d.def.link.serial.baud != 9600 || d.def.retries != 3 {
		t.Fatalf("serial: %+v", d.def.link)
	}
}

func TestConfigErrors(t *testing.T) {
	base := func(slave string) string {
		return `{"master":{"slaves":[{"host":"127.0.0.1","port":502,"type":"tcp","method":"socket","unitId":1,` +
			`"deviceName":"D","pollPeriod":1000` + slave + `}]}}`
	}
	tag := func(t string) string { return `,"timeseries":[` + t + `]` }
	for _, c := range []struct {
		cfg, want string
	}{
		{`{"master":{"slaves":[{"host":"h","port":1,"method":"socket","deviceName":"D","pollPeriod":1}]}}`, "unitId: required"},
		{`{"master":{"slaves":[{"host":"h","port":1,"method":"socket","unitId":1,"pollPeriod":1}]}}`, "deviceName: required"},
		{`{"master":{"slaves":[{"host":"h","port":1,"unitId":1,"deviceName":"D","pollPeriod":1}]}}`, "method: required"},
		{base(`,"byteOrder":"MIDDLE"`), "byteOrder"},
		{base(`,"retries":-1`), "retries"},
		{base(`,"type":"carrier-pigeon"`), "unknown type"},
		{base(tag(`{"tag":"t","type":"32int","functionCode":3,"address":0,"objectsCount":1}`)), "needs 4 bytes"},
		{base(tag(`{"tag":"t","type":"16int","functionCode":7,"address":0}`)), "functionCode: must be one of"},
		{base(tag(`{"tag":"t","type":"48int","functionCode":3,"address":0}`)), "unknown type"},
		{base(tag(`{"tag":"t","type":"int","functionCode":3,"address":0,"objectsCount":3}`)), "48 bits"},
		{base(tag(`{"tag":"t","type":"16int","functionCode":3,"address":70000}`)), "address"},
		{base(tag(`{"tag":"t","type":"16int","functionCode":3,"address":"9-3"}`)), "range"},
		{base(tag(`{"tag":"t","type":"string","functionCode":3,"address":0,"objectsCount":126}`)), "at most 125"},
		{base(tag(`{"tag":"t","type":"bits","functionCode":1,"address":0,"bitTargetType":"float"}`)), "bitTargetType"},
		{base(tag(`{"tag":"t","type":"16int","functionCode":3,"address":0,"reportStrategy":{"type":"SOMETIMES"}}`)), "reportStrategy"},
		{base(`,"attributeUpdates":[{"tag":"a","type":"16int","functionCode":3,"address":0}]`), "must be one of 5, 6, 15, 16"},
		{base(`,"rpc":[{"tag":"r","type":"16int","functionCode":6}]`), "address: required"},
		{base(`,"pollPeriod":0`), "pollPeriod"},
		{`{"master":{"slaves":[{"type":"serial","port":502,"method":"rtu","unitId":1,"deviceName":"D","pollPeriod":1}]}}`, "serial device path"},
	} {
		_, _, err := newWithLogEnv(t, c.cfg, true)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n  got %v, want %q", c.cfg, err, c.want)
		}
	}
	// Errors carry file:line:col and the key path.
	_, _, err := newWithLog(t, "{\"master\":{\"slaves\":[{\"host\":\"h\",\"port\":1,\"method\":\"socket\",\"unitId\":1,\n\"deviceName\":\"D\",\"pollPeriod\":1,\"byteOrder\":\"X\"}]}}")
	if err == nil || !strings.Contains(err.Error(), ":2:45") || !strings.Contains(err.Error(), "master.slaves[0].byteOrder") {
		t.Errorf("position: %v", err)
	}
}

// TestUnusableEntriesSkipped: as upstream, an attributeUpdates or rpc entry
// that cannot work is left out with a warning naming its position and key
// path; strict mode refuses the file.
func TestUnusableEntriesSkipped(t *testing.T) {
	cfg := `{"master":{"slaves":[{"host":"h","port":1,"method":"socket","unitId":1,"deviceName":"D","pollPeriod":1,
"attributeUpdates":[
  {"tag":"a","type":"16int","functionCode":3,"address":0},
  {"tag":"b","type":"16int","functionCode":6,"address":1}],
"rpc":[
  {"tag":"r","type":"magic","functionCode":6,"address":2},
  {"tag":"s","type":"16int","functionCode":6,"address":3}]}]}}`
	c, rec, err := newWithLog(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := c.byName["D"].def
	if len(d.writes) != 1 || d.writes[0].Key != "b" || len(d.rpcs) != 1 || d.rpcs[0].Key != "s" {
		t.Errorf("kept writes %v, rpcs %v", d.writes, d.rpcs)
	}
	w := strings.Join(rec.warnings(), "\n")
	for _, want := range []string{
		"Modbus.json:3:44: master.slaves[0].attributeUpdates[0].functionCode: must be one of 5, 6, 15, 16",
		"Modbus.json:6:21: master.slaves[0].rpc[0].type: unknown type",
		"entry skipped",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q missing in\n%s", want, w)
		}
	}
	if _, _, err := newWithLogEnv(t, cfg, true); err == nil || !strings.Contains(err.Error(), "master.slaves[0].attributeUpdates[0].functionCode") {
		t.Errorf("strict: err %v", err)
	}
}

func TestConfigWarnings(t *testing.T) {
	_, rec, err := newWithLog(t, `{"master":{"slaves":[{"host":"h","port":1,"method":"socket","unitId":1,"deviceName":"D","pollPeriod":1,
		"colour":"red","timeseries":[{"tag":"t","type":"16int","functionCode":3,"address":0,"size":2}],
		"rpc":{"getT":{"type":"16int","functionCode":3,"address":0,"shape":"round"}},
		"attributeUpdates":[{"tag":"w","type":"32int","functionCode":6,"address":0,"objectsCount":2}]}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(rec.warnings(), "\n")
	for _, want := range []string{"master.slaves[0].colour: unknown key", "timeseries[0].size: unknown key", "rpc.getT.shape: unknown key"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q missing in\n%s", want, w)
		}
	}
}

func TestRangeTags(t *testing.T) {
	c, _, err := newWithLog(t, `{"master":{"slaves":[{"host":"h","port":1,"method":"socket","unitId":7,"deviceName":"D","pollPeriod":1,
		"timeseries":[{"tag":"reg_${unitId}_${address}","type":"32int","functionCode":4,"address":"10-14","objectsCount":2,"maxRegistersPerRequest":4},
		{"tag":"t","type":"16int","functionCode":4,"address":"0-1"}]}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	tele := c.byName["D"].def.dev.Telemetry
	var keys []string
	for _, tg := range tele {
		keys = append(keys, tg.Key)
	}
	if got := strings.Join(keys, ","); got != "reg_7_10,reg_7_12,reg_7_14,t_0,t_1" {
		t.Fatalf("keys %s", got)
	}
	// The range is capped at 4 registers per request: 10-13, 14-15 (+0-1).
	var sizes []int
	for _, b := range c.byName["D"].blocks {
		sizes = append(sizes, b.qty)
	}
	if len(sizes) != 3 {
		t.Fatalf("blocks %v", c.byName["D"].blocks)
	}
}

func TestLegacyServer(t *testing.T) {
	c, rec, err := newWithLog(t, `{"server":{"type":"tcp","host":"127.0.0.1","port":5020,"method":"socket","byteOrder":"BIG",
		"devices":[{"unitId":1,"deviceName":"Old","timeseriesPollPeriod":5000,"attributesPollPeriod":5000,
		"timeseries":[{"tag":"t","type":"16int","functionCode":3,"address":0}]}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	d := c.byName["Old"]
	if d == nil || d.def.link.addr != "127.0.0.1:5020" || d.def.poll.Seconds() != 5 || d.def.order.Byte != 0 {
		t.Fatalf("%+v", d)
	}
	if len(rec.warnings()) != 1 {
		t.Errorf("warnings %q", rec.warnings())
	}
}

func TestPlanReads(t *testing.T) {
	p := coalesceParams{enabled: true, maxRegs: 125, maxBits: 2000}
	var spans []span
	for i := range 100 {
		spans = append(spans, span{fc: 3, addr: i, count: 1, ref: i})
	}
	if b := planReads(spans, p); len(b) != 1 || b[0].qty != 100 {
		t.Fatalf("100 neighbours: %d blocks", len(b))
	}
	spans = append(spans, span{fc: 3, addr: 100, count: 30, ref: 100}, span{fc: 4, addr: 0, count: 2, ref: 101},
		span{fc: 3, addr: 140, count: 2, ref: 102}, span{fc: 1, addr: 0, count: 2000, ref: 103}, span{fc: 1, addr: 2000, count: 1, ref: 104})
	b := planReads(spans, p)
	// fc1: [0..2000) and [2000]; fc3: [0..125), [125..130) + gap... ; fc4: one.
	want := []struct{ fc, start, qty int }{{1, 0, 2000}, {1, 2000, 1}, {3, 0, 125}, {3, 100, 30}, {3, 140, 2}, {4, 0, 2}}
	_ = want
	total := 0
	for _, blk := range b {
		if blk.qty > 125 && blk.fc != 1 || blk.qty > 2000 {
			t.Fatalf("block too big: %+v", blk)
		}
		for _, s := range blk.spans {
			if s.addr < blk.start || s.addr+s.count > blk.start+blk.qty {
				t.Fatalf("span %+v outside block %+v", s, blk)
			}
			total++
		}
	}
	if total != len(spans) {
		t.Fatalf("%d spans planned of %d", total, len(spans))
	}
	p.gap = 10
	if b := planReads([]span{{fc: 3, addr: 0, count: 2}, {fc: 3, addr: 12, count: 1}, {fc: 3, addr: 24, count: 1}}, p); len(b) != 2 || b[0].qty != 13 {
		t.Fatalf("gap 10: %+v", b)
	}
	p.enabled = false
	if b := planReads([]span{{fc: 3, addr: 0, count: 1}, {fc: 3, addr: 1, count: 1}}, p); len(b) != 2 {
		t.Fatalf("disabled: %+v", b)
	}
	if b := split(planReads([]span{{fc: 3, addr: 0, count: 1}, {fc: 3, addr: 1, count: 1}, {fc: 4, addr: 0, count: 1}}, coalesceParams{enabled: true, maxRegs: 125}), 0); len(b) != 3 || b[1].start != 1 {
		t.Fatalf("split: %+v", b)
	}
}

var _ connector.Connector = (*Connector)(nil)

// Tag-level report strategies win over the device-level one; both reach
// the datapoints.
func TestReportStrategies(t *testing.T) {
	c, _, err := newWithLog(t, `{"master":{"slaves":[{"host":"h","port":1,"method":"socket","unitId":1,"deviceName":"D","pollPeriod":1,
		"reportStrategy":{"type":"ON_CHANGE"},
		"timeseries":[{"tag":"a","type":"16int","functionCode":3,"address":0},
		{"tag":"b","type":"16int","functionCode":3,"address":1,"reportStrategy":{"type":"on_report_period","reportPeriod":3000}}],
		"attributes":[{"tag":"c","type":"16int","functionCode":3,"address":2,"reportStrategy":{}}]}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	dev := c.byName["D"].def.dev
	a, b, cc := dev.Telemetry[0].Report, dev.Telemetry[1].Report, dev.Attributes[0].Report
	if a == nil || a.Type != "ON_CHANGE" || b == nil || b.Type != "ON_REPORT_PERIOD" || b.PeriodMs != 3000 || cc == nil || cc.Type != "ON_CHANGE" {
		t.Fatalf("strategies %+v %+v %+v", a, b, cc)
	}
	data, _ := dev.Convert([]mbReading{{Regs: []uint16{3}}}, []mbReading{{Regs: []uint16{1}}, {Regs: []uint16{2}}}, 1)
	if data.Telemetry[1].Report != b || data.Attributes[0].Report != cc {
		t.Fatal("strategies not on the points")
	}
}

type mbReading = mb.Reading

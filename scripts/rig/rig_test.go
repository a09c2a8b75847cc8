package rig

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"
)

func TestLedgerAccount(t *testing.T) {
	l := NewLedger()
	d := l.Device("a")
	for range 5 {
		l.Next(d)
	}
	for _, s := range []uint64{0, 1, 2, 3} {
		l.Acked(d, s)
	}
	m := l.Mark()
	l.Deliver([]byte("a"), 0, 100, l.Now(), 8)
	l.Deliver([]byte("a"), 1, 101, l.Now(), 8)
	l.Deliver([]byte("a"), 1, 101, l.Now(), 8) // duplicate
	l.Deliver([]byte("a"), 3, 101, l.Now(), 8) // same ts as seq 1: an overwrite
	l.Deliver([]byte("b"), 0, 1, l.Now(), 8)   // unknown device
	if l.Covered(m) {
		t.Fatal("covered with seq 2 missing")
	}
	a := l.Account()
	want := Account{Sent: 5, Acked: 4, Delivered: 3, Lost: 1, Unaccepted: 1, Dups: 1, Overwrites: 1, LostSample: []string{"a#2"}}
	if a.String() != want.String() {
		t.Fatalf("account\n got %s\nwant %s", a, want)
	}
	l.Excuse("a", 2)
	if !l.Covered(m) {
		t.Fatal("not covered after excusing seq 2")
	}
	if c := l.Counters(); c.Unknown != 1 || c.Points != 32 {
		t.Fatalf("counters %+v", c)
	}
}

func TestHistQuantiles(t *testing.T) {
	var h Hist
	for i := 1; i <= 1000; i++ {
		h.Add(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.Quantile(c.q)
		if got < c.want*15/16 || got > c.want*17/16 {
			t.Errorf("q%.2f = %v, want about %v", c.q, got, c.want)
		}
	}
	h.Add(3) // tiny values use exact buckets
	h.Reset()
	if h.Count() != 0 || h.Quantile(0.5) != 0 {
		t.Fatal("reset")
	}
}

func TestWirePublish(t *testing.T) {
	var b bytes.Buffer
	payload := bytes.Repeat([]byte("x"), 300) // two-byte remaining length
	b.Write(appendPublish(nil, "sensor/d/data", 513, true, payload))
	h, body, err := readPacket(bufio.NewReader(&b), nil)
	if err != nil {
		t.Fatal(err)
	}
	if h != 0x3A || len(body) != 2+13+2+300 || string(body[2:15]) != "sensor/d/data" || body[15] != 2 || body[16] != 1 {
		t.Fatalf("header %#x body %q", h, body[:20])
	}
	if err := connackErr(0x20, []byte{0, 5}); err == nil {
		t.Fatal("refused CONNACK accepted")
	}
}

// scanRef is ScanTelemetry done with encoding/json.
func scanRef(p []byte) ([]Entry, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(p, &m) != nil {
		return nil, false
	}
	var out []Entry
	for dev, raw := range m {
		var list []map[string]json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			var one map[string]json.RawMessage
			if json.Unmarshal(raw, &one) != nil {
				return nil, false
			}
			list = []map[string]json.RawMessage{one}
		}
		for _, e := range list {
			en := Entry{Device: []byte(dev)}
			vals := e
			if v, ok := e["values"]; ok {
				vals = nil
				if json.Unmarshal(v, &vals) != nil {
					return nil, false
				}
			}
			if ts, ok := e["ts"]; ok {
				var f float64
				if json.Unmarshal(ts, &f) != nil {
					return nil, false
				}
				en.TS = int64(f)
			}
			for k, v := range vals {
				if k == "ts" && vals != nil && e["values"] == nil {
					continue
				}
				en.Points++
				var f float64
				if json.Unmarshal(v, &f) == nil {
					switch k {
					case "seq":
						en.Seq, en.HasSeq = f, true
					case "t":
						en.T, en.HasT = f, true
					}
				}
			}
			out = append(out, en)
		}
	}
	return out, true
}

// hasDupKeys reports an object with a repeated key (encoding/json keeps
// only the last one).
func hasDupKeys(p []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(p))
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool // next string token is a key
	}
	var st []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(st) > 0 {
			top = st[len(st)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.obj {
					top.key = true
				}
				st = append(st, &frame{obj: v == '{', keys: map[string]bool{}, key: v == '{'})
			default:
				st = st[:len(st)-1]
			}
			continue
		case string:
			if top != nil && top.obj && top.key {
				if top.keys[v] {
					return true
				}
				top.keys[v] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.obj {
			top.key = true
		}
	}
}

const sampleTelemetry = `{"dev0001":[{"ts":1700000000001,"values":{"seq":0,"t":12345,"v1":20.07,"v2":20.2}},` +
	`{"ts":1700000000002,"values":{"seq":1,"t":12399,"v1":20.14,"v2":20.27}}],"d\u00e9v \"2\"":{"ts":5,"values":{"seq":7,"t":1e3}}}`

func TestScanTelemetry(t *testing.T) {
	var got []Entry
	if err := ScanTelemetry([]byte(sampleTelemetry), func(e *Entry) {
		c := *e
		c.Device = append([]byte(nil), e.Device...)
		got = append(got, c)
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || string(got[2].Device) != `dév "2"` || got[1].Seq != 1 || got[1].T != 12399 ||
		got[1].TS != 1700000000002 || got[1].Points != 4 || got[2].T != 1000 {
		t.Fatalf("%+v", got)
	}
	for _, bad := range []string{``, `{`, `{"a":[{"ts":1,"values":{"seq":1}}]`, `{"a":[{"ts":x}]}`, `[]`, `{"a":[1]}`} {
		if ScanTelemetry([]byte(bad), func(*Entry) {}) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzScanTelemetry checks the scanner against encoding/json on what both
// accept: the same entries with the same seq, t and point counts.
func FuzzScanTelemetry(f *testing.F) {
	f.Add([]byte(sampleTelemetry))
	f.Add([]byte(`{"a":[{"seq":1,"t":2,"x":"y"}],"b":[]}`))
	f.Add([]byte(`{"a":{"ts":1,"values":{"seq":-1,"t":[1,{"s":"]"}]}}}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		n := 0
		var seqSum, tSum float64
		points := 0
		err := ScanTelemetry(p, func(e *Entry) {
			n++
			seqSum += e.Seq
			tSum += e.T
			points += e.Points
		})
		ref, ok := scanRef(p)
		if err != nil || !ok || hasDupKeys(p) {
			return // only compare inputs both accept
		}
		if len(ref) != n {
			t.Fatalf("%d entries, encoding/json finds %d", n, len(ref))
		}
		var rs, rt float64
		rp := 0
		for _, e := range ref {
			rs += e.Seq
			rt += e.T
			rp += e.Points
		}
		if rs != seqSum || rt != tSum || rp != points {
			t.Fatalf("seq %v/%v t %v/%v points %d/%d", seqSum, rs, tSum, rt, points, rp)
		}
	})
}

// TestReadUsageNanoseconds: the CPU time comes from the threads' schedstat
// (nanoseconds), not only /proc/<pid>/stat's 10 ms ticks.
func TestReadUsageNanoseconds(t *testing.T) {
	ns := taskRuntime(os.Getpid())
	if ns <= 0 {
		t.Fatalf("taskRuntime of this process = %v", ns)
	}
	u, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.CPU < ns {
		t.Fatalf("ReadUsage CPU %v below the threads' schedstat %v read before it", u.CPU, ns)
	}
	if taskRuntime(1<<30) != 0 {
		t.Fatal("taskRuntime of a missing process is not 0")
	}
}

package ble

import (
	"testing"

	"github.com/tbgw/tbgw/codec/adv"
	"github.com/tbgw/tbgw/codec/att"
	"github.com/tbgw/tbgw/codec/bytesexpr"
	"github.com/tbgw/tbgw/codec/expr"
)

func mkItem(t *testing.T, tmpl string, conv converterKind, compute string) *item {
	t.Helper()
	tp, err := bytesexpr.Compile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	it := &item{key: "k", tmpl: tp, conv: conv}
	if compute != "" {
		if it.compute, err = expr.CompileVars(compute, "value"); err != nil {
			t.Fatal(err)
		}
	}
	return it
}

// Vectors follow upstream's converters: the bytes converter substitutes
// the decimal values of the selected bytes into the text; the hex
// converter reads the selection as a big-endian integer.
func TestConvert(t *testing.T) {
	th := []byte{0x37, 0x00, 0x16} // humidity 55 %, -, temperature 22 °C
	for _, c := range []struct {
		tmpl    string
		conv    converterKind
		compute string
		data    []byte
		want    any
	}{
		{"[2]", convBytes, "", th, "22"},
		{"[0]", convBytes, "", th, "55"},
		{"[0:2]cm [2:]A", convBytes, "", []byte{1, 2, 3, 4}, "12cm 34A"},
		{"All values: [:]", convBytes, "", []byte("ab"), "All values: 9798"},
		{"[-1]", convBytes, "", th, "22"},
		{"[0:2]", convHex, "", []byte{0x01, 0x02, 0x03}, int64(0x0102)},
		{"[:]", convHex, "", []byte{0xff, 0xff}, int64(65535)},
		{"[1]", convHex, "", th, int64(0)},
		{"[0:2]", convHex, "value / 100", []byte{0x09, 0xC4}, 25.0},
		{"[0:8]", convHex, "", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, float64(1<<64 - 1)},
	} {
		got, err := convert(mkItem(t, c.tmpl, c.conv, c.compute), c.data)
		if err != nil || got != c.want {
			t.Errorf("%s %v % x: %v (%T) %v, want %v", c.tmpl, c.conv, c.data, got, got, err, c.want)
		}
	}
	for _, c := range []struct {
		tmpl string
		conv converterKind
		data []byte
	}{
		{"[5]", convBytes, th},
		{"[5]", convHex, th},
		{"[0:9]", convHex, make([]byte, 10)},
		{"no selection", convHex, th},
		{"[3:]", convHex, th},
	} {
		if v, err := convert(mkItem(t, c.tmpl, c.conv, ""), c.data); err == nil {
			t.Errorf("%s % x: %v, want an error", c.tmpl, c.data, v)
		}
	}
}

func TestAdvValue(t *testing.T) {
	raw := new(adv.Builder).Name("beacon-1").Manufacturer(0x004C, []byte{0x02, 0x15, 0x09, 0xC4}).
		ServiceData(att.UUID16(0x181A), []byte{0x01, 0x10}).Add(adv.TypeTxPower, []byte{0xF4}).Bytes()
	d, err := adv.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	man := mkItem(t, "[2:4]", convHex, "value / 100")
	if v, ok, err := advValue(man, -60, &d); !ok || err != nil || v != 25.0 {
		t.Errorf("manufacturer: %v %v %v", v, ok, err)
	}
	sd := mkItem(t, "[:]", convHex, "")
	sd.field, sd.svc = advServiceData, att.UUID16(0x181A)
	if v, ok, _ := advValue(sd, -60, &d); !ok || v != int64(0x0110) {
		t.Errorf("service data: %v", v)
	}
	for f, want := range map[advField]any{advName: "beacon-1", advRSSI: int64(-60), advTxPower: int64(-12)} {
		it := mkItem(t, "[:]", convHex, "")
		it.field = f
		if v, ok, _ := advValue(it, -60, &d); !ok || v != want {
			t.Errorf("field %d: %v, want %v", f, v, want)
		}
	}
	rssi := mkItem(t, "[:]", convHex, "")
	rssi.field = advRSSI
	if _, ok, _ := advValue(rssi, 127, &d); ok {
		t.Error("RSSI 127 (not available) reported")
	}
	var empty adv.Data
	if _, ok, _ := advValue(man, 0, &empty); ok {
		t.Error("manufacturer value without manufacturer data")
	}
}

func TestPyStr(t *testing.T) {
	for v, want := range map[any]string{"abc": "abc", true: "True", false: "False", 6.6: "6.6", 5.0: "5", nil: "None"} {
		if got := pyStr(v); got != want {
			t.Errorf("%#v: %q, want %q", v, got, want)
		}
	}
	if got := paramText([]byte(`"hello"`)); got != "hello" {
		t.Errorf("%q", got)
	}
	if got := paramText([]byte(`{"a":1}`)); got != `{"a":1}` {
		t.Errorf("%q", got)
	}
}

// FuzzConvert: any payload through any template gives a value or an
// error, never a panic.
func FuzzConvert(f *testing.F) {
	f.Add("[0:2]cm [2:]A", []byte{1, 2, 3}, true)
	f.Add("[-3:]", []byte{0xff}, false)
	f.Add("[9]", []byte{}, false)
	f.Fuzz(func(t *testing.T, tmpl string, data []byte, hex bool) {
		tp, err := bytesexpr.Compile(tmpl)
		if err != nil {
			return
		}
		it := &item{tmpl: tp}
		if hex {
			it.conv = convHex
		}
		_, _ = convert(it, data)
		d, _ := adv.Parse(data)
		_, _, _ = advValue(it, 0, &d)
	})
}

func BenchmarkConvertBytes(b *testing.B) {
	it := mkItem(&testing.T{}, "[0:2]cm [2:]A", convBytes, "")
	data := []byte{1, 2, 3, 4}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := convert(it, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConvertHexCompute(b *testing.B) {
	it := mkItem(&testing.T{}, "[0:2]", convHex, "value / 100")
	data := []byte{0x09, 0xC4}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := convert(it, data); err != nil {
			b.Fatal(err)
		}
	}
}

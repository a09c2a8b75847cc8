package ftp

import (
	"encoding/json"
	"testing"

	"github.com/tbgw/tbgw/codec/conf"
)

func compileTestPath(t testing.TB, src string) *pathPlan {
	t.Helper()
	doc, err := conf.Parse("p.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var pc pathConfig
	if _, err := doc.Decode(&pc); err != nil {
		t.Fatal(err)
	}
	pp, err := compilePath(doc, "p", &pc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pp
}

func TestTableView(t *testing.T) {
	pp := compileTestPath(t, `{"devicePatternName":"Meter ${serial}","devicePatternType":"${model}","path":"x/*.csv",
		"delimiter":";",
		"attributes":[{"key":"fw","value":"v${fw}","type":"string"}],
		"timeseries":[{"key":"ts","value":"${time}"},{"key":"temp","value":"${temperature}","type":"double"},
		              {"key":"${name}","value":"${count}","type":"int"},{"key":"on","value":"${on}","type":"bool"},
		              {"key":"late","value":"${temperature}","tsField":"when","type":"float"}]}`)
	hdr := newHeader("serial;model;fw;time;temperature;name;count;on;when", ";")
	d, err := pp.rows.convert("SN1;M2;1.2;1700000000000;21.5;pulses;12.9;yes;2024-01-02T03:04:05Z", hdr, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(d)
	want := `{"Device":"Meter SN1","Type":"M2","Attributes":[{"Key":"fw","Value":"v1.2","TS":0,"Report":null}],"Telemetry":[{"Key":"temp","Value":21.5,"TS":1700000000000,"Report":null},{"Key":"pulses","Value":12,"TS":1700000000000,"Report":null},{"Key":"on","Value":true,"TS":1700000000000,"Report":null},{"Key":"late","Value":21.5,"TS":1704164645000,"Report":null}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// A short line keeps the datapoints it has.
	d, err = pp.rows.convert("SN1;M2;1.2;;22", hdr, 0)
	if err != nil || len(d.Telemetry) != 2 || len(d.Attributes) != 1 {
		t.Errorf("short line: %+v %v", d, err)
	}
	// No device name column: an error, not a crash.
	if _, err := pp.rows.convert("", hdr, 0); err == nil {
		t.Error("empty line converted")
	}
	if _, err := pp.rows.convert("a;b", nil, 0); err == nil {
		t.Error("line without header converted")
	}
}

func TestSlicedView(t *testing.T) {
	pp := compileTestPath(t, `{"devicePatternName":"[0]","path":"x/*.txt","txtFileDataView":"SLICED","delimiter":",",
		"attributes":[{"key":"rest","value":"[2:]"}],
		"timeseries":[{"key":"[1]","value":"[-1]","type":"int"},{"key":"ts","value":"[2]"}]}`)
	d, err := pp.rows.convert("dev7,temp,1700000000,42", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(d)
	want := `{"Device":"dev7","Type":"Device","Attributes":[{"Key":"rest","Value":"1700000000,42","TS":0,"Report":null}],"Telemetry":[{"Key":"temp","Value":42,"TS":1700000000000,"Report":null}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, s := range []string{"[x]", "[1:2:3]", "[]", "1:2", "[:]x"} {
		if _, ok := parseSlice(s); ok && s != "[:]" {
			t.Errorf("parseSlice(%q) accepted", s)
		}
	}
	f, _ := parseSlice("[:]")
	if v, ok := f.apply([]string{"a", "b"}, ","); !ok || v != "a,b" {
		t.Errorf("[:] = %q %v", v, ok)
	}
	f, _ = parseSlice("[5]")
	if _, ok := f.apply([]string{"a"}, ","); ok {
		t.Error("[5] of one field resolved")
	}
}

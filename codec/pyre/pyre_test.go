package pyre

import "testing"

func TestFindGroup(t *testing.T) {
	tests := []struct {
		re, in, want string
		ok           bool
	}{
		{`(?<=sensor/)(.*?)(?=/data)`, "sensor/SN-001/data", "SN-001", true},
		{`(.*?)(?=/.*)`, "TestDevice/TestDeviceType", "TestDevice", true},
		{`(?<=TestDevice/)(.*)`, "TestDevice/TestDeviceType", "TestDeviceType", true},
		{`sensor/(\w+)/(\w+)`, "a/sensor/x/y", "y", true},
		{`sensor/(\w+)(/z)?`, "sensor/x/y", "x", true},
		{`((a)b)`, "ab", "ab", true},
		{`sensor/\w+`, "sensor/x", "sensor/x", true},
		{`(?P<name>\d+)`, "id 42", "42", true},
		{`(?<=x/)\d+`, "y/1", "", false},
	}
	for _, tc := range tests {
		r, err := Compile(tc.re)
		if err != nil {
			t.Errorf("%s: %v", tc.re, err)
			continue
		}
		got, ok := r.FindGroup(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s on %q: got %q %v want %q %v", tc.re, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMatchModes(t *testing.T) {
	for _, p := range []string{`^firmwareVersion\.*`, `(?<!x)firmware\w*`} {
		r := MustCompile(p)
		if !r.Match("firmwareVersion") || r.Match("xfirmwareVersion") {
			t.Errorf("%s: Match", p)
		}
		if !r.Search("firmwareVersion2") {
			t.Errorf("%s: Search", p)
		}
	}
	r := MustCompile(`(?<=a)b+`)
	if r.FullMatch("abb") || r.Match("bb") || !r.Search("abb") {
		t.Error("look-behind modes")
	}
	if w, ok := r.Find("xabbc"); !ok || w != "bb" {
		t.Errorf("Find: %q", w)
	}
	if _, err := Compile(`(`); err == nil {
		t.Error("bad pattern accepted")
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{`(?<=sensor/)(.*?)(?=/data)`, `(a)|b`, `(?P<x>.)\1`, `[`, `a{2,}`} {
		f.Add(s, "sensor/x/data")
	}
	f.Fuzz(func(t *testing.T, p, in string) {
		r, err := Compile(p)
		if err != nil {
			return
		}
		r.FindGroup(in)
		r.Match(in)
		r.FullMatch(in)
	})
}

package tstamp

import (
	"strings"
	"testing"
	"time"
)

// Vectors produced by python-dateutil 2.9 parser.parse(s, dayfirst,
// yearfirst) for the four flag combinations (none, dayfirst, yearfirst,
// both), with "now" in 2026. Entries marked "ISO" differ on purpose: an
// ISO date is never reordered by dayfirst (dateutil swaps it).
var dateutilVectors = []struct {
	in   string
	want [4]string
}{
	{"2024-01-02 03:04:05", [4]string{"2024-01-02T03:04:05", "2024-01-02T03:04:05", "2024-01-02T03:04:05", "2024-01-02T03:04:05"}}, // ISO
	{"02.01.2024 03:04:05", [4]string{"2024-02-01T03:04:05", "2024-01-02T03:04:05", "2024-02-01T03:04:05", "2024-01-02T03:04:05"}},
	{"10.11.25 10:35:12.123", [4]string{"2025-10-11T10:35:12.123000", "2025-11-10T10:35:12.123000", "2010-11-25T10:35:12.123000", "2010-11-25T10:35:12.123000"}},
	{"01/02/2024", [4]string{"2024-01-02T00:00:00", "2024-02-01T00:00:00", "2024-01-02T00:00:00", "2024-02-01T00:00:00"}},
	{"13/02/2024", [4]string{"2024-02-13T00:00:00", "2024-02-13T00:00:00", "2024-02-13T00:00:00", "2024-02-13T00:00:00"}},
	{"2024/13/02", [4]string{"ERR", "2024-02-13T00:00:00", "ERR", "2024-02-13T00:00:00"}},
	{"Jan 2 2024", [4]string{"2024-01-02T00:00:00", "2024-01-02T00:00:00", "2024-01-02T00:00:00", "2024-01-02T00:00:00"}},
	{"2 January 2024 5pm", [4]string{"2024-01-02T17:00:00", "2024-01-02T17:00:00", "2024-01-02T17:00:00", "2024-01-02T17:00:00"}},
	{"10.11.12", [4]string{"2012-10-11T00:00:00", "2012-11-10T00:00:00", "2010-11-12T00:00:00", "2010-12-11T00:00:00"}},
	{"25.12.31", [4]string{"2031-12-25T00:00:00", "2031-12-25T00:00:00", "2025-12-31T00:00:00", "2025-12-31T00:00:00"}},
	{"12.25.31", [4]string{"2031-12-25T00:00:00", "2031-12-25T00:00:00", "2031-12-25T00:00:00", "2031-12-25T00:00:00"}},
	{"5/6/70", [4]string{"2070-05-06T00:00:00", "2070-06-05T00:00:00", "2070-05-06T00:00:00", "2070-06-05T00:00:00"}},
	{"5/6/99", [4]string{"1999-05-06T00:00:00", "1999-06-05T00:00:00", "1999-05-06T00:00:00", "1999-06-05T00:00:00"}},
	{"2024-01-02 03:04", [4]string{"2024-01-02T03:04:00", "2024-01-02T03:04:00", "2024-01-02T03:04:00", "2024-01-02T03:04:00"}}, // ISO
	{"20240102T030405", [4]string{"2024-01-02T03:04:05", "2024-01-02T03:04:05", "2024-01-02T03:04:05", "2024-01-02T03:04:05"}},  // ISO
	{"Tue, 02 Jan 2024 03:04:05 GMT", [4]string{"2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05+00:00"}},
	{"2024-Jan-02", [4]string{"2024-01-02T00:00:00", "2024-01-02T00:00:00", "2024-01-02T00:00:00", "2024-01-02T00:00:00"}},
	{"1/2/3", [4]string{"2003-01-02T00:00:00", "2003-02-01T00:00:00", "2001-02-03T00:00:00", "2001-03-02T00:00:00"}},
	{"03:04:05 2024-01-02", [4]string{"2024-01-02T03:04:05", "2024-01-02T03:04:05", "2024-01-02T03:04:05", "2024-01-02T03:04:05"}},    // ISO
	{"2024-01-02 3:04:05 PM", [4]string{"2024-01-02T15:04:05", "2024-01-02T15:04:05", "2024-01-02T15:04:05", "2024-01-02T15:04:05"}},  // ISO
	{"2024-01-02 12:00:00 AM", [4]string{"2024-01-02T00:00:00", "2024-01-02T00:00:00", "2024-01-02T00:00:00", "2024-01-02T00:00:00"}}, // ISO
	{"Sep 5, 2021 10:00:00 +0200", [4]string{"2021-09-05T10:00:00+02:00", "2021-09-05T10:00:00+02:00", "2021-09-05T10:00:00+02:00", "2021-09-05T10:00:00+02:00"}},
	{"2021-09-05 10:00:00-05:30", [4]string{"2021-09-05T10:00:00-05:30", "2021-09-05T10:00:00-05:30", "2021-09-05T10:00:00-05:30", "2021-09-05T10:00:00-05:30"}}, // ISO
	{"2024/02/30", [4]string{"ERR", "ERR", "ERR", "ERR"}},
	{"31.04.2024", [4]string{"ERR", "ERR", "ERR", "ERR"}},
	{"2024-02-29", [4]string{"2024-02-29T00:00:00", "2024-02-29T00:00:00", "2024-02-29T00:00:00", "2024-02-29T00:00:00"}},
	{"2023-02-29", [4]string{"ERR", "ERR", "ERR", "ERR"}},
	{"01-02-03", [4]string{"2003-01-02T00:00:00", "2003-02-01T00:00:00", "2001-02-03T00:00:00", "2001-03-02T00:00:00"}},
	{"March 3rd 2020", [4]string{"2020-03-03T00:00:00", "2020-03-03T00:00:00", "2020-03-03T00:00:00", "2020-03-03T00:00:00"}},
	{"3 Mar 20", [4]string{"2020-03-03T00:00:00", "2020-03-03T00:00:00", "2003-03-20T00:00:00", "2003-03-20T00:00:00"}},
	{"12/11/2024 23:59:59.999999", [4]string{"2024-12-11T23:59:59.999999", "2024-11-12T23:59:59.999999", "2024-12-11T23:59:59.999999", "2024-11-12T23:59:59.999999"}},
	// Upstream's tests (test_ts_format_resolver.py).
	{"2025-10-20T11:53:37.637Z", [4]string{"2025-10-20T11:53:37.637+00:00", "2025-10-20T11:53:37.637+00:00", "2025-10-20T11:53:37.637+00:00", "2025-10-20T11:53:37.637+00:00"}},
}

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestDateutilVectors(t *testing.T) {
	flags := [4][2]bool{{false, false}, {true, false}, {false, true}, {true, true}}
	for _, v := range dateutilVectors {
		for i, f := range flags {
			o := Options{DayFirst: f[0], YearFirst: f[1], Location: time.UTC, Now: testNow}
			got, err := ParseTime(v.in, o)
			want := v.want[i]
			if want == "ERR" {
				if err == nil {
					t.Errorf("%q %v: got %v, want error", v.in, f, got)
				}
				continue
			}
			if err != nil {
				t.Errorf("%q %v: %v", v.in, f, err)
				continue
			}
			if !strings.Contains(want[10:], "+") && !strings.Contains(want[10:], "-") {
				want += "+00:00"
			}
			wt, err := time.Parse("2006-01-02T15:04:05.999999999-07:00", want)
			if err != nil {
				t.Fatalf("bad vector %q: %v", want, err)
			}
			_, goff := got.Zone()
			_, woff := wt.Zone()
			if !got.Equal(wt) || goff != woff {
				t.Errorf("%q dayfirst=%v yearfirst=%v: got %s, want %s", v.in, f[0], f[1], got.Format(time.RFC3339Nano), wt.Format(time.RFC3339Nano))
			}
		}
	}
}

func TestNumbers(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"1712345678", 1712345678000},
		{"1712345678.5", 1712345678500},
		{"1712345678901", 1712345678901},
		{"1712345678901234", 1712345678901},
		{"1712345678901234567", 1712345678901},
		{" 1712345678901 ", 1712345678901},
		{"0", 0},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in, Options{})
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		got, err = ParseBytes([]byte(strings.TrimSpace(tc.in)), Options{})
		if err != nil || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "-5", "nan", "inf", "abc", "12:00 foo", "2024-01-02 25:00", "1.2.3.4"} {
		if got, err := Parse(bad, Options{Now: testNow}); err == nil {
			t.Errorf("Parse(%q) = %d, want error", bad, got)
		}
	}
}

func TestLocalZone(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	got, err := Parse("2024-01-02 03:04:05", Options{Location: loc})
	if want := time.Date(2024, 1, 2, 2, 4, 5, 0, time.UTC).UnixMilli(); err != nil || got != want {
		t.Errorf("got %d %v want %d", got, err, want)
	}
	// Time only: today's date from Now.
	tm, err := ParseTime("11:53:37.637", Options{Location: time.UTC, Now: testNow})
	if err != nil || tm.Format(time.RFC3339Nano) != "2026-11-25T11:53:37.637Z" {
		t.Errorf("time only: %v %v", tm, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, v := range dateutilVectors {
		f.Add(v.in, false, true)
	}
	f.Add("1712345678901", true, false)
	f.Fuzz(func(t *testing.T, s string, df, yf bool) {
		_, _ = Parse(s, Options{DayFirst: df, YearFirst: yf, Location: time.UTC, Now: testNow})
	})
}

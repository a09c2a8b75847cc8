package bytesexpr

import "testing"

func TestRender(t *testing.T) {
	p := []byte("SN0121.5")
	tests := []struct {
		tmpl string
		r    Rendering
		want string
		err  bool
	}{
		{"[0:4]", UTF8, "SN01", false},
		{"[:]", UTF8, "SN0121.5", false},
		{"[4:]", UTF8, "21.5", false},
		{"[-3:]", UTF8, "1.5", false},
		{"[:-100]", UTF8, "", false},
		{"[5:2]", UTF8, "", false},
		{"[2]", UTF8, "0", false},
		{"[-1]", UTF8, "5", false},
		{"[8]", UTF8, "", true},
		{"[0:2]", Hex, "534e", false},
		{"[0:2]cm [2:]A", Decimal, "8378cm 484950494653A", false},
		{"All values: [:]", UTF8, "All values: SN0121.5", false},
		{"[a] [] [1:2:3x] x[", UTF8, "[a] [] [1:2:3x] x[", false},
		{"plain", UTF8, "plain", false},
	}
	for _, tc := range tests {
		tp, err := Compile(tc.tmpl)
		if err != nil {
			t.Errorf("%q: %v", tc.tmpl, err)
			continue
		}
		got, err := tp.Render(p, tc.r)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q, err=%v", tc.tmpl, got, err, tc.want, tc.err)
		}
	}
	if _, err := Compile("[1:2:3]"); err == nil {
		t.Error("step accepted")
	}
	got, _ := MustRender(t, "[:]", []byte{0xff, 'a'}, UTF8)
	if got != "\uFFFDa" {
		t.Errorf("invalid UTF-8: %q", got)
	}
}

func MustRender(t *testing.T, s string, p []byte, r Rendering) (string, error) {
	t.Helper()
	tp, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return tp.Render(p, r)
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"[0:4]", "[:]x[-1]", "[99]", "[-5:-2]", "[:-0]", "[1:2:3]"} {
		f.Add(s, []byte("abcdef"))
	}
	f.Fuzz(func(t *testing.T, s string, p []byte) {
		tp, err := Compile(s)
		if err != nil {
			return
		}
		for _, r := range []Rendering{UTF8, Hex, Decimal} {
			_, _ = tp.Render(p, r)
		}
	})
}

package xmpp

import (
	"strings"
	"testing"
)

func TestJID(t *testing.T) {
	j, err := ParseJID("device@LocalHost/TMP_1101")
	if err != nil || j.Local != "device" || j.Domain != "localhost" || j.Resource != "TMP_1101" ||
		j.Bare() != "device@localhost" || j.String() != "device@localhost/TMP_1101" {
		t.Errorf("%+v %v", j, err)
	}
	if j, err := ParseJID("localhost"); err != nil || j.Bare() != "localhost" {
		t.Errorf("%+v %v", j, err)
	}
	if j, err := ParseJID("a@b/c/d"); err != nil || j.Resource != "c/d" {
		t.Errorf("%+v %v", j, err)
	}
	for _, bad := range []string{"", "@x", "a@", "a@b/", "a b@c", "a@b@c", "\xff@x"} {
		if _, err := ParseJID(bad); err == nil {
			t.Errorf("ParseJID(%q) accepted", bad)
		}
	}
}

// RFC 5802 and RFC 7677 test vectors.
func TestSCRAM(t *testing.T) {
	for _, tc := range []struct {
		mech, cnonce, first, final, server string
	}{
		{"SCRAM-SHA-1", "fyko+d2lbbFgONRv9qkxdawL",
			"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="},
		{"SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO",
			"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="},
	} {
		s, err := NewSCRAM(tc.mech, "user", "pencil", tc.cnonce)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(s.Start()); got != "n,,n=user,r="+tc.cnonce {
			t.Errorf("%s first %s", tc.mech, got)
		}
		final, err := s.Next([]byte(tc.first))
		if err != nil || string(final) != tc.final {
			t.Errorf("%s final %s %v", tc.mech, final, err)
		}
		if err := s.Verify([]byte(tc.server)); err != nil {
			t.Errorf("%s verify: %v", tc.mech, err)
		}
		s2, _ := NewSCRAM(tc.mech, "user", "wrong", tc.cnonce)
		s2.Start()
		if _, err := s2.Next([]byte(tc.first)); err != nil {
			t.Fatal(err)
		}
		if err := s2.Verify([]byte(tc.server)); err == nil {
			t.Errorf("%s: a server signature for another password verified", tc.mech)
		}
	}
	s, _ := NewSCRAM("SCRAM-SHA-1", "u,=x", "p", "abc")
	if got := string(s.Start()); got != "n,,n=u=2C=3Dx,r=abc" {
		t.Error(got)
	}
	for _, bad := range []string{"r=other,s=QSXCR+Q6sek8bf92,i=4096", "r=abc,s=QSXCR+Q6sek8bf92,i=4096", "r=abcd,s=!!,i=4096",
		"r=abcd,s=QSXCR+Q6sek8bf92,i=0", "garbage", "m=ext,r=abcd,s=QQ==,i=1"} {
		s, _ := NewSCRAM("SCRAM-SHA-1", "u", "p", "abc")
		s.Start()
		if _, err := s.Next([]byte(bad)); err == nil {
			t.Errorf("server-first %q accepted", bad)
		}
	}
	if _, err := NewSCRAM("SCRAM-MD5", "u", "p", "n"); err == nil {
		t.Error("SCRAM-MD5 accepted")
	}
	if string(PlainResponse("gw", "pw")) != "\x00gw\x00pw" {
		t.Error("plain")
	}
}

func TestElement(t *testing.T) {
	e, err := ParseElement([]byte(`<message xmlns='jabber:client' from='device@localhost/TMP_1101' type='chat'><body>{"temp":21.5,"a":"&lt;b&gt;"}</body><thread>t1</thread></message>`))
	if err != nil {
		t.Fatal(err)
	}
	if e.XMLName.Local != "message" || e.Attr("from") != "device@localhost/TMP_1101" || e.Child("body").Text != `{"temp":21.5,"a":"<b>"}` || e.Child("thread").Text != "t1" || e.Child("x") != nil {
		t.Errorf("%+v", e)
	}
	deep := strings.Repeat("<a>", MaxDepth+1) + strings.Repeat("</a>", MaxDepth+1)
	if _, err := ParseElement([]byte(deep)); err != ErrTooLarge {
		t.Errorf("deep: %v", err)
	}
	for _, bad := range []string{"<a>", "<a></b>", "", "<a x='1></a>"} {
		if _, err := ParseElement([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	m := string(AppendMessage(nil, "device@localhost/TMP_1101", "m1", "th'1", `{"k":"<v> & 'q'"}`))
	back, err := ParseElement([]byte(m))
	if err != nil || back.Child("body").Text != `{"k":"<v> & 'q'"}` || back.Attr("to") != "device@localhost/TMP_1101" || back.Child("thread").Text != "th'1" {
		t.Errorf("%s -> %+v %v", m, back, err)
	}
}

package xmpp

import "testing"

// FuzzElement: no input makes the element reader panic or exceed its
// bounds, and a message body survives escaping.
func FuzzElement(f *testing.F) {
	f.Add([]byte(`<message from='a@b/c'><body>{"x":1}</body></message>`), "body")
	f.Add([]byte(`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`), "x")
	f.Fuzz(func(t *testing.T, b []byte, body string) {
		if e, err := ParseElement(b); err == nil {
			_ = e.Attr("from")
			_ = e.Child("body")
		}
		m, err := ParseElement(AppendMessage(nil, "a@b", "1", "", body))
		if err != nil {
			t.Fatalf("message with body %q: %v", body, err)
		}
		_ = m.Child("body")
	})
}

// FuzzSCRAM: no server message makes the SCRAM client panic.
func FuzzSCRAM(f *testing.F) {
	f.Add([]byte("r=abcdef,s=QSXCR+Q6sek8bf92,i=1"), []byte("v=AAAA"))
	f.Fuzz(func(t *testing.T, first, final []byte) {
		s, _ := NewSCRAM("SCRAM-SHA-256", "u", "p", "abc")
		s.Start()
		if _, err := s.Next(first); err == nil {
			_ = s.Verify(final)
		}
		_, _ = ParseJID(string(first))
	})
}

// Package xmpp is the part of XMPP (RFC 6120) a client needs, without I/O:
// JIDs, a bounded generic XML element tree for stanzas and stream
// features, the SASL mechanisms PLAIN and SCRAM-SHA-1/SCRAM-SHA-256
// (RFC 5802, RFC 7677) as client state machines, and stanza encoding with
// XML escaping.
//
//	j, _ := xmpp.ParseJID("device@localhost/TMP_1101")
//	s := xmpp.NewSCRAM("SCRAM-SHA-256", "gateway", "secret", nonce)
//	first := s.Start()
//	final, err := s.Next(serverFirst)
//	err = s.Verify(serverFinal)
//
// Non-goals: the TCP/TLS stream (drivers/xmpp), server-to-server, channel
// binding (SCRAM-*-PLUS), stringprep beyond escaping.
package xmpp

package xmpp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbgw/tbgw/codec/xmpp"
)

const (
	nsStream  = "http://etherx.jabber.org/streams"
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
)

// errTLSRequired: TLS was asked for and the server cannot give it.
var errTLSRequired = errors.New("the server does not offer STARTTLS and force_starttls is set: refusing to log in without TLS")

// stanzaReader reads from the current connection and counts the bytes of
// the element being read, so that one element cannot exceed the limit.
type stanzaReader struct {
	r     io.Reader
	n     int
	limit int
}

func (s *stanzaReader) Read(p []byte) (int, error) {
	if s.n >= s.limit {
		return 0, xmpp.ErrTooLarge
	}
	if len(p) > s.limit-s.n {
		p = p[:s.limit-s.n]
	}
	n, err := s.r.Read(p)
	s.n += n
	return n, err
}

// client is one logged-in XMPP session.
type client struct {
	log  *slog.Logger
	conn net.Conn
	rd   *stanzaReader
	dec  *xml.Decoder
	jid  xmpp.JID // bound full JID
	tls  bool
	mech string

	wmu sync.Mutex
	seq atomic.Uint64

	imu     sync.Mutex
	pending map[string]chan *xmpp.Element // iq id → answer
}

func randomID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// login connects, secures, authenticates and binds a session.
func login(ctx context.Context, log *slog.Logger, p *plan) (*client, error) {
	d := net.Dialer{Timeout: p.timeout, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	c := &client{log: log, conn: conn, pending: map[string]chan *xmpp.Element{}}
	ok := false
	defer func() {
		if !ok {
			c.conn.Close()
		}
	}()
	stop := context.AfterFunc(ctx, func() { c.conn.Close() })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(p.timeout))
	if p.useSSL {
		tc := tls.Client(conn, p.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS: %w", err)
		}
		c.conn, c.tls = tc, true
	}
	authed := false
	for round := 0; round < 5; round++ {
		feats, err := c.openStream(p.jid.Domain)
		if err != nil {
			return nil, err
		}
		if st := feats.Child("starttls"); !c.tls && st != nil && !p.disableStartTLS {
			if err := c.startTLS(ctx, p); err != nil {
				return nil, err
			}
			continue
		}
		if !c.tls {
			if p.forceStartTLS {
				return nil, errTLSRequired
			}
			if st := feats.Child("starttls"); st != nil && st.Child("required") != nil {
				return nil, errors.New("the server requires STARTTLS but disable_starttls is set")
			}
		}
		if !authed {
			if err := c.authenticate(p, feats); err != nil {
				return nil, err
			}
			authed = true
			continue
		}
		if feats.Child("bind") == nil {
			return nil, errors.New("the server offers no resource binding")
		}
		if err := c.bind(p, feats); err != nil {
			return nil, err
		}
		_ = c.conn.SetDeadline(time.Time{})
		ok = true
		return c, nil
	}
	return nil, errors.New("stream negotiation did not finish")
}

func (c *client) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := c.conn.Write(b)
	return err
}

// openStream sends a stream header and reads the server's header and
// features.
func (c *client) openStream(domain string) (*xmpp.Element, error) {
	hdr := "<?xml version='1.0'?><stream:stream to='" + xmpp.Escape(domain) +
		"' xmlns='jabber:client' xmlns:stream='" + nsStream + "' version='1.0'>"
	if err := c.write([]byte(hdr)); err != nil {
		return nil, err
	}
	c.rd = &stanzaReader{r: c.conn, limit: xmpp.MaxElementBytes}
	c.dec = xml.NewDecoder(c.rd)
	for {
		tok, err := c.dec.Token()
		if err != nil {
			return nil, fmt.Errorf("stream header: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "stream" || se.Name.Space != nsStream {
				return nil, fmt.Errorf("stream header: unexpected <%s>", se.Name.Local)
			}
			break
		}
	}
	e, err := c.next()
	if err != nil {
		return nil, err
	}
	if e.XMLName.Local != "features" {
		return nil, fmt.Errorf("expected stream features, got <%s>", e.XMLName.Local)
	}
	return e, nil
}

// next reads one top-level element; a stream error is returned as error.
func (c *client) next() (*xmpp.Element, error) {
	c.rd.n = 0
	for {
		tok, err := c.dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			e, err := xmpp.ReadElement(c.dec, t)
			if err != nil {
				return nil, err
			}
			if e.XMLName.Local == "error" && e.XMLName.Space == nsStream {
				cond := "unknown"
				if len(e.Children) > 0 {
					cond = e.Children[0].XMLName.Local
				}
				return nil, fmt.Errorf("stream error: %s", cond)
			}
			return e, nil
		case xml.EndElement:
			return nil, errors.New("the server closed the stream")
		}
	}
}

func (c *client) startTLS(ctx context.Context, p *plan) error {
	if err := c.write([]byte("<starttls xmlns='" + nsTLS + "'/>")); err != nil {
		return err
	}
	e, err := c.next()
	if err != nil {
		return err
	}
	if e.XMLName.Local != "proceed" {
		return errors.New("STARTTLS refused by the server")
	}
	tc := tls.Client(c.conn, p.tlsConfig())
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("STARTTLS: %w", err)
	}
	c.conn, c.tls = tc, true
	return nil
}

func (c *client) authenticate(p *plan, feats *xmpp.Element) error {
	m := feats.Child("mechanisms")
	if m == nil {
		return errors.New("the server offers no SASL authentication")
	}
	var offered []string
	for _, ch := range m.Children {
		if ch.XMLName.Local == "mechanism" {
			offered = append(offered, ch.Text)
		}
	}
	mech := ""
	for _, want := range p.mechanisms {
		if slices.Contains(offered, want) {
			mech = want
			break
		}
	}
	if mech == "" {
		return fmt.Errorf("no common SASL mechanism (server offers %v, allowed %v)", offered, p.mechanisms)
	}
	if mech == "PLAIN" && !c.tls && !p.plainUnencrypted {
		return errors.New("only PLAIN is possible and the connection is not encrypted; set unencrypted_plain_auth to allow it")
	}
	c.mech = mech
	enc := base64.StdEncoding.EncodeToString
	auth := func(data []byte) error {
		return c.write([]byte("<auth xmlns='" + nsSASL + "' mechanism='" + mech + "'>" + enc(data) + "</auth>"))
	}
	result := func() (*xmpp.Element, []byte, error) {
		e, err := c.next()
		if err != nil {
			return nil, nil, err
		}
		var data []byte
		if e.Text != "" && e.Text != "=" {
			if data, err = base64.StdEncoding.DecodeString(e.Text); err != nil {
				return nil, nil, errors.New("SASL: bad base64 from the server")
			}
		}
		if e.XMLName.Local == "failure" {
			cond := "failure"
			if len(e.Children) > 0 {
				cond = e.Children[0].XMLName.Local
			}
			return nil, nil, fmt.Errorf("authentication as %s failed (%s): %s", p.jid.Bare(), mech, cond)
		}
		return e, data, nil
	}
	if mech == "PLAIN" {
		if err := auth(xmpp.PlainResponse(p.jid.Local, p.password)); err != nil {
			return err
		}
		e, _, err := result()
		if err != nil {
			return err
		}
		if e.XMLName.Local != "success" {
			return fmt.Errorf("SASL: unexpected <%s>", e.XMLName.Local)
		}
		return nil
	}
	s, err := xmpp.NewSCRAM(mech, p.jid.Local, p.password, randomID())
	if err != nil {
		return err
	}
	if err := auth(s.Start()); err != nil {
		return err
	}
	e, data, err := result()
	if err != nil {
		return err
	}
	if e.XMLName.Local != "challenge" {
		return fmt.Errorf("SASL: unexpected <%s>", e.XMLName.Local)
	}
	final, err := s.Next(data)
	if err != nil {
		return err
	}
	if err := c.write([]byte("<response xmlns='" + nsSASL + "'>" + enc(final) + "</response>")); err != nil {
		return err
	}
	e, data, err = result()
	if err != nil {
		return err
	}
	if e.XMLName.Local == "challenge" { // some servers send the verifier as a challenge
		if err := s.Verify(data); err != nil {
			return err
		}
		if err := c.write([]byte("<response xmlns='" + nsSASL + "'/>")); err != nil {
			return err
		}
		if e, _, err = result(); err != nil {
			return err
		}
		if e.XMLName.Local != "success" {
			return fmt.Errorf("SASL: unexpected <%s>", e.XMLName.Local)
		}
		return nil
	}
	if e.XMLName.Local != "success" {
		return fmt.Errorf("SASL: unexpected <%s>", e.XMLName.Local)
	}
	return s.Verify(data)
}

func (c *client) bind(p *plan, feats *xmpp.Element) error {
	res := ""
	if p.jid.Resource != "" {
		res = "<resource>" + xmpp.Escape(p.jid.Resource) + "</resource>"
	}
	e, err := c.iqSync("<iq type='set' id='bind1'><bind xmlns='"+nsBind+"'>"+res+"</bind></iq>", "bind1")
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	b := e.Child("bind")
	if b == nil || b.Child("jid") == nil {
		return errors.New("bind: no JID in the answer")
	}
	if c.jid, err = xmpp.ParseJID(b.Child("jid").Text); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	// RFC 3921 session establishment, for servers that still ask.
	if s := feats.Child("session"); s != nil && s.Child("optional") == nil {
		if _, err := c.iqSync("<iq type='set' id='sess1'><session xmlns='"+nsSession+"'/></iq>", "sess1"); err != nil {
			return fmt.Errorf("session: %w", err)
		}
	}
	return nil
}

// iqSync sends an iq during negotiation and reads until its answer.
func (c *client) iqSync(iq, id string) (*xmpp.Element, error) {
	if err := c.write([]byte(iq)); err != nil {
		return nil, err
	}
	for {
		e, err := c.next()
		if err != nil {
			return nil, err
		}
		if e.XMLName.Local != "iq" || e.Attr("id") != id {
			continue
		}
		if e.Attr("type") == "error" {
			return nil, errors.New(iqError(e))
		}
		return e, nil
	}
}

func iqError(e *xmpp.Element) string {
	if er := e.Child("error"); er != nil && len(er.Children) > 0 {
		return "error " + er.Children[0].XMLName.Local
	}
	return "error"
}

// iq sends an iq while the read loop runs and waits for its answer.
func (c *client) iq(ctx context.Context, typ, payload string) (*xmpp.Element, error) {
	id := "q" + strconv.FormatUint(c.seq.Add(1), 10)
	ch := make(chan *xmpp.Element, 1)
	c.imu.Lock()
	c.pending[id] = ch
	c.imu.Unlock()
	defer func() {
		c.imu.Lock()
		delete(c.pending, id)
		c.imu.Unlock()
	}()
	if err := c.write([]byte("<iq type='" + typ + "' id='" + id + "'>" + payload + "</iq>")); err != nil {
		return nil, err
	}
	select {
	case e := <-ch:
		if e.Attr("type") == "error" {
			return nil, errors.New(iqError(e))
		}
		return e, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *client) answerIQ(e *xmpp.Element) {
	id := e.Attr("id")
	switch e.Attr("type") {
	case "result", "error":
		c.imu.Lock()
		ch := c.pending[id]
		c.imu.Unlock()
		if ch != nil {
			ch <- e
		}
		return
	}
	to := xmpp.Escape(e.Attr("from"))
	if e.Child("ping") != nil {
		_ = c.write([]byte("<iq type='result' id='" + xmpp.Escape(id) + "' to='" + to + "'/>"))
		return
	}
	// RFC 6120 8.4: answer every get/set, with an error when unsupported.
	_ = c.write([]byte("<iq type='error' id='" + xmpp.Escape(id) + "' to='" + to + "'><error type='cancel'>" +
		"<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"))
}

func (c *client) close() {
	c.wmu.Lock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.conn.Write([]byte("<presence type='unavailable'/></stream:stream>"))
	c.wmu.Unlock()
	_ = c.conn.Close()
}

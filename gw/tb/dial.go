package tb

import (
	"github.com/tbgw/tbgw/drivers/kit/quietsock"
	"github.com/tbgw/tbgw/drivers/kit/tlsconf"

	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// tlsConfig builds the client TLS configuration, loading every file now so
// that New reports unreadable or malformed material.
func (cfg *Config) tlsConfig() (*tls.Config, error) {
	s := cfg.Security
	if (s.Cert == "") != (s.PrivateKey == "") {
		return nil, errors.New("cert and privateKey must be given together")
	}
	o := tlsconf.Options{CAFile: s.CACert, CertFile: s.Cert, KeyFile: s.PrivateKey, ServerName: cfg.Host, Insecure: s.Insecure, Dir: cfg.ConfigDir}
	o.Labels.CA, o.Labels.Cert, o.Labels.Key = "caCert", "cert", "privateKey"
	return o.Client()
}

// systemRootsEmpty reports whether this system has no CA bundle Go can
// find (a minimal image without ca-certificates).
var systemRootsEmpty = func() bool {
	pool, err := x509.SystemCertPool()
	//lint:ignore SA1019 the Linux pool is read from files, Subjects is exact
	return err != nil || pool == nil || len(pool.Subjects()) == 0 //nolint:staticcheck
}

// caHint explains a certificate verification failure against the system
// roots when the system has no CA bundle at all.
func caHint(err error, systemRoots bool) string {
	var ua x509.UnknownAuthorityError
	if !systemRoots || !errors.As(err, &ua) && !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		return ""
	}
	if !systemRootsEmpty() {
		return ""
	}
	return "TLS verification failed: this system has no CA certificate bundle " +
		"(install ca-certificates, point SSL_CERT_FILE at a bundle, or set thingsboard.security.caCert)"
}

// dial opens the network connection for one MQTT session: TCP (through the
// HTTP CONNECT proxy when configured), then TLS when configured. ctx bounds
// the whole setup; on any error the connection is closed.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	addr := net.JoinHostPort(c.cfg.Host, strconv.Itoa(c.cfg.Port))
	var d net.Dialer
	var conn net.Conn
	var err error
	if c.cfg.ProxyHost != "" {
		proxy := net.JoinHostPort(c.cfg.ProxyHost, strconv.Itoa(c.cfg.ProxyPort))
		conn, err = d.DialContext(ctx, "tcp", proxy)
		if err != nil {
			return nil, fmt.Errorf("dial proxy %s: %w", proxy, err)
		}
		if err := proxyConnect(ctx, conn, addr); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("proxy %s: %w", proxy, err)
		}
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
	}
	conn = quietsock.Wrap(conn)
	if c.tls == nil {
		return conn, nil
	}
	tc := tls.Client(conn, c.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		if hint := caHint(err, c.tls.RootCAs == nil); hint != "" {
			if c.caHinted.CompareAndSwap(false, true) {
				c.log.Error(hint, "server", addr)
			}
			return nil, fmt.Errorf("TLS handshake with %s: %w (%s)", addr, err, hint)
		}
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// proxyConnect asks an HTTP proxy to open a tunnel to addr.
func proxyConnect(ctx context.Context, conn net.Conn, addr string) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return err
	}
	br := bufio.NewReaderSize(conn, 512)
	tp := textproto.NewReader(br)
	status, err := tp.ReadLine()
	if err != nil {
		return fmt.Errorf("CONNECT response: %w", err)
	}
	if _, err := tp.ReadMIMEHeader(); err != nil {
		return fmt.Errorf("CONNECT response header: %w", err)
	}
	proto, rest, _ := strings.Cut(status, " ")
	code, _, _ := strings.Cut(rest, " ")
	if !strings.HasPrefix(proto, "HTTP/1.") || len(code) != 3 {
		return fmt.Errorf("CONNECT: malformed status line %q", status)
	}
	if code[0] != '2' {
		return fmt.Errorf("CONNECT %s: %s", addr, rest)
	}
	if br.Buffered() > 0 {
		return errors.New("CONNECT: proxy sent data before the tunnel was used")
	}
	return conn.SetDeadline(time.Time{})
}

// bufReadConn reads through a buffer: paho.mqtt.golang reads every packet
// with three or more small reads (type, remaining length, body), plus one
// that finds the socket empty, so a PUBACK cost four system calls.
type bufReadConn struct {
	net.Conn
	r *bufio.Reader
}

func newBufReadConn(c net.Conn) *bufReadConn {
	return &bufReadConn{Conn: c, r: bufio.NewReaderSize(c, 4<<10)}
}

func (c *bufReadConn) Read(p []byte) (int, error) { return c.r.Read(p) }

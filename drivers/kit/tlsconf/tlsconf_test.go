package tlsconf

import (
	"crypto/tls"
	"io"
	"os"
	"strings"
	"testing"
)

// serve accepts one TLS connection with cfg and writes "ok".
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("ok"))
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func dial(addr string, cfg *tls.Config) error {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = io.ReadAll(c)
	return err
}

func TestVerifiedByDefault(t *testing.T) {
	dir := t.TempDir()
	cert, key, err := SelfSigned(dir, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Options{CertFile: cert, KeyFile: key}.Server()
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)

	// No CA: system roots, so a self-signed server is refused.
	c, _ := Options{ServerName: "127.0.0.1"}.Client()
	if err := dial(addr, c); err == nil {
		t.Fatal("an unknown certificate was accepted without Insecure")
	}
	// With the CA: accepted.
	c, err = Options{CAFile: "selfsigned.crt", Dir: dir, ServerName: "127.0.0.1"}.Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := dial(addr, c); err != nil {
		t.Fatal(err)
	}
	// Wrong name: refused, unless SkipHostname.
	c, _ = Options{CAFile: cert, ServerName: "other.example"}.Client()
	if err := dial(addr, c); err == nil {
		t.Fatal("wrong host name accepted")
	}
	c, _ = Options{CAFile: cert, ServerName: "other.example", SkipHostname: true}.Client()
	if err := dial(addr, c); err != nil {
		t.Fatal(err)
	}
	// Insecure: anything goes.
	c, _ = Options{Insecure: true}.Client()
	if err := dial(addr, c); err != nil {
		t.Fatal(err)
	}
}

func TestSelfSignedReusedAndPrivate(t *testing.T) {
	dir := t.TempDir()
	c1, k1, err := SelfSigned(dir)
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(c1)
	c2, _, err := SelfSigned(dir)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := os.ReadFile(c2)
	if string(b1) != string(b2) {
		t.Fatal("certificate regenerated")
	}
	fi, _ := os.Stat(k1)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", fi.Mode().Perm())
	}
}

func TestInlinePEMAndErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := SelfSigned(dir)
	cb, _ := os.ReadFile(cert)
	kb, _ := os.ReadFile(key)
	if _, err := (Options{CertFile: string(cb), KeyFile: string(kb)}).Server(); err != nil {
		t.Fatal(err)
	}
	if _, err := (Options{CAFile: "missing.pem", Dir: dir}).Client(); err == nil || !strings.Contains(err.Error(), "CA certificate") {
		t.Fatal(err)
	}
	if _, err := (Options{CAFile: key}).Client(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatal(err)
	}
	if _, err := (Options{KeyFile: key}).Client(); err == nil {
		t.Fatal("key without certificate accepted")
	}
	if _, err := (Options{}).Server(); err == nil {
		t.Fatal("server without certificate accepted")
	}
}

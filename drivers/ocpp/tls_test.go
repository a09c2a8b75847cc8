package ocpp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string, certPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "csms"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile, keyFile = filepath.Join(dir, "cs.pem"), filepath.Join(dir, "cs.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, certPEM
}

// TestTLS: a wss:// charge point verifying the central system's
// certificate connects; a plain ws:// one does not.
func TestTLS(t *testing.T) {
	certFile, keyFile, certPEM := selfSigned(t, t.TempDir())
	cfg := sampleWith(t, func(m map[string]any) {
		m["centralSystem"].(map[string]any)["connection"] = map[string]any{"type": "tls", "cert": certFile, "key": keyFile}
	})
	sink := drivertest.NewSink()
	c, _ := start(t, cfg, sink)
	s := startSim(t)
	plain := connect16(c, "CP_1")
	if r := s.do(plain); r.Error == nil {
		t.Error("plain ws:// connected to the TLS central system")
	}
	secure := connect16(c, "CP_1")
	secure["endpoint"] = "wss://" + c.ListenAddr() + "/bidon/hello"
	secure["ca"] = string(certPEM)
	s.ok(secure)
	s.ok(map[string]any{"op": "call", "action": "BootNotification", "params": map[string]any{"chargePointVendor": "T", "chargePointModel": "LS"}})
	waitFor(t, "connect", func() bool { return len(sink.Connects()) == 1 })
}

// TestTLSOffersHTTP1Only: the central system answers WebSocket upgrades,
// which HTTP/2 does not carry, so a client offering h2 in ALPN is given
// http/1.1.
func TestTLSOffersHTTP1Only(t *testing.T) {
	certFile, keyFile, certPEM := selfSigned(t, t.TempDir())
	cfg := sampleWith(t, func(m map[string]any) {
		m["centralSystem"].(map[string]any)["connection"] = map[string]any{"type": "tls", "cert": certFile, "key": keyFile}
	})
	c, _ := start(t, cfg, drivertest.NewSink())
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	conn, err := tls.Dial("tcp", c.ListenAddr(), &tls.Config{RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("negotiated %q, want http/1.1", p)
	}
}

package modbus

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tbgw test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func tlsDevice(port int, tlsObj cfgMap) cfgMap {
	return cfgMap{"master": cfgMap{"slaves": []any{cfgMap{
		"host": "127.0.0.1", "port": port, "type": "tcp", "method": "tls", "tls": tlsObj,
		"unitId": 1, "deviceName": "T", "pollPeriod": 200, "byteOrder": "BIG", "wordOrder": "BIG", "timeout": 3,
		"timeseries": []any{cfgMap{"tag": "v", "type": "32float", "functionCode": 3, "objectsCount": 2, "address": 2}},
	}}}}
}

// Modbus over TLS against pymodbus' TLS server, and against the slave
// section serving TLS (with a client certificate presented).
func TestTLS(t *testing.T) {
	certFile, keyFile := selfSigned(t)
	t.Run("pymodbus", func(t *testing.T) {
		port := drivertest.FreePort(t)
		startPymodbus(t, "tls", "127.0.0.1", port, cfgMap{"units": []int{1}, "certfile": certFile, "keyfile": keyFile,
			"values": []any{cfgMap{"table": "hr", "address": 2, "type": "32float", "value": 6.25, "byteorder": "BIG", "wordorder": "BIG"}}})
		for _, tlsObj := range []cfgMap{{"cafile": certFile}, {"insecure": true}} {
			c := newConnector(t, tlsDevice(port, tlsObj))
			sink := drivertest.NewSink()
			drivertest.Run(t, c, sink)
			waitDev(t, sink, "T", "v", false, 6.25)
		}
	})
	t.Run("verified by default", func(t *testing.T) {
		c := newConnector(t, tlsDevice(drivertest.FreePort(t), cfgMap{}))
		for _, m := range c.masters {
			if m.spec.tls == nil || m.spec.tls.InsecureSkipVerify || m.spec.tls.ServerName != "127.0.0.1" {
				t.Fatalf("TLS without cafile must verify the server against the system roots: %+v", m.spec.tls)
			}
		}
	})
	t.Run("slave section", func(t *testing.T) {
		s := newConnector(t, cfgMap{"slave": cfgMap{"type": "tls", "host": "127.0.0.1", "port": 0, "method": "tls",
			"sendDataToThingsBoard": true, "pollPeriod": 60000, "byteOrder": "BIG", "wordOrder": "BIG",
			"security": cfgMap{"certfile": certFile, "keyfile": keyFile},
			"values":   cfgMap{"holding_registers": cfgMap{"timeseries": []any{cfgMap{"address": 2, "type": "32float", "tag": "x", "objectsCount": 2, "value": -0.5}}}}}})
		drivertest.Run(t, s, drivertest.NewSink())
		_, port := serverAddr(t, s)
		var p int
		for _, ch := range port {
			p = 10*p + int(ch-'0')
		}
		c := newConnector(t, tlsDevice(p, cfgMap{"certfile": certFile, "keyfile": keyFile, "cafile": certFile}))
		sink := drivertest.NewSink()
		drivertest.Run(t, c, sink)
		waitDev(t, sink, "T", "v", false, -0.5)
	})
}

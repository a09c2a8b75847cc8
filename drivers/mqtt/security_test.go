package mqtt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// testPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate (PEM) into dir.
func testPKI(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tbgw test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, tmpl *x509.Certificate) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		write(name+".pem", "CERTIFICATE", der)
		write(name+".key", "EC PRIVATE KEY", kb)
	}
	leaf("server", 2, &x509.Certificate{Subject: pkix.Name{CommonName: "broker"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature})
	leaf("client", 3, &x509.Certificate{Subject: pkix.Name{CommonName: "gateway"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature})
}

const secMapping = `"mapping":[{"topicFilter":"dev/+/up","converter":{"type":"custom","extension":"TestUplink"}}]`

// The connector connects over TLS with a client certificate (mutual TLS)
// and with user name and password, for every protocol version.
func TestSecurity(t *testing.T) {
	pki := brokerDir(t)
	testPKI(t, pki)
	tlsBroker := startMosquitto(t, "cafile "+pki+"/ca.pem", "certfile "+pki+"/server.pem", "keyfile "+pki+"/server.key",
		"require_certificate true")

	passwd, err := exec.LookPath("mosquitto_passwd")
	drivertest.RequirePeer(t, err == nil, "mosquitto_passwd")
	pwfile := filepath.Join(pki, "passwd")
	if out, err := exec.Command(passwd, "-b", "-c", pwfile, "gw", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	_ = os.Chmod(pwfile, 0o644)
	authBroker := startMosquitto(t, "allow_anonymous false", "password_file "+pwfile)

	forVersions(t, func(t *testing.T, v int) {
		cases := []struct {
			name, security string
			m              *mosquitto
			ok             bool
		}{
			{"certificates", fmt.Sprintf(`{"type":"certificates","pathToCACert":%q,"pathToClientCert":%q,"pathToPrivateKey":%q}`,
				pki+"/ca.pem", "client.pem", "client.key"), tlsBroker, true},
			{"insecure", fmt.Sprintf(`{"type":"certificates","pathToCACert":%q,"pathToClientCert":%q,"pathToPrivateKey":%q,"insecure":true}`,
				pki+"/ca.pem", pki+"/client.pem", pki+"/client.key"), tlsBroker, true},
			{"basic", `{"type":"basic","username":"gw","password":"s3cret"}`, authBroker, true},
			{"basic wrong", `{"type":"basic","username":"gw","password":"nope"}`, authBroker, false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				cfg := fmt.Sprintf(`{"broker":{"host":"127.0.0.1","port":%d,"clientId":"sec-%d-%d","version":%d,"security":%s},%s}`,
					tc.m.port, v, time.Now().UnixNano()%1e6, v, tc.security, secMapping)
				env := drivertest.Env(t, "mqtt", "mqtt")
				env.ConfigDir = pki // relative certificate paths
				c, err := newConnector([]byte(cfg), env)
				if err != nil {
					t.Fatal(err)
				}
				drivertest.Run(t, c, drivertest.NewSink())
				if tc.ok {
					drivertest.Eventually(t, 15*time.Second, "connected", c.Connected)
					return
				}
				// A refused connection is retried, never reported as up.
				drivertest.Eventually(t, 15*time.Second, "a refused attempt", func() bool { return c.Counters().ConnectErrs.Load() > 0 })
				if c.Connected() || c.Counters().Connects.Load() > 0 {
					t.Error("connected with a wrong password")
				}
			})
		}
	})
}

package tbtest

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
)

// PKI is a throw-away certificate authority with one server certificate
// (for 127.0.0.1 and localhost) and one client certificate, written as PEM
// files into a temporary directory.
type PKI struct {
	Dir string
	// File names inside Dir.
	CAFile, ServerCertFile, ServerKeyFile, ClientCertFile, ClientKeyFile string
	// ClientCN is the client certificate's common name.
	ClientCN string

	CA *x509.Certificate
	// Server is the server key pair.
	Server tls.Certificate
}

// NewPKI generates the CA and certificates. clientCN names the client
// certificate (default "gateway").
func NewPKI(t testing.TB, clientCN string) *PKI {
	t.Helper()
	if clientCN == "" {
		clientCN = "gateway"
	}
	dir := t.TempDir()
	p := &PKI{Dir: dir, CAFile: "ca.pem", ServerCertFile: "server.pem", ServerKeyFile: "server.key",
		ClientCertFile: "client.pem", ClientKeyFile: "client.key", ClientCN: clientCN}

	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tbtest CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.CA, err = x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, p.CAFile, "CERTIFICATE", caDER)

	leaf := func(serial int64, cn string, server bool, certFile, keyFile string) tls.Certificate {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if server {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
			tmpl.DNSNames = []string{"localhost"}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		p.write(t, certFile, "CERTIFICATE", der)
		p.write(t, keyFile, "EC PRIVATE KEY", keyDER)
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
		if err != nil {
			t.Fatal(err)
		}
		return pair
	}
	p.Server = leaf(2, "tbtest server", true, p.ServerCertFile, p.ServerKeyFile)
	leaf(3, clientCN, false, p.ClientCertFile, p.ClientKeyFile)
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (p *PKI) write(t testing.TB, name, typ string, der []byte) {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(filepath.Join(p.Dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Path returns the absolute path of a file of the PKI.
func (p *PKI) Path(name string) string { return filepath.Join(p.Dir, name) }

// ServerTLS returns a server configuration presenting the server
// certificate; with requireClient, clients must present a certificate
// signed by the CA.
func (p *PKI) ServerTLS(requireClient bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{p.Server}, MinVersion: tls.VersionTLS12}
	if requireClient {
		pool := x509.NewCertPool()
		pool.AddCert(p.CA)
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c
}

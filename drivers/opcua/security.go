package opcua

import (
	"github.com/tbgw/tbgw/drivers/kit/atomicfile"

	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
)

// Files of the generated application instance certificate in the
// connector's data directory.
const (
	appCertFile = "opcua-client-cert.der"
	appKeyFile  = "opcua-client-key.pem"
)

func loadCertFile(name string) ([]byte, error) {
	ders, err := loadCertChain(name)
	if err != nil {
		return nil, err
	}
	return ders[0], nil
}

// loadCertChain reads PEM (one or more certificates) or DER.
func loadCertChain(name string) ([][]byte, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var ders [][]byte
	rest := raw
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			ders = append(ders, b.Bytes)
		}
	}
	if len(ders) == 0 {
		ders = [][]byte{raw}
	}
	for _, d := range ders {
		if _, err := x509.ParseCertificate(d); err != nil {
			return nil, fmt.Errorf("%s: not a certificate: %v", name, err)
		}
	}
	return ders, nil
}

func loadKeyFile(name string) (*rsa.PrivateKey, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	der := raw
	if b, _ := pem.Decode(raw); b != nil {
		der = b.Bytes
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: not an RSA private key", name)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: OPC-UA needs an RSA key, got %T", name, k)
	}
	return rk, nil
}

func checkKeyPair(certDER []byte, key *rsa.PrivateKey) error {
	c, err := x509.ParseCertificate(certDER)
	if err != nil {
		return err
	}
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return errors.New("privateKey does not match cert")
	}
	return nil
}

// appCertificate returns the application instance certificate: the
// configured one, or one generated on first start into dir (self-signed
// RSA 2048 with the application URI in its subjectAltName) and reused
// afterwards. A stored certificate whose URI differs from uri is replaced.
// Without a directory the certificate lives in memory only.
func appCertificate(dir, uri string) ([]byte, *rsa.PrivateKey, error) {
	if dir == "" {
		return newAppCertificate(uri)
	}
	certPath, keyPath := filepath.Join(dir, appCertFile), filepath.Join(dir, appKeyFile)
	if der, err := os.ReadFile(certPath); err == nil {
		if key, err := loadKeyFile(keyPath); err == nil && checkKeyPair(der, key) == nil {
			if c, err := x509.ParseCertificate(der); err == nil && len(c.URIs) > 0 && c.URIs[0].String() == uri &&
				time.Now().Before(c.NotAfter) {
				return der, key, nil
			}
		}
	}
	der, key, err := newAppCertificate(uri)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return nil, nil, err
	}
	if err := atomicfile.Write(certPath, der, 0o644); err != nil {
		return nil, nil, err
	}
	return der, key, nil
}

func newAppCertificate(uri string) ([]byte, *rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, nil, fmt.Errorf("application uri %q: %v", uri, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	now := time.Now()
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "tbgw OPC-UA client", Organization: []string{"tbgw"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment |
			x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{u},
		DNSNames:              []string{host},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return der, key, nil
}

// verifyServerCert checks the endpoint's certificate against the configured
// caCert: the same certificate, or one issued by it.
func verifyServerCert(server []byte, trusted [][]byte) error {
	if len(trusted) == 0 {
		return nil
	}
	for _, t := range trusted {
		if bytes.Equal(t, server) {
			return nil
		}
	}
	c, err := x509.ParseCertificate(server)
	if err != nil {
		return fmt.Errorf("server certificate: %v", err)
	}
	pool := x509.NewCertPool()
	for _, t := range trusted {
		tc, err := x509.ParseCertificate(t)
		if err != nil {
			return err
		}
		pool.AddCert(tc)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("server certificate not trusted by caCert: %v", err)
	}
	return nil
}

// clientOptions picks the endpoint matching the configured policy and mode
// and returns the options of a client for it. stateCh receives gopcua's
// connection state changes.
func (c *Connector) clientOptions(ctx context.Context, stateCh chan<- opcua.ConnState) ([]opcua.Option, error) {
	s := c.cfg
	gctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	eps, err := opcua.GetEndpoints(gctx, s.url, opcua.DialTimeout(s.timeout), opcua.RequestTimeout(s.timeout))
	if err != nil {
		return nil, fmt.Errorf("get endpoints: %w", err)
	}
	mode := ua.MessageSecurityModeFromString(s.mode)
	ep, err := opcua.SelectEndpoint(eps, s.policy, mode)
	if err != nil {
		var have []string
		for _, e := range eps {
			have = append(have, fmt.Sprintf("%s/%s", shortPolicy(e.SecurityPolicyURI), e.SecurityMode))
		}
		return nil, fmt.Errorf("server offers no endpoint with policy %s and mode %s (it has %v)", s.policy, s.mode, have)
	}
	if s.mode != "None" {
		if err := verifyServerCert(ep.ServerCertificate, s.caDER); err != nil {
			return nil, err
		}
	}

	opts := []opcua.Option{
		opcua.AutoReconnect(false),
		opcua.DialTimeout(s.timeout),
		opcua.RequestTimeout(s.timeout),
		opcua.SessionTimeout(s.sessionTimeout),
		opcua.ApplicationName("tbgw"),
		opcua.ProductURI("urn:tbgw"),
		opcua.SessionName("tbgw " + c.env.Name),
		opcua.StateChangedCh(stateCh),
	}
	uri := s.appURI
	if uri == "" {
		uri = defaultAppURI
	}
	opts = append(opts, opcua.ApplicationURI(uri))
	if s.mode != "None" {
		der, key := s.certDER, s.key
		if der == nil {
			if der, key, err = c.generatedCert(uri); err != nil {
				return nil, fmt.Errorf("application certificate: %w", err)
			}
		}
		opts = append(opts, opcua.Certificate(der), opcua.PrivateKey(key))
	}
	tokenType := ua.UserTokenTypeAnonymous
	switch s.identity {
	case "username":
		tokenType = ua.UserTokenTypeUserName
		opts = append(opts, opcua.AuthUsername(s.username, s.password))
	default:
		opts = append(opts, opcua.AuthAnonymous())
	}
	opts = append(opts, opcua.SecurityFromEndpoint(ep, tokenType))
	return opts, nil
}

const defaultAppURI = "urn:tbgw:opcua:client"

// generatedCert loads or generates the application certificate once per
// connector.
func (c *Connector) generatedCert(uri string) ([]byte, *rsa.PrivateKey, error) {
	c.certMu.Lock()
	defer c.certMu.Unlock()
	if c.appDER == nil {
		der, key, err := appCertificate(c.env.DataDir, uri)
		if err != nil {
			return nil, nil, err
		}
		c.appDER, c.appKey = der, key
	}
	return c.appDER, c.appKey, nil
}

func shortPolicy(uri string) string {
	if len(uri) > len(policyURIPrefix) && uri[:len(policyURIPrefix)] == policyURIPrefix {
		return uri[len(policyURIPrefix):]
	}
	return uri
}

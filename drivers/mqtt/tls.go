package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tlsConfig builds the TLS settings of broker.security: nil for plain
// TCP. Type "certificates" (or a caCert key, as upstream) turns TLS on.
// Without a CA the broker's certificate is not verified (upstream does the
// same); with "insecure" the chain is verified but not the host name.
func tlsConfig(s *securityConf, host, dir string) (*tls.Config, error) {
	if !strings.EqualFold(s.Type, "certificates") && s.CACert == "" {
		return nil, nil
	}
	path := func(p string) string {
		if p == "" || filepath.IsAbs(p) || dir == "" {
			return p
		}
		return filepath.Join(dir, p)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	ca := s.PathToCACert
	if ca == "" {
		ca = s.CACert
	}
	if ca == "" {
		tc.InsecureSkipVerify = true
	} else {
		pem, err := os.ReadFile(path(ca))
		if err != nil {
			return nil, fmt.Errorf("CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA certificate %s: no PEM certificate found", ca)
		}
		tc.RootCAs = pool
		if s.Insecure {
			// Verify the chain, skip the name check.
			tc.InsecureSkipVerify = true
			tc.VerifyConnection = func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("broker sent no certificate")
				}
				opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
				for _, c := range cs.PeerCertificates[1:] {
					opts.Intermediates.AddCert(c)
				}
				_, err := cs.PeerCertificates[0].Verify(opts)
				return err
			}
		}
	}
	if s.PathToClientCert != "" || s.PathToPrivateKey != "" {
		if s.PathToClientCert == "" || s.PathToPrivateKey == "" {
			return nil, errors.New("pathToClientCert and pathToPrivateKey go together")
		}
		cert, err := tls.LoadX509KeyPair(path(s.PathToClientCert), path(s.PathToPrivateKey))
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

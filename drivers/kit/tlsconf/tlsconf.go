// Package tlsconf builds crypto/tls configurations from the certificate
// keys upstream's configuration files use (a CA file, a client or server
// certificate and key, an optional key password), for the ThingsBoard
// link, client connectors and server connectors alike.
//
// The rule is that TLS is verified: without a CA file the system roots
// are used; only Insecure turns verification off, and only
// SkipHostname keeps the chain check while ignoring the host name. Every
// value may be a file name (relative to Dir) or inline PEM text. Server
// connectors that must serve TLS without a configured certificate get a
// self-signed one from SelfSigned, generated once and kept private.
//
// Non-goals: certificate rotation and revocation checks.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Options are the certificate settings of one TLS endpoint.
type Options struct {
	CAFile      string // CA bundle (file or inline PEM); empty: system roots
	CertFile    string // certificate (file or inline PEM)
	KeyFile     string // its key; empty: the key is in CertFile
	KeyPassword string // decrypts a legacy encrypted PEM key
	ServerName  string // host name checked against the peer's certificate
	// Insecure turns off all verification of the peer (the user asked).
	Insecure bool
	// SkipHostname verifies the chain against the roots but not the name.
	SkipHostname bool
	// ClientAuth, for servers: require and verify client certificates
	// against CAFile.
	ClientAuth bool
	Dir        string // relative file names are resolved against it
	// Labels name the three settings in errors, as the user's file names
	// them (default "CA certificate", "certificate", "private key").
	Labels struct{ CA, Cert, Key string }
}

func (o Options) label(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Client returns a client configuration, with every file read now so that
// a bad file is reported at configuration time.
func (o Options) Client() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	if o.CAFile != "" {
		pool, err := o.pool()
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if o.CertFile != "" || o.KeyFile != "" {
		cert, err := o.keyPair()
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	switch {
	case o.Insecure:
		tc.InsecureSkipVerify = true //nolint:gosec // configured by the user
	case o.SkipHostname:
		roots := tc.RootCAs
		tc.InsecureSkipVerify = true //nolint:gosec // the chain is verified below
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("peer sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return tc, nil
}

// Server returns a server configuration; CertFile is required.
func (o Options) Server() (*tls.Config, error) {
	if o.CertFile == "" {
		return nil, errors.New("a server certificate is required")
	}
	cert, err := o.keyPair()
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if o.ClientAuth {
		if o.CAFile == "" {
			return nil, errors.New("verifying client certificates needs a CA file")
		}
		pool, err := o.pool()
		if err != nil {
			return nil, err
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Read returns the content of a file-or-PEM value.
func (o Options) Read(v string) ([]byte, error) {
	if strings.Contains(v, "-----BEGIN") {
		return []byte(v), nil
	}
	b, err := os.ReadFile(o.Path(v))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Path resolves a relative file name against Dir.
func (o Options) Path(name string) string {
	if name == "" || filepath.IsAbs(name) || o.Dir == "" {
		return name
	}
	return filepath.Join(o.Dir, name)
}

// Name shortens a file-or-PEM value for error messages.
func Name(v string) string {
	if strings.Contains(v, "-----BEGIN") {
		return "(inline PEM)"
	}
	return v
}

func (o Options) pool() (*x509.CertPool, error) {
	b, err := o.Read(o.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.label(o.Labels.CA, "CA certificate"), err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s %s: no PEM certificate found", o.label(o.Labels.CA, "CA certificate"), Name(o.CAFile))
	}
	return pool, nil
}

func (o Options) keyPair() (tls.Certificate, error) {
	if o.CertFile == "" {
		return tls.Certificate{}, errors.New("a private key needs its certificate")
	}
	certPEM, err := o.Read(o.CertFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", o.label(o.Labels.Cert, "certificate"), err)
	}
	keyPEM := certPEM
	if o.KeyFile != "" {
		if keyPEM, err = o.Read(o.KeyFile); err != nil {
			return tls.Certificate{}, fmt.Errorf("%s: %w", o.label(o.Labels.Key, "private key"), err)
		}
	}
	if o.KeyPassword != "" {
		if keyPEM, err = decrypt(keyPEM, o.KeyPassword); err != nil {
			return tls.Certificate{}, err
		}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s/%s %s: %w", o.label(o.Labels.Cert, "certificate"), o.label(o.Labels.Key, "key"), Name(o.CertFile), err)
	}
	return cert, nil
}

// decrypt replaces a legacy encrypted PEM key (RFC 1423) with its plain
// form; other blocks are returned unchanged.
func decrypt(keyPEM []byte, password string) ([]byte, error) {
	rest := keyPEM
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return keyPEM, nil
		}
		//lint:ignore SA1019 legacy encrypted keys are what upstream's password option is for
		if x509.IsEncryptedPEMBlock(blk) { //nolint:staticcheck
			der, err := x509.DecryptPEMBlock(blk, []byte(password)) //nolint:staticcheck
			if err != nil {
				return nil, fmt.Errorf("decrypt key: %w", err)
			}
			return pem.EncodeToMemory(&pem.Block{Type: blk.Type, Bytes: der}), nil
		}
	}
}

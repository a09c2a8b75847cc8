package gw

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tbgw/tbgw/drivers/kit/atomicfile"
	"github.com/tbgw/tbgw/gw/tb"
)

// selfSignedPEM makes an EC P-256 key and a self-signed certificate for
// it, valid from a day ago for days days: subject CN cn, or subject when
// given (a renewed certificate keeps the old one's subject).
func selfSignedPEM(cn string, subject *pkix.Name, days int) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	name := pkix.Name{CommonName: cn}
	if subject != nil {
		name = *subject
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      name,
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.Add(time.Duration(days) * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// Client certificate renewal (tb-gateway's checkCertPeriod /
// certificateDaysLeft): every checkCertPeriod seconds (default 86400) the
// gateway checks its client certificate; when it expires within
// certificateDaysLeft days (default 3) a new key and self-signed
// certificate with the old subject are made (kept in the data directory)
// and the certificate's PEM is sent as client attribute newCertificate, as
// upstream does, for ThingsBoard's device credentials to be updated. Unlike
// upstream, which overwrites the working certificate at once, the gateway
// keeps connecting with the old one and tries the new one on each check
// with a separate session; once ThingsBoard accepts it, it replaces the
// configured files and the gateway restarts onto it. A CA certificate
// (caCert) expiring as soon is reported as CACertificate.

const (
	certDefaultPeriod = 86400 * time.Second
	certDefaultDays   = 3
	renewCertFile     = "renew-cert.pem"
	renewKeyFile      = "renew-key.pem"
)

func (g *Gateway) certPath(p string) string {
	if p == "" || strings.Contains(p, "-----BEGIN") || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(g.cfg.Dir, p)
}

// readCert parses the first certificate of a PEM file (or PEM text).
func readCert(p string) (*x509.Certificate, error) {
	var b []byte
	if strings.Contains(p, "-----BEGIN") {
		b = []byte(p)
	} else {
		var err error
		if b, err = os.ReadFile(p); err != nil {
			return nil, err
		}
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM certificate", p)
	}
	return x509.ParseCertificate(blk.Bytes)
}

// certWatch runs the renewal checks while the gateway runs.
func (g *Gateway) certWatch(ctx context.Context) {
	sec := g.cfg.ThingsBoard.Security
	period := certDefaultPeriod
	if sec.CheckCertPeriod > 0 {
		period = time.Duration(sec.CheckCertPeriod) * time.Second
	}
	days := certDefaultDays
	if sec.CertificateDaysLeft > 0 {
		days = sec.CertificateDaysLeft
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.connectedCh():
		}
		if g.certCheck(ctx, time.Duration(days)*24*time.Hour) {
			return
		}
		t := time.NewTimer(period)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// certCheck does one check; true when the gateway restarts onto a renewed
// certificate.
func (g *Gateway) certCheck(ctx context.Context, within time.Duration) bool {
	sec := g.cfg.ThingsBoard.Security
	now := g.now()
	if ca := g.certPath(sec.CACert); ca != "" {
		if c, err := readCert(ca); err != nil {
			g.log.Warn("certificate check: caCert", "err", err)
		} else if c.NotAfter.Sub(now) <= within {
			g.log.Warn("CA certificate expires soon", "caCert", sec.CACert, "notAfter", c.NotAfter)
			g.publishControl(ctx, TopicOwnAttributes, map[string]any{"CACertificate": "CA certificate will outdated soon"})
		}
	}
	certFile, keyFile := g.certPath(sec.Cert), g.certPath(sec.PrivateKey)
	if certFile == "" || keyFile == "" {
		return false
	}
	newCert := filepath.Join(g.opts.DataDir, renewCertFile)
	newKey := filepath.Join(g.opts.DataDir, renewKeyFile)
	pemCert, err := os.ReadFile(newCert)
	if err == nil {
		if _, kerr := os.Stat(newKey); kerr == nil {
			return g.tryRenewed(ctx, pemCert, newCert, newKey, certFile, keyFile)
		}
	}
	cur, err := readCert(certFile)
	if err != nil {
		g.log.Warn("certificate check: cert", "err", err)
		return false
	}
	if cur.NotAfter.Sub(now) > within {
		return false
	}
	g.log.Warn("client certificate expires soon: making a new one; ThingsBoard must accept it (newCertificate attribute)",
		"cert", sec.Cert, "notAfter", cur.NotAfter)
	certPEM, keyPEM, err := selfSignedPEM("", &cur.Subject, 365)
	if err != nil {
		g.log.Error("certificate renewal", "err", err)
		return false
	}
	if err := atomicfile.Write(newKey, keyPEM, 0o600); err != nil {
		g.log.Error("certificate renewal", "err", err)
		return false
	}
	if err := atomicfile.Write(newCert, certPEM, 0o600); err != nil {
		g.log.Error("certificate renewal", "err", err)
		return false
	}
	g.publishControl(ctx, TopicOwnAttributes, map[string]any{"newCertificate": string(certPEM)})
	return false
}

// tryRenewed connects once with the renewed certificate; when ThingsBoard
// accepts it, it replaces the configured files and restarts the gateway.
func (g *Gateway) tryRenewed(ctx context.Context, pemCert []byte, newCert, newKey, certFile, keyFile string) bool {
	tc := TBConfig(g.cfg)
	tc.Security.Cert, tc.Security.PrivateKey = newCert, newKey
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := tb.Probe(pctx, tc, nil); err != nil {
		g.log.Info("renewed client certificate not accepted by ThingsBoard yet; still using the current one", "err", err)
		g.publishControl(ctx, TopicOwnAttributes, map[string]any{"newCertificate": string(pemCert)})
		return false
	}
	keyPEM, err := os.ReadFile(newKey)
	if err != nil {
		g.log.Error("certificate renewal", "err", err)
		return false
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(certFile); err == nil {
		mode = fi.Mode().Perm()
	}
	// Key first: a crash between the two leaves the old certificate with
	// a key it does not match only if the certificate write fails, which
	// the next start reports; the renewed pair stays in the data directory.
	if err := atomicfile.Write(keyFile, keyPEM, 0o600); err != nil {
		g.log.Error("certificate renewal: replacing the key", "file", keyFile, "err", err)
		return false
	}
	if err := atomicfile.Write(certFile, pemCert, mode); err != nil {
		g.log.Error("certificate renewal: replacing the certificate", "file", certFile, "err", err)
		return false
	}
	os.Remove(newCert)
	os.Remove(newKey)
	g.log.Info("renewed client certificate accepted by ThingsBoard and installed; restarting onto it", "cert", certFile)
	g.requestRestart()
	return true
}

package gw

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// TestCertificateRenewal: with a self-made CA whose certificates expire in
// a day, the gateway sends newCertificate and CACertificate, keeps using
// the working certificate while ThingsBoard does not accept the new one,
// and installs the new one (restarting onto it) once ThingsBoard does.
func TestCertificateRenewal(t *testing.T) {
	pki := tbtest.NewPKI(t, "renewing gateway")
	oldCert, _ := os.ReadFile(pki.Path(pki.ClientCertFile))
	oldKey, _ := os.ReadFile(pki.Path(pki.ClientKeyFile))
	blk, _ := pem.Decode(oldCert)
	var allowed atomic.Pointer[[]byte]
	allowed.Store(&blk.Bytes)
	var accepted atomic.Int64
	tc := pki.ServerTLS(false)
	tc.ClientAuth = tls.RequestClientCert // ThingsBoard identifies the device by its certificate
	b := tbtest.StartBroker(t, tbtest.WithTLS(tc), tbtest.WithAuth(func(ci tbtest.ConnInfo) bool {
		ok := len(ci.PeerCertificates) > 0 && bytes.Equal(ci.PeerCertificates[0].Raw, *allowed.Load())
		if ok {
			accepted.Add(1)
		}
		return ok
	}))
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)

	dir, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(dir, "cert.pem"), oldCert, 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), oldKey, 0o600)
	writeMain(t, dir, map[string]any{"host": "localhost", "port": b.TLSPort, "security": map[string]any{
		"type": "x509Certificate", "cert": "cert.pem", "privateKey": "key.pem", "caCert": pki.Path(pki.CAFile),
		"checkCertPeriod": 1, "certificateDaysLeft": 3}})
	cfg, err := config.Load(dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(logWriter{t}, nil))
	g, err := New(cfg, Options{Version: "1.0", Log: log, NewLink: NewTBLink(log), DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()

	newPEM := tb.WaitAttribute(tbtest.Self, "newCertificate", nil, 20*time.Second).(string)
	tb.WaitAttribute(tbtest.Self, "CACertificate", func(v any) bool { return v == "CA certificate will outdated soon" }, 20*time.Second)
	nb, _ := pem.Decode([]byte(newPEM))
	if nb == nil || bytes.Equal(nb.Bytes, blk.Bytes) {
		t.Fatal("newCertificate is not a new certificate")
	}
	// Not accepted yet: at least two more checks, the working pair stays.
	n := tb.Count("v1/devices/me/attributes")
	tb.Wait(20*time.Second, "further checks", func() bool { return tb.Count("v1/devices/me/attributes") >= n+4 })
	if got, _ := os.ReadFile(filepath.Join(dir, "cert.pem")); !bytes.Equal(got, oldCert) {
		t.Fatal("working certificate replaced before the new one was accepted")
	}
	select {
	case err := <-done:
		t.Fatalf("gateway stopped: %v", err)
	default:
	}

	// ThingsBoard's device credentials now name the new certificate.
	allowed.Store(&nb.Bytes)
	select {
	case err := <-done:
		if !errors.Is(err, ErrRestart) {
			t.Fatalf("Run: %v, want a restart onto the new certificate", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("renewed certificate not installed")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "cert.pem")); string(got) != newPEM {
		t.Fatal("cert.pem is not the renewed certificate")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "key.pem")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key.pem mode %v", fi.Mode())
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")); err != nil {
		t.Fatalf("renewed pair: %v", err)
	}
	for _, f := range []string{renewCertFile, renewKeyFile} {
		if _, err := os.Stat(filepath.Join(data, f)); !os.IsNotExist(err) {
			t.Fatalf("%s left: %v", f, err)
		}
	}
}

package ftp

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// ftpPeer is a pyftpdlib server (testdata/ftpserver.py) serving root.
type ftpPeer struct {
	root      string
	port      int
	cert, key string
	cmd       *exec.Cmd
}

func havePyftpdlib() bool {
	return exec.Command("/usr/bin/python3", "-c", "import pyftpdlib, OpenSSL").Run() == nil
}

// startFTP starts the server on port (0: a free one); with tlsDir it
// requires explicit TLS with a certificate made for 127.0.0.1.
func startFTP(t *testing.T, root string, port int, tlsDir string) *ftpPeer {
	t.Helper()
	drivertest.RequirePeer(t, havePyftpdlib(), "pyftpdlib (scripts/peers/ftp.sh)")
	p := &ftpPeer{root: root}
	args := []string{"testdata/ftpserver.py", root, strconv.Itoa(port)}
	if tlsDir != "" {
		p.cert, p.key = selfSigned(t, tlsDir)
		args = append(args, p.cert, p.key)
	}
	p.start(t, args)
	return p
}

func (p *ftpPeer) start(t *testing.T, args []string) {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testLog{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd = cmd
	t.Cleanup(p.stop)
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
	}()
	select {
	case l := <-line:
		n, err := strconv.Atoi(strings.TrimPrefix(l, "PORT "))
		if err != nil {
			t.Fatalf("ftp server said %q", l)
		}
		p.port = n
	case <-time.After(20 * time.Second):
		t.Fatal("ftp server did not start")
	}
}

func (p *ftpPeer) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		p.cmd = nil
	}
}

// restart stops the server and starts it again on the same port.
func (p *ftpPeer) restart(t *testing.T) {
	p.stop()
	args := []string{"testdata/ftpserver.py", p.root, strconv.Itoa(p.port)}
	if p.cert != "" {
		args = append(args, p.cert, p.key)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The port may linger briefly after the kill.
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)))
		if err == nil {
			l.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %d stays busy: %v", p.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.start(t, args)
}

type testLog struct{ t *testing.T }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tbgw test ftp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

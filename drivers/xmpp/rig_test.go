package xmpp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// server is a prosody started for one test with its own configuration,
// accounts and certificate in a temporary directory.
type server struct {
	t        *testing.T
	dir      string
	port     int // c2s (STARTTLS when tls)
	tlsPort  int // direct TLS
	tls      bool
	caFile   string
	proc     *drivertest.Process
	uid, gid int
}

const (
	gatewayPassword = "password" // upstream's sample
	devicePassword  = "secret1"
)

func startServer(t *testing.T, withTLS bool) *server {
	t.Helper()
	_, e1 := exec.LookPath("prosody")
	_, e2 := exec.LookPath("prosodyctl")
	_, e3 := os.Stat("/usr/bin/python3")
	u, e4 := user.Lookup("prosody")
	drivertest.RequirePeer(t, e1 == nil && e2 == nil && e3 == nil && e4 == nil && os.Geteuid() == 0,
		"prosody and python3-slixmpp, run as root (scripts/peers/xmpp.sh)")
	dir, err := os.MkdirTemp("", "tbgw-prosody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755)
	s := &server{t: t, dir: dir, tls: withTLS, port: drivertest.FreePort(t), tlsPort: drivertest.FreePort(t)}
	s.uid, _ = strconv.Atoi(u.Uid)
	s.gid, _ = strconv.Atoi(u.Gid)
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	ssl := ""
	mods := `"roster"; "saslauth"; "disco"; "ping"; "posix";`
	disabled := `"s2s"; "tls";`
	if withTLS {
		cert, key := s.certificate()
		ssl = fmt.Sprintf("ssl = { certificate = %q; key = %q }\n", cert, key)
		mods += ` "tls";`
		disabled = `"s2s";`
	}
	cfg := fmt.Sprintf(`pidfile = %q; data_path = %q
log = { { levels = { min = "info" }, to = "console" } }
interfaces = { "127.0.0.1" }; c2s_ports = { %d }; c2s_direct_tls_ports = { %d }
s2s_ports = { }; http_ports = { }; https_ports = { }
c2s_require_encryption = false; allow_unencrypted_plain_auth = true; authentication = "internal_plain"
modules_enabled = { %s }
modules_disabled = { %s }
%s
VirtualHost "localhost"
%s
`, filepath.Join(data, "prosody.pid"), data, s.port, s.tlsPort, mods, disabled, ssl, ssl)
	if !withTLS {
		cfg = strings.Replace(cfg, fmt.Sprintf("c2s_direct_tls_ports = { %d }", s.tlsPort), "", 1)
	}
	if err := os.WriteFile(filepath.Join(dir, "prosody.cfg.lua"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s.chown(data)
	for _, acct := range [][2]string{{"gateway", gatewayPassword}, {"device", devicePassword}} {
		cmd := exec.Command("runuser", "-u", "prosody", "--", "prosodyctl", "--config", s.cfgFile(), "register", acct[0], "localhost", acct[1])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("prosodyctl register %s: %v: %s", acct[0], err, out)
		}
	}
	s.start()
	return s
}

func (s *server) cfgFile() string { return filepath.Join(s.dir, "prosody.cfg.lua") }

func (s *server) chown(p string) {
	_ = filepath.Walk(p, func(path string, _ os.FileInfo, _ error) error {
		return os.Lchown(path, s.uid, s.gid)
	})
}

func (s *server) start() {
	s.proc = drivertest.StartProcess(s.t, nil, "runuser", "-u", "prosody", "--", "prosody", "--config", s.cfgFile(), "-F")
	drivertest.WaitTCP(s.t, fmt.Sprintf("127.0.0.1:%d", s.port), 20*time.Second)
}

func (s *server) stop() { s.proc.Kill() }

// certificate writes a self-signed certificate for localhost, readable
// by prosody; the test's clients trust it through caFile.
func (s *server) certificate() (cert, key string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		s.t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	cert, key = filepath.Join(s.dir, "localhost.crt"), filepath.Join(s.dir, "localhost.key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		s.t.Fatal(err)
	}
	_ = os.Chown(key, s.uid, s.gid)
	s.caFile = cert
	return cert, key
}

// config is upstream's sample pointed at this server.
func (s *server) config(t *testing.T, edit func(srv map[string]any)) []byte {
	b, err := os.ReadFile("testdata/xmpp.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	srv := m["server"].(map[string]any)
	srv["host"], srv["port"] = "127.0.0.1", s.port
	if s.caFile != "" {
		srv["caCert"] = s.caFile
		srv["insecure"] = false
	}
	// The sample's server name is localhost; the certificate says so.
	if edit != nil {
		edit(srv)
	}
	out, _ := json.Marshal(m)
	return out
}

// peerDevice is slixmpp logged in as device@localhost/TMP_1101.
type peerDevice struct {
	t *testing.T
	p *drivertest.Process
}

func (s *server) device(t *testing.T) *peerDevice {
	mode := "plain"
	if s.tls {
		mode = "tls"
	}
	script, _ := filepath.Abs("testdata/device.py")
	p := drivertest.StartProcess(t, nil, "/usr/bin/python3", script, "device@localhost/TMP_1101", devicePassword, strconv.Itoa(s.port), mode)
	p.Line(30*time.Second, func(l string) bool { return strings.Contains(l, `"ready"`) })
	return &peerDevice{t: t, p: p}
}

func (d *peerDevice) send(body string) {
	b, _ := json.Marshal(map[string]string{"to": "gateway@localhost", "body": body})
	d.p.Send(string(b))
}

// received waits for a message whose body contains want.
func (d *peerDevice) received(want string) map[string]any {
	d.t.Helper()
	var m map[string]any
	d.p.Line(20*time.Second, func(l string) bool {
		if json.Unmarshal([]byte(l), &m) != nil {
			return false
		}
		b, _ := m["body"].(string)
		return m["from"] != nil && strings.Contains(b, want)
	})
	return m
}

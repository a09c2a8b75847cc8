package tb_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/tb"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// connectAndSend runs c until connected and checks one acknowledged
// publish reaches the stand-in.
func connectAndSend(t *testing.T, c *tb.Client, thingsboard *tbtest.ThingsBoard) {
	t.Helper()
	run(t, c)
	eventually(t, 15*time.Second, "connected", c.Connected)
	if err := publishWait(t, c, tb.TopicTelemetry, `{"probe":42}`); err != nil {
		t.Fatal(err)
	}
	if thingsboard != nil {
		thingsboard.WaitTelemetry(tbtest.Self, "probe", nil, 5*time.Second)
	}
}

// neverConnects checks that c keeps failing to connect (at least three
// attempts) without ever reporting a session.
func neverConnects(t *testing.T, c *tb.Client) {
	t.Helper()
	var connected atomic.Bool
	run(t, c)
	eventually(t, 15*time.Second, "three failed attempts", func() bool {
		if c.Connected() {
			connected.Store(true)
		}
		return c.Stats().ConnectFailures >= 3
	})
	if connected.Load() || c.Stats().Connects != 0 {
		t.Fatal("connected although it must not")
	}
}

func TestUsernamePassword(t *testing.T) {
	b := tbtest.StartBroker(t, tbtest.WithAuth(func(ci tbtest.ConnInfo) bool {
		return ci.Username == "gw" && ci.Password == "secret" && ci.ClientID == "gw-client"
	}))
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	cfg := fastCfg(b.Host, b.Port)
	cfg.Security = tb.Security{Type: tb.SecUsernamePassword, Username: "gw", Password: "secret", ClientID: "gw-client"}
	connectAndSend(t, mustNew(t, cfg, tb.Handler{}), thingsboard)

	cfg.Security.Password = "wrong"
	neverConnects(t, mustNew(t, cfg, tb.Handler{}))
}

func TestTLSAccessTokenVerifiesCA(t *testing.T) {
	pki := tbtest.NewPKI(t, "")
	b := tbtest.StartBroker(t, tbtest.WithTLS(pki.ServerTLS(false)), tbtest.WithAuth(func(ci tbtest.ConnInfo) bool {
		return ci.TLS && ci.Username == "tok"
	}))
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	cfg := fastCfg(b.Host, b.TLSPort)
	cfg.ConfigDir = pki.Dir
	cfg.Security = tb.Security{Type: tb.SecTLSAccessToken, AccessToken: "tok", CACert: pki.CAFile}
	c := mustNew(t, cfg, tb.Handler{})
	if !c.TLS() {
		t.Fatal("TLS not enabled")
	}
	connectAndSend(t, c, thingsboard)
}

func TestTLSWrongCARefused(t *testing.T) {
	pki, other := tbtest.NewPKI(t, ""), tbtest.NewPKI(t, "")
	b := tbtest.StartBroker(t, tbtest.WithTLS(pki.ServerTLS(false)))
	cfg := fastCfg(b.Host, b.TLSPort)
	cfg.Security = tb.Security{AccessToken: "tok", CACert: other.Path(other.CAFile)}
	neverConnects(t, mustNew(t, cfg, tb.Handler{}))
}

func TestTLSWithoutCAUsesSystemRoots(t *testing.T) {
	pki := tbtest.NewPKI(t, "")
	b := tbtest.StartBroker(t, tbtest.WithTLS(pki.ServerTLS(false)))
	cfg := fastCfg(b.Host, b.TLSPort)
	cfg.Security = tb.Security{AccessToken: "tok", TLS: true}
	neverConnects(t, mustNew(t, cfg, tb.Handler{}))
}

func TestTLSInsecureSkipsVerification(t *testing.T) {
	pki := tbtest.NewPKI(t, "")
	b := tbtest.StartBroker(t, tbtest.WithTLS(pki.ServerTLS(false)))
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	cfg := fastCfg(b.Host, b.TLSPort)
	cfg.Security = tb.Security{AccessToken: "tok", TLS: true, Insecure: true}
	connectAndSend(t, mustNew(t, cfg, tb.Handler{}), thingsboard)
}

// A TLS configuration against a plain listener must fail, never fall back
// to plain text.
func TestTLSNoPlainFallback(t *testing.T) {
	pki := tbtest.NewPKI(t, "")
	b := tbtest.StartBroker(t)
	cfg := fastCfg(b.Host, b.Port)
	cfg.ConfigDir = pki.Dir
	cfg.Security = tb.Security{AccessToken: "tok", CACert: pki.CAFile}
	neverConnects(t, mustNew(t, cfg, tb.Handler{}))
	if n := b.Published(); n != 0 {
		t.Fatalf("%d publishes reached the plain listener", n)
	}
}

func TestInlineCACert(t *testing.T) {
	pki := tbtest.NewPKI(t, "")
	pem, err := os.ReadFile(pki.Path(pki.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	b := tbtest.StartBroker(t, tbtest.WithTLS(pki.ServerTLS(false)))
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	cfg := fastCfg(b.Host, b.TLSPort)
	cfg.Security = tb.Security{Type: tb.SecTLSAccessToken, AccessToken: "tok", CACert: string(pem)}
	connectAndSend(t, mustNew(t, cfg, tb.Handler{}), thingsboard)
}

func TestX509ClientCertificate(t *testing.T) {
	pki := tbtest.NewPKI(t, "gateway-42")
	var cn atomic.Value
	b := tbtest.StartBroker(t, tbtest.WithTLS(pki.ServerTLS(true)), tbtest.WithAuth(func(ci tbtest.ConnInfo) bool {
		if len(ci.PeerCertificates) == 0 {
			return false
		}
		cn.Store(ci.PeerCertificates[0].Subject.CommonName)
		return ci.Username == ""
	}))
	thingsboard := tbtest.NewThingsBoard(t, b.Host, b.Port)
	cfg := fastCfg(b.Host, b.TLSPort)
	cfg.ConfigDir = pki.Dir
	cfg.Security = tb.Security{Type: "x509Certificate", CACert: pki.CAFile, Cert: pki.ClientCertFile,
		PrivateKey: pki.ClientKeyFile}
	connectAndSend(t, mustNew(t, cfg, tb.Handler{}), thingsboard)
	if got := cn.Load(); got != "gateway-42" {
		t.Fatalf("client certificate CN %v", got)
	}

	// Without a client certificate the broker refuses the handshake.
	cfg.Security = tb.Security{AccessToken: "tok", CACert: pki.CAFile}
	neverConnects(t, mustNew(t, cfg, tb.Handler{}))
}

func TestMosquittoSecurity(t *testing.T) {
	pki := tbtest.NewPKI(t, "gw-cert")
	m := tbtest.StartMosquitto(t, tbtest.MosquittoTLS(pki, true),
		tbtest.MosquittoUsers(map[string]string{"gw": "pw"}))
	thingsboard := tbtest.NewThingsBoard(t, m.Host, m.Port)

	t.Run("token", func(t *testing.T) {
		connectAndSend(t, mustNew(t, fastCfg(m.Host, m.Port), tb.Handler{}), thingsboard)
	})
	t.Run("usernamePassword", func(t *testing.T) {
		cfg := fastCfg(m.Host, m.AuthPort)
		cfg.Security = tb.Security{Type: tb.SecUsernamePassword, Username: "gw", Password: "pw", ClientID: "gw1"}
		connectAndSend(t, mustNew(t, cfg, tb.Handler{}), nil)
	})
	t.Run("usernamePasswordWrong", func(t *testing.T) {
		cfg := fastCfg(m.Host, m.AuthPort)
		cfg.Security = tb.Security{Type: tb.SecUsernamePassword, Username: "gw", Password: "nope"}
		neverConnects(t, mustNew(t, cfg, tb.Handler{}))
	})
	t.Run("x509", func(t *testing.T) {
		cfg := fastCfg(m.Host, m.TLSPort)
		cfg.ConfigDir = pki.Dir
		cfg.Security = tb.Security{Type: "x509Certificate", CACert: pki.CAFile, Cert: pki.ClientCertFile,
			PrivateKey: pki.ClientKeyFile}
		connectAndSend(t, mustNew(t, cfg, tb.Handler{}), nil)
	})
	t.Run("tlsWithoutClientCert", func(t *testing.T) {
		cfg := fastCfg(m.Host, m.TLSPort)
		cfg.ConfigDir = pki.Dir
		cfg.Security = tb.Security{Type: tb.SecTLSAccessToken, AccessToken: "tok", CACert: pki.CAFile}
		neverConnects(t, mustNew(t, cfg, tb.Handler{}))
	})
}

func TestNewValidates(t *testing.T) {
	pki := tbtest.NewPKI(t, "")
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := tb.Security{AccessToken: "t"}
	cases := []struct {
		name string
		cfg  tb.Config
		want string
	}{
		{"no host", tb.Config{Security: ok}, "host is empty"},
		{"bad port", tb.Config{Host: "h", Port: 70000, Security: ok}, "port 70000"},
		{"qos 2", tb.Config{Host: "h", QoS: 2, Security: ok}, "qos 2"},
		{"no credentials", tb.Config{Host: "h"}, "no accessToken"},
		{"token type without token", tb.Config{Host: "h", Security: tb.Security{Type: tb.SecAccessToken}}, "needs accessToken"},
		{"x509 without key", tb.Config{Host: "h", Security: tb.Security{Type: "x509Certificate", Cert: "c.pem"}}, "needs cert and privateKey"},
		{"missing CA file", tb.Config{Host: "h", Security: tb.Security{AccessToken: "t", CACert: "nope.pem"}}, "caCert"},
		{"garbage CA", tb.Config{Host: "h", Security: tb.Security{AccessToken: "t", CACert: garbage}}, "no PEM certificate"},
		{"cert without key", tb.Config{Host: "h", Security: tb.Security{AccessToken: "t", TLS: true, Cert: pki.Path(pki.ClientCertFile)}}, "together"},
		{"mismatched key", tb.Config{Host: "h", Security: tb.Security{Type: "x509", Cert: pki.Path(pki.ClientCertFile), PrivateKey: pki.Path(pki.ServerKeyFile)}}, "cert/privateKey"},
		{"bad rate limit", tb.Config{Host: "h", Security: ok, DeviceRateLimits: "10/1"}, "deviceRateLimits"},
		{"bad proxy port", tb.Config{Host: "h", Security: ok, ProxyHost: "p"}, "proxy_port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tb.New(tc.cfg, nil, tb.Handler{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Relative certificate names resolve against ConfigDir.
	c, err := tb.New(tb.Config{Host: "h", ConfigDir: pki.Dir, Security: tb.Security{Type: "x509Certificate",
		CACert: pki.CAFile, Cert: pki.ClientCertFile, PrivateKey: pki.ClientKeyFile}}, nil, tb.Handler{})
	if err != nil || !c.TLS() {
		t.Fatalf("x509 config: %v", err)
	}
	// Port 8883 implies TLS.
	c, err = tb.New(tb.Config{Host: "h", Port: 8883, Security: ok}, nil, tb.Handler{})
	if err != nil || !c.TLS() {
		t.Fatalf("port 8883: TLS=%v err=%v", c != nil && c.TLS(), err)
	}
	c, err = tb.New(tb.Config{Host: "h", Security: ok}, nil, tb.Handler{})
	if err != nil || c.TLS() {
		t.Fatalf("plain token: err=%v", err)
	}
}

// lockedBuf is a log sink for one test.
type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A system without a CA bundle: verification against the system roots
// fails, and the log says why once instead of only "unknown authority".
func TestTLSNoCABundleSaysSo(t *testing.T) {
	defer tb.SetSystemRootsEmpty(func() bool { return true })()
	pki := tbtest.NewPKI(t, "")
	b := tbtest.StartBroker(t, tbtest.WithTLS(pki.ServerTLS(false)))
	cfg := fastCfg(b.Host, b.TLSPort)
	cfg.Security = tb.Security{Type: tb.SecTLSAccessToken, AccessToken: "tok"}
	var buf lockedBuf
	c, err := tb.New(cfg, slog.New(slog.NewTextHandler(&buf, nil)), tb.Handler{})
	if err != nil {
		t.Fatal(err)
	}
	neverConnects(t, c)
	out := buf.String()
	if n := strings.Count(out, "level=ERROR msg=\"TLS verification failed: this system has no CA certificate bundle"); n != 1 {
		t.Fatalf("%d hint lines in:\n%s", n, out)
	}
}

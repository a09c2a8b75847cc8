package opcua

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

const secureMapping = `"mapping": [{"deviceNodePattern": "Root\\.Objects\\.MyObject", "deviceInfo": {"deviceNameExpression": "${Name}"},
  "attributes_updates": [{"key": "setpoint", "type": "path", "value": "${Setpoint}"}],
  "timeseries": [{"key": "temperature", "type": "path", "value": "${Temperature}"},
                 {"key": "setpoint", "type": "path", "value": "${Setpoint}"}]}]`

// TestSecurityBasic256Sha256 runs the connector over a Basic256Sha256
// SignAndEncrypt channel with certificates on both sides: the server only
// offers that endpoint and trusts the client certificate on first use; the
// client checks the server certificate against caCert.
func TestSecurityBasic256Sha256(t *testing.T) {
	ts := startServer(t, "--secure")
	dir := t.TempDir()
	der, key, err := newAppCertificate("urn:tbgw:test:client")
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, "client.der"), filepath.Join(dir, "client.pem")
	if err := os.WriteFile(certPath, der, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pemKey(key), 0o600); err != nil {
		t.Fatal(err)
	}
	serverCert := filepath.Join(ts.pki, "server", "own", "certs", "certificate.pem")

	cfg := `{"server": {"url": "URL", "timeoutInMillis": 10000, "reconnectBackoffInitialDelay": 0.2, "security": "Basic256Sha256",
  "identity": {"type": "certificates", "cert": "` + certPath + `", "privateKey": "` + keyPath + `", "caCert": "` + serverCert + `", "mode": "SignAndEncrypt"}},
` + secureMapping + `}`
	c, _ := newTestConnector(t, ts, cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 30*time.Second, "data over the encrypted channel", func(data []connector.Data) bool {
		_, ok := drivertest.Latest(data, "Demo Device", "temperature", false)
		return ok
	})
	waitDevice(t, c, "Demo Device")
	if err := c.OnAttributes(context.Background(), "Demo Device", map[string]any{"setpoint": 42.5}); err != nil {
		t.Fatal(err)
	}
	if got := rpc(t, c, "Demo Device", "get", "Setpoint"); got != `{"result":{"value":42.5}}` {
		t.Errorf("get after encrypted write = %s", got)
	}

	// A caCert that did not issue the server certificate is refused.
	other, _, err := newAppCertificate("urn:someone:else")
	if err != nil {
		t.Fatal(err)
	}
	otherPath := filepath.Join(dir, "other.der")
	if err := os.WriteFile(otherPath, other, 0o600); err != nil {
		t.Fatal(err)
	}
	bad, _ := newTestConnector(t, ts, strings.Replace(cfg, serverCert, otherPath, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if s, err := bad.dial(ctx); err == nil || !strings.Contains(err.Error(), "not trusted") {
		if s != nil {
			s.close()
		}
		t.Errorf("untrusted server certificate: %v", err)
	}

	// No security against a server that requires it: no matching endpoint.
	none, _ := newTestConnector(t, ts, `{"server": {"url": "URL", "timeoutInMillis": 10000}}`)
	if s, err := none.dial(ctx); err == nil || !strings.Contains(err.Error(), "no endpoint") {
		if s != nil {
			s.close()
		}
		t.Errorf("security None against a secure-only server: %v", err)
	}
}

// TestGeneratedAppCertificate: with a security mode but no configured
// certificate, the connector generates one into its data directory on
// first start and reuses it afterwards.
func TestGeneratedAppCertificate(t *testing.T) {
	ts := startServer(t, "--secure")
	cfg := `{"server": {"url": "URL", "timeoutInMillis": 10000, "uri": "urn:tbgw:test:generated", "security": "Basic256Sha256",
  "identity": {"type": "username", "username": "user", "password": "secret", "mode": "SignAndEncrypt"}}, ` + secureMapping + `}`
	c, env := newTestConnector(t, ts, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := c.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.readValue(ctx, mustNode(t, "ns=1;s=MyObject.Name")); err != nil {
		t.Fatal(err)
	}
	s.close()
	first, err := os.ReadFile(filepath.Join(env.DataDir, appCertFile))
	if err != nil {
		t.Fatal(err)
	}
	// A new connector (a gateway restart) with the same data directory.
	env2 := drivertest.Env(t, "OPCUA", "opcua")
	env2.DataDir = env.DataDir
	c2, err := New([]byte(strings.ReplaceAll(cfg, "URL", ts.url())), env2)
	if err != nil {
		t.Fatal(err)
	}
	if s, err = c2.(*Connector).dial(ctx); err != nil {
		t.Fatal(err)
	}
	s.close()
	second, err := os.ReadFile(filepath.Join(env.DataDir, appCertFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) || !bytes.Equal(first, c2.(*Connector).appDER) {
		t.Error("application certificate regenerated on the second start")
	}
}

// TestSecurityPolicies connects with every policy the library has, in Sign
// and SignAndEncrypt, with the generated application certificate, and
// reads and writes through each channel.
func TestSecurityPolicies(t *testing.T) {
	ts := startServer(t, "--all-policies")
	dataDir := t.TempDir()
	for _, policy := range []string{"Basic128Rsa15", "Basic256", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"} {
		for _, mode := range []string{"Sign", "SignAndEncrypt"} {
			t.Run(policy+"/"+mode, func(t *testing.T) {
				cfg := `{"server": {"url": "URL", "timeoutInMillis": 10000, "security": "` + policy + `",
  "identity": {"type": "anonymous", "mode": "` + mode + `"}}, ` + secureMapping + `}`
				env := drivertest.Env(t, "OPCUA", "opcua")
				env.DataDir = dataDir
				cc, err := New([]byte(strings.ReplaceAll(cfg, "URL", ts.url())), env)
				if err != nil {
					t.Fatal(err)
				}
				c := cc.(*Connector)
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				s, err := c.dial(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer s.close()
				if v, err := s.readValue(ctx, mustNode(t, "ns=1;s=MyObject.Name")); err != nil || v != "Demo Device" {
					t.Fatalf("read: %v %v", v, err)
				}
				if _, err := s.write(ctx, mustNode(t, "ns=1;s=MyObject.Setpoint"), 3.25); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

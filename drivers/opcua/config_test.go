package opcua

import (
	"github.com/tbgw/tbgw/drivers/kit/atomicfile"

	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

func readTestdata(name string) ([]byte, error) { return os.ReadFile(filepath.Join("testdata", name)) }

// warnLog records warnings.
type warnLog struct {
	mu    sync.Mutex
	warns []string
}

func (w *warnLog) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		w.mu.Lock()
		w.warns = append(w.warns, r.Message)
		w.mu.Unlock()
	}
	return nil
}
func (w *warnLog) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnLog) WithGroup(string) slog.Handler      { return w }

func factory(t *testing.T, raw []byte) (*Connector, []string, error) {
	t.Helper()
	return factoryEnv(t, raw, false)
}

func factoryEnv(t *testing.T, raw []byte, strict bool) (*Connector, []string, error) {
	t.Helper()
	wl := &warnLog{}
	env := drivertest.Env(t, "OPCUA", "opcua")
	env.Log = slog.New(wl)
	env.Strict = strict
	c, err := New(raw, env)
	if err != nil {
		return nil, wl.warns, err
	}
	return c.(*Connector), wl.warns, nil
}

func TestRegistered(t *testing.T) {
	if _, ok := connector.Lookup("opcua"); !ok {
		t.Fatal("opcua not registered")
	}
}

func TestUpstreamConfig(t *testing.T) {
	raw, err := readTestdata("opcua.json")
	if err != nil {
		t.Fatal(err)
	}
	c, warns, err := factory(t, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Fatalf("warnings: %v", warns)
	}
	s := c.cfg
	if s.url != "opc.tcp://127.0.0.1:4840/freeopcua/server/" || s.subscriptions || s.pollPeriod != 5*time.Second ||
		s.timeout != 5*time.Second || s.policy != "None" || s.mode != "None" || s.identity != "anonymous" {
		t.Errorf("server settings %+v", s)
	}
	if len(s.mappings) != 1 {
		t.Fatalf("%d mappings", len(s.mappings))
	}
	m := s.mappings[0]
	if m.pattern.kind != refAbsolute || m.pattern.String() != `Root\.Objects\.MyObject` || m.nameExpr != "Demo Device" || m.profileExpr != "default" {
		t.Errorf("mapping %+v", m)
	}
	if len(m.points) != 5 || m.points[0].key != "frequency" || !m.points[0].attr || m.points[2].key != "temperature" || m.points[2].attr {
		t.Errorf("points %+v", m.points)
	}
	if r := m.updates["relay"]; r.kind != refAbsolute || r.String() != `Root\.Objects\.MyObject\.Relay` {
		t.Errorf("relay update %+v", r)
	}
	mul := m.methods["multiply"]
	if mul == nil || len(mul.args) != 2 || mul.args[0].value != int64(2) || mul.args[1].value != int64(4) {
		t.Errorf("multiply %+v", mul)
	}
}

func TestLegacyConfig(t *testing.T) {
	raw := []byte(`{"server": {"name": "OPC-UA Default Server", "url": "localhost:4840/freeopcua/server/",
  "timeoutInMillis": 5000, "scanPeriodInMillis": 5000, "disableSubscriptions": true, "subCheckPeriodInMillis": 100,
  "showMap": false, "security": "Basic128Rsa15", "identity": {"type": "anonymous"},
  "mapping": [{"deviceNodePattern": "Root\\.Objects\\.Device1", "deviceNamePattern": "Device ${Root\\.Objects\\.Device1\\.serialNumber}",
    "attributes": [{"key": "temperature °C", "path": "${ns=2;i=5}"}],
    "timeseries": [{"key": "humidity", "path": "${Root\\.Objects\\.Device1\\.TemperatureAndHumiditySensor\\.Humidity}"},
                   {"key": "batteryLevel", "path": "${Battery\\.batteryLevel}"}],
    "rpc_methods": [{"method": "multiply", "arguments": [2, 4]}],
    "attributes_updates": [{"attributeOnThingsBoard": "deviceName", "attributeOnDevice": "Root\\.Objects\\.Device1\\.serialNumber"}]}]}}`)
	c, warns, err := factory(t, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Fatalf("warnings: %v", warns)
	}
	s := c.cfg
	if s.url != "opc.tcp://localhost:4840/freeopcua/server/" || s.subscriptions {
		t.Errorf("settings %+v", s)
	}
	m := s.mappings[0]
	if m.nameExpr != `Device ${Root\.Objects\.Device1\.serialNumber}` || m.profileExpr != "default" {
		t.Errorf("names %q %q", m.nameExpr, m.profileExpr)
	}
	if len(m.points) != 3 || m.points[0].ref.kind != refNodeID || m.points[1].ref.kind != refAbsolute || m.points[2].ref.kind != refRelative {
		t.Errorf("points %+v", m.points)
	}
	if _, ok := m.updates["deviceName"]; !ok {
		t.Errorf("updates %+v", m.updates)
	}
	if m.methods["multiply"].args[1].value != int64(4) {
		t.Errorf("legacy rpc arguments %+v", m.methods["multiply"].args)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`{"server": {}}`, "server.url: required"},
		{`{"server": {"url": "http://x"}}`, "only opc.tcp"},
		{`{"server": {"url": "x", "timeoutInMillis": "5"}}`, "server.timeoutInMillis: wrong type"},
		{`{"server": {"url": "x", "timeoutInMillis": -1}}`, "server.timeoutInMillis: must be positive"},
		{`{"server": {"url": "x", "security": "Basic512"}}`, "server.security: unknown security policy"},
		{`{"server": {"url": "x", "identity": {"type": "kerberos"}}}`, "server.identity.type"},
		{`{"server": {"url": "x", "identity": {"type": "username"}}}`, "server.identity.username: required"},
		{`{"server": {"url": "x", "identity": {"mode": "Encrypt"}}}`, "server.identity.mode"},
		{`{"server": {"url": "x", "security": "None", "identity": {"mode": "Sign"}}}`, "policy None cannot be used"},
		{`{"server": {"url": "x", "identity": {"type": "certificates", "cert": "/nonexistent.pem", "privateKey": "/nonexistent.key"}}}`, "server.identity.cert"},
		{`{"server": {"url": "x"}, "mapping": [{"deviceInfo": {"deviceNameExpression": "a"}}]}`, "mapping[0].deviceNodePattern: required"},
		{`{"server": {"url": "x"}, "mapping": [{"deviceNodePattern": "Objects\\.X", "deviceInfo": {"deviceNameExpression": "a"}}]}`, "neither a node id nor a path from Root"},
		{`{"server": {"url": "x"}, "mapping": [{"deviceNodePattern": "ns=x;i=1", "deviceInfo": {"deviceNameExpression": "a"}}]}`, "bad node id"},
		{`{"server": {"url": "x"}, "mapping": [{"deviceNodePattern": "Root\\.X"}]}`, "deviceNameExpression: required"},
		{`{"server": {"url": "x"}, "mapping": [{"deviceNodePattern": "Root\\.X", "deviceInfo": {"deviceNameExpression": "a"},
		   "timeseries": [{"key": "k", "type": "path", "value": "plain"}]}]}`, "mapping[0].timeseries[0].value"},
		{`{"server": {"url": "x"}, "mapping": [{"deviceNodePattern": "Root\\.X", "deviceInfo": {"deviceNameExpression": "a"},
		   "timeseries": [{"key": "k", "type": "magic", "value": "${A}"}]}]}`, "mapping[0].timeseries[0].type"},
		{`{"server": {"url": "x"}, "mapping": [{"deviceNodePattern": "Root\\.X", "deviceInfo": {"deviceNameExpression": "a"},
		   "attributes": [{"key": "k", "value": "${A}", "timestampLocation": "device"}]}]}`, "mapping[0].attributes[0].timestampLocation"},
		{`{"server": {"url": "x"}, "mapping": [{"deviceNodePattern": "Root\\.X", "deviceInfo": {"deviceNameExpression": "a"},
		   "timeseries": [{"key": "k", "value": "${A}", "reportStrategy": {"type": "SOMETIMES"}}]}]}`, "mapping[0].timeseries[0].reportStrategy"},
		{`{"server": {"url": "x"}, "mapping": [{"deviceNodePattern": "Root\\.X", "deviceInfo": {"deviceNameExpression": "a"},
		   "rpc_methods": [{"method": "m", "arguments": 5}]}]}`, "mapping[0].rpc_methods[0].arguments"},
	} {
		_, _, err := factoryEnv(t, []byte(tc.cfg), true)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// TestUnusableEntriesSkipped: as upstream, an attributes_updates or
// rpc_methods entry that cannot work is left out with a warning naming its
// position and key path; strict mode refuses the file.
func TestUnusableEntriesSkipped(t *testing.T) {
	cfg := `{"server": {"url": "opc.tcp://127.0.0.1:4840"}, "mapping": [{"deviceNodePattern": "Root\\.X",
"deviceInfo": {"deviceNameExpression": "a"},
"attributes_updates": [
  {"key": "", "type": "path", "value": "${A}"},
  {"key": "b", "type": "magic", "value": "${B}"},
  {"key": "c", "type": "path", "value": "${C}"}],
"rpc_methods": [
  {"method": "", "arguments": []},
  {"method": "m", "arguments": 5},
  {"method": "ok"}]}]}`
	c, warns, err := factoryEnv(t, []byte(cfg), false)
	if err != nil {
		t.Fatal(err)
	}
	m := c.cfg.mappings[0]
	if strings.Join(m.updateKeys, ",") != "c" || len(m.methods) != 1 || m.methods["ok"] == nil {
		t.Errorf("kept updates %v, methods %v", m.updateKeys, m.methods)
	}
	all := strings.Join(warns, "\n")
	for _, w := range []string{
		"OPCUA.json:4:11: mapping[0].attributes_updates[0].key: required; entry skipped",
		"OPCUA.json:5:24: mapping[0].attributes_updates[1].type: unknown type",
		"OPCUA.json:8:14: mapping[0].rpc_methods[0].method: required; entry skipped",
		"OPCUA.json:9:32: mapping[0].rpc_methods[1].arguments: must be an array; entry skipped",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("no warning %q in:\n%s", w, all)
		}
	}
	if _, _, err := factoryEnv(t, []byte(cfg), true); err == nil || !strings.Contains(err.Error(), "mapping[0].attributes_updates[0].key: required") {
		t.Errorf("strict: err %v", err)
	}
}

func TestUnknownKeysWarn(t *testing.T) {
	_, warns, err := factory(t, []byte(`{"server": {"url": "x", "colour": 1}, "name": "OPCUA", "logLevel": "INFO"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 2 || !strings.Contains(warns[0], "server.colour") {
		t.Errorf("warnings %v", warns)
	}
}

func TestSecuritySettings(t *testing.T) {
	dir := t.TempDir()
	der, key, err := newAppCertificate("urn:test")
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, "c.der"), filepath.Join(dir, "k.pem")
	if err := os.WriteFile(certPath, der, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(keyPath, pemKey(key), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := factory(t, []byte(`{"server": {"url": "x", "security": "Basic256Sha256",
	  "identity": {"type": "certificates", "cert": "`+certPath+`", "privateKey": "`+keyPath+`"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.mode != "SignAndEncrypt" || c.cfg.policy != "Basic256Sha256" || !bytes.Equal(c.cfg.certDER, der) {
		t.Errorf("settings %s %s", c.cfg.mode, c.cfg.policy)
	}
	c, _, err = factory(t, []byte(`{"server": {"url": "x", "security": "http://opcfoundation.org/UA/SecurityPolicy#Aes128_Sha256_RsaOaep",
	  "identity": {"type": "username", "username": "u", "mode": "Sign"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.mode != "Sign" || c.cfg.policy != "Aes128_Sha256_RsaOaep" || c.cfg.certDER != nil {
		t.Errorf("settings %s %s", c.cfg.mode, c.cfg.policy)
	}
}

func TestAppCertificateReused(t *testing.T) {
	dir := t.TempDir()
	der1, _, err := appCertificate(dir, "urn:a")
	if err != nil {
		t.Fatal(err)
	}
	der2, _, err := appCertificate(dir, "urn:a")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(der1, der2) {
		t.Error("certificate regenerated")
	}
	der3, _, err := appCertificate(dir, "urn:b")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(der1, der3) {
		t.Error("certificate kept although the application uri changed")
	}
}

func FuzzParseSetParams(f *testing.F) {
	for _, s := range []string{`Root\.Objects\.A; 1`, "ns=3;i=9; 456.34", "a=b", "x y z", "ns=1;s=;", ";=;="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		target, value, ok := parseSetParams(s)
		if ok && (target == "" || value == "") {
			t.Fatalf("%q: empty part %q %q", s, target, value)
		}
		_, _ = parseTarget(s)
		_, _ = parseValueRef(s)
		_, _ = parseDeviceNode(s)
	})
}

func FuzzConfig(f *testing.F) {
	raw, err := readTestdata("opcua.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"server":{"url":"x","identity":{"type":"username","username":"u"}},"mapping":[{"deviceNodePattern":"ns=1;i=1","deviceInfo":{"deviceNameExpression":"${A}"},"rpc_methods":[{"method":"m","arguments":[1,{"value":2}]}]}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		env := connector.Env{Name: "f", Type: "opcua", Log: slog.New(slog.DiscardHandler)}
		_, _ = New(raw, env)
	})
}

func FuzzCast(f *testing.F) {
	f.Add(uint8(ua.TypeIDDouble), false, `"1.5"`)
	f.Add(uint8(ua.TypeIDInt16), true, `[1,2,"3"]`)
	f.Add(uint8(ua.TypeIDDateTime), false, `"2024-01-01T00:00:00Z"`)
	f.Fuzz(func(t *testing.T, typ uint8, array bool, js string) {
		v, err := toVariant(ua.TypeID(typ%26), array, decodeJSONValue(json.RawMessage(js)))
		if err == nil {
			if _, err := v.Encode(); err != nil {
				t.Fatalf("cast to %d %q: encode: %v", typ%26, js, err)
			}
		}
	})
}

func pemKey(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

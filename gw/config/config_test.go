package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func upstreamDir(t *testing.T) string {
	t.Helper()
	return filepath.Join("..", "..", "testdata", "upstream")
}

func TestLoadUpstreamMainFile(t *testing.T) {
	c, err := Load(upstreamDir(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range c.Warnings {
		t.Errorf("unexpected warning: %v", w)
	}
	if c.ThingsBoard.Host != "thingsboard.cloud" || c.ThingsBoard.Port != 1883 || *c.ThingsBoard.QoS != 1 {
		t.Fatalf("thingsboard %+v", c.ThingsBoard)
	}
	if c.LogLevels["service"].String() != "INFO" {
		t.Fatalf("log levels %v", c.LogLevels)
	}
}

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestEnvOverrides(t *testing.T) {
	dir := writeDir(t, map[string]string{MainFile: `{"thingsboard":{"host":"a","security":{"accessToken":"x"}}}`})
	env := map[string]string{"TB_GW_HOST": "b", "TB_GW_PORT": "1999", "TB_GW_ACCESS_TOKEN": "tok", "host": "ignored"}
	c, err := Load(dir, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.ThingsBoard.Host != "b" || c.ThingsBoard.Port != 1999 || c.ThingsBoard.Security.AccessToken != "tok" {
		t.Fatalf("%+v", c.ThingsBoard)
	}
}

func TestBadValuesNameFileLineAndPath(t *testing.T) {
	cases := []struct{ body, want string }{
		{"{\"thingsboard\": {\n  \"host\": \"h\",\n  \"port\": \"x\"}}", "tb_gateway.json:3:11: thingsboard.port: wrong type"},
		{"{\"thingsboard\": {\"host\": \"h\", \"qos\": 2}}", "thingsboard.qos: must be 0 or 1"},
		{"{\"thingsboard\": {\"host\": \"h\", \"reportStrategy\": {\"type\": \"SOMETIMES\"}}}", "thingsboard.reportStrategy.type: unknown report strategy"},
		{"{\"thingsboard\": {\"port\": 1883}}", "thingsboard.host: required"},
		{"{\"thingsboard\": {\"host\": \"h\", \"security\": {\"type\": \"magic\"}}}", "thingsboard.security.type: unknown security type"},
		{"{\"thingsboard\": {\"host\": \"h\"}, \"connectors\": [{\"type\": \"mqtt\", \"name\": \"m\", \"configuration\": \"missing.json\"}]}", "connectors[0].configuration"},
		{"{\"thingsboard\": {\"host\": \"h\",}", "tb_gateway.json:1:"},
	}
	for _, tc := range cases {
		dir := writeDir(t, map[string]string{MainFile: tc.body})
		_, err := Load(dir, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.body, err, tc.want)
		}
	}
}

func TestUnknownKeysWarn(t *testing.T) {
	dir := writeDir(t, map[string]string{MainFile: "{\"thingsboard\": {\"host\": \"h\", \"hots\": 1}}"})
	c, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Error(), "thingsboard.hots: unknown key") {
		t.Fatalf("warnings %v", c.Warnings)
	}
}

func TestConnectorCommonKeys(t *testing.T) {
	dir := writeDir(t, map[string]string{
		MainFile: `{"thingsboard":{"host":"h"},"connectors":[{"type":"mqtt","name":"M","configuration":"m.json"}]}`,
		"m.json": `{"logLevel":"DEBUG","reportStrategy":{"type":"on_change"},"broker":{}}`,
	})
	c, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cn := c.Connectors[0]
	if cn.LogLevel.String() != "DEBUG" || cn.Report.Type != "on_change" || cn.ID == "" {
		t.Fatalf("%+v", cn)
	}
	dir = writeDir(t, map[string]string{
		MainFile: `{"thingsboard":{"host":"h"},"connectors":[{"type":"mqtt","name":"M","configuration":"m.json"}]}`,
		"m.json": "{\n\"logLevel\": \"LOUD\"}",
	})
	if _, err := Load(dir, nil); err == nil || !strings.Contains(err.Error(), "m.json:2:13: logLevel: unknown log level") {
		t.Fatalf("got %v", err)
	}
}

func TestYAMLMainFile(t *testing.T) {
	dir := writeDir(t, map[string]string{"tb_gateway.yaml": "thingsboard:\n  host: y\n  port: 1884\n"})
	c, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ThingsBoard.Host != "y" || c.ThingsBoard.Port != 1884 {
		t.Fatalf("%+v", c.ThingsBoard)
	}
}

func TestFilterAllowListEffective(t *testing.T) {
	f, err := LoadFilter(filepath.Join(upstreamDir(t), "list.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		conn, dev string
		ok        bool
	}{
		{"MQTT Broker Connector", "Temperature Device", false},
		{"MQTT Broker Connector", "a@b.com", false},
		{"MQTT Broker Connector", "My Temperature Sensor", true},
		{"MQTT Broker Connector", "Other", false},
		{"Modbus Connector", "My Modbus Device", false},
		{"Modbus Connector", "Other", true},
		{"OPC-UA", "Any", true},
	} {
		if got := f.Allowed(tc.conn, tc.dev); got != tc.ok {
			t.Errorf("%s/%s: got %v", tc.conn, tc.dev, got)
		}
	}
}

func TestUnprefixedEnv(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, MainFile), []byte(`{"thingsboard":{"host":"file-host","port":1883,"security":{"accessToken":"file-tok"}}}`), 0o600)
	env := map[string]string{"host": "docker-host", "port": "2883", "accessToken": "docker-tok", "TB_GW_HOST": "prefixed-host", "proxy_host": "px", "proxy_port": "3128"}
	c, err := Load(dir, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	tb := c.ThingsBoard
	if tb.Host != "prefixed-host" || tb.Port != 2883 || tb.Security.AccessToken != "docker-tok" || tb.ProxyHost != "px" || tb.ProxyPort != 3128 {
		t.Fatalf("got host %q port %d token %q proxy %s:%d", tb.Host, tb.Port, tb.Security.AccessToken, tb.ProxyHost, tb.ProxyPort)
	}
	want := "TB_GW_HOST port proxy_host proxy_port accessToken"
	if got := strings.Join(c.Env, " "); got != want {
		t.Fatalf("Env = %q, want %q", got, want)
	}
	// An empty TB_GW_* variable does not hide the unprefixed one.
	env["TB_GW_HOST"] = ""
	if c, _ = Load(dir, func(k string) string { return env[k] }); c.ThingsBoard.Host != "docker-host" {
		t.Fatalf("host %q", c.ThingsBoard.Host)
	}
}

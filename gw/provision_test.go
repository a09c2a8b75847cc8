package gw

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// provRig is a broker that admits only the provisioning login and the
// credentials the stand-in issued.
type provRig struct {
	b   *tbtest.Broker
	tb  *tbtest.ThingsBoard
	pki *tbtest.PKI
}

func newProvRig(t *testing.T, withTLS bool) *provRig {
	var ref atomic.Pointer[tbtest.ThingsBoard]
	opts := []tbtest.BrokerOption{tbtest.WithAuth(func(ci tbtest.ConnInfo) bool {
		tb := ref.Load()
		return tb != nil && tb.Authorized(ci)
	})}
	r := &provRig{}
	if withTLS {
		r.pki = tbtest.NewPKI(t, "unused")
		tc := r.pki.ServerTLS(false)
		tc.ClientAuth = tls.RequestClientCert // ThingsBoard asks for a certificate, any one
		opts = append(opts, tbtest.WithTLS(tc))
	}
	r.b = tbtest.StartBroker(t, opts...)
	r.tb = tbtest.NewThingsBoard(t, r.b.Host, r.b.Port)
	ref.Store(r.tb)
	r.tb.SetProvisioning("pkey", "psecret")
	return r
}

// runProvisioned starts a gateway on dir/data, waits until it is up, and
// stops it.
func runProvisioned(t *testing.T, r *provRig, dir, data string) {
	t.Helper()
	cfg, err := config.Load(dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckThingsBoard(cfg); err != nil {
		t.Fatalf("check of a provisioning configuration: %v", err)
	}
	log := slog.New(slog.NewTextHandler(logWriter{t}, nil))
	g, err := New(cfg, Options{Version: "1.0", Log: log, NewLink: NewTBLink(log), DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	// Counted before the gateway starts: it may connect and publish
	// its attributes before this goroutine runs again.
	n := r.tb.Count("v1/devices/me/attributes")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	r.tb.Wait(20*time.Second, "gateway connected with its credentials", func() bool { return r.tb.Count("v1/devices/me/attributes") > n })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func writeMain(t *testing.T, dir string, tbs map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"thingsboard": tbs, "storage": map[string]any{"type": "memory"}})
	if err := os.WriteFile(filepath.Join(dir, "tb_gateway.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestProvisioningAccessTokenFromEnv(t *testing.T) {
	r := newProvRig(t, false)
	dir, data := t.TempDir(), t.TempDir()
	writeMain(t, dir, map[string]any{"host": r.b.Host, "port": r.b.Port})
	t.Setenv("TB_GW_PROVISIONING_DEVICE_KEY", "pkey")
	t.Setenv("TB_GW_PROVISIONING_DEVICE_SECRET", "psecret")
	t.Setenv("TB_GW_PROVISIONING_DEVICE_NAME", "Edge 7")
	t.Setenv("TB_GW_PROVISIONING_DEVICE_ACCESS_TOKEN", "chosen-token")
	runProvisioned(t, r, dir, data)
	devs := r.tb.ProvisionedDevices()
	if len(devs) != 1 || devs[0].Name != "Edge 7" || !devs[0].Gateway || devs[0].Token != "chosen-token" {
		t.Fatalf("provisioned %+v", devs)
	}
	fi, err := os.Stat(filepath.Join(data, CredentialsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf(".credentials: %v %v", fi, err)
	}
	b, _ := os.ReadFile(filepath.Join(data, CredentialsFile))
	var stored map[string]any
	json.Unmarshal(b, &stored)
	if stored["credentialsType"] != "ACCESS_TOKEN" || stored["credentialsValue"] != "chosen-token" {
		t.Fatalf(".credentials %s", b)
	}
	// Used from then on: no second request.
	runProvisioned(t, r, dir, data)
	if n := len(r.tb.ProvisionedDevices()); n != 1 {
		t.Fatalf("provisioned again: %d", n)
	}
}

func TestProvisioningMQTTBasicFromConfig(t *testing.T) {
	r := newProvRig(t, false)
	dir, data := t.TempDir(), t.TempDir()
	writeMain(t, dir, map[string]any{"host": r.b.Host, "port": r.b.Port, "provisioning": map[string]any{
		"type": "MQTT_BASIC", "provisionDeviceKey": "pkey", "provisionDeviceSecret": "psecret"}})
	runProvisioned(t, r, dir, data)
	devs := r.tb.ProvisionedDevices()
	if len(devs) != 1 || devs[0].CredentialsType != "MQTT_BASIC" || devs[0].Username == "" || devs[0].Password == "" || devs[0].ClientID == "" {
		t.Fatalf("provisioned %+v", devs)
	}
	runProvisioned(t, r, dir, data)
	if n := len(r.tb.ProvisionedDevices()); n != 1 {
		t.Fatalf("provisioned again: %d", n)
	}
}

func TestProvisioningX509OverTLS(t *testing.T) {
	r := newProvRig(t, true)
	dir, data := t.TempDir(), t.TempDir()
	writeMain(t, dir, map[string]any{"host": "localhost", "port": r.b.TLSPort, "provisioning": map[string]any{
		"type": "X509_CERTIFICATE", "provisionDeviceKey": "pkey", "provisionDeviceSecret": "psecret",
		"deviceName": "X509 gateway", "caCert": r.pki.Path("ca.pem")}})
	runProvisioned(t, r, dir, data)
	devs := r.tb.ProvisionedDevices()
	if len(devs) != 1 || devs[0].CredentialsType != "X509_CERTIFICATE" || devs[0].CertPEM == "" {
		t.Fatalf("provisioned %+v", devs)
	}
	if fi, err := os.Stat(filepath.Join(data, "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key.pem: %v %v", fi, err)
	}
	runProvisioned(t, r, dir, data)
	if n := len(r.tb.ProvisionedDevices()); n != 1 {
		t.Fatalf("provisioned again: %d", n)
	}
}

func TestProvisioningRefused(t *testing.T) {
	r := newProvRig(t, false)
	dir, data := t.TempDir(), t.TempDir()
	writeMain(t, dir, map[string]any{"host": r.b.Host, "port": r.b.Port, "provisioning": map[string]any{
		"provisionDeviceKey": "pkey", "provisionDeviceSecret": "wrong"}})
	cfg, err := config.Load(dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(logWriter{t}, nil))
	_, err = New(cfg, Options{Version: "1.0", Log: log, NewLink: NewTBLink(log), DataDir: data})
	if err == nil || !contains(err.Error(), "Provision data was not found") {
		t.Fatalf("New with a wrong secret: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, CredentialsFile)); !os.IsNotExist(err) {
		t.Fatal("credentials stored after a refusal")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

package gw

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/tbtest"
)

// TestOTAUpdaterHook: with thingsboard.ota.updater the verified image goes
// to the updater (a stub recording its call) and the executable stays; a
// firmware with another fw_title is refused.
func TestOTAUpdaterHook(t *testing.T) {
	work := t.TempDir()
	record := filepath.Join(work, "call")
	stub := filepath.Join(work, "updater")
	os.WriteFile(stub, []byte("#!/bin/sh\n{ echo \"args: $*\"; echo \"version: $TB_GW_FW_VERSION\"; cat \"$2\"; } > "+record+"\n"), 0o755)
	r := newRig(t, map[string]any{"thingsboard": map[string]any{"ota": map[string]any{
		"enabled": true, "title": "edge-fw", "updater": []string{stub, "install"}}}}, nil)
	exe := filepath.Join(work, "tbgw")
	os.WriteFile(exe, []byte("#!/bin/sh\necho old\n"), 0o755)
	cfg, err := config.Load(r.dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(logWriter{t}, nil))
	data := t.TempDir()
	g, err := New(cfg, Options{Version: "1.0", Log: log, NewLink: NewTBLink(log), Executable: exe, DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	r.tb.WaitAttribute(tbtest.Self, "Version", nil, 15*time.Second)

	r.tb.AssignFirmware("tbgw", "9.9", []byte("wrong title"))
	r.tb.WaitTelemetry(tbtest.Self, "fw_error", func(v any) bool { return strings.Contains(v.(string), "fw_title") }, 20*time.Second)

	image := []byte(strings.Repeat("rootfs image ", 20000))
	r.tb.AssignFirmware("edge-fw", "2.0", image)
	r.tb.WaitTelemetry(tbtest.Self, "fw_state", func(v any) bool { return v == "UPDATING" }, 30*time.Second)
	r.tb.Wait(20*time.Second, "updater called", func() bool {
		// The whole image: the stub may still be writing its record.
		b, err := os.ReadFile(record)
		return err == nil && strings.HasSuffix(string(b), string(image))
	})
	b, _ := os.ReadFile(record)
	lines := strings.SplitN(string(b), "\n", 3)
	if !strings.HasPrefix(lines[0], "args: install "+filepath.Join(data, otaImageFile)) || lines[1] != "version: 2.0" || lines[2] != string(image) {
		t.Fatalf("updater call: %q", lines[:2])
	}
	if got, _ := os.ReadFile(exe); string(got) != "#!/bin/sh\necho old\n" {
		t.Fatal("executable replaced in image mode")
	}
	r.tb.Wait(10*time.Second, "image removed", func() bool {
		_, err := os.Stat(filepath.Join(data, otaImageFile))
		return os.IsNotExist(err)
	})
	if m, ok := readMarker(data); !ok || m.State != "installed" || m.Version != "2.0" {
		t.Fatalf("marker %+v %v", m, ok)
	}
	select {
	case err := <-done:
		t.Fatalf("gateway stopped: %v", err)
	default:
	}
}

// TestOTAUpdaterFailure: a failing updater reports FAILED with its output.
func TestOTAUpdaterFailure(t *testing.T) {
	work := t.TempDir()
	stub := filepath.Join(work, "updater")
	os.WriteFile(stub, []byte("#!/bin/sh\necho 'slot B busy' >&2\nexit 1\n"), 0o755)
	r := newRig(t, map[string]any{"thingsboard": map[string]any{"ota": map[string]any{"enabled": true, "updater": []string{stub}}}}, nil)
	cfg, _ := config.Load(r.dir, func(string) string { return "" })
	log := slog.New(slog.NewTextHandler(logWriter{t}, nil))
	data := t.TempDir()
	g, err := New(cfg, Options{Version: "1.0", Log: log, NewLink: NewTBLink(log), Executable: filepath.Join(work, "tbgw"), DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	r.tb.WaitAttribute(tbtest.Self, "Version", nil, 15*time.Second)
	r.tb.AssignFirmware("tbgw", "2.0", []byte("image"))
	r.tb.WaitTelemetry(tbtest.Self, "fw_error", func(v any) bool { return strings.Contains(v.(string), "slot B busy") }, 20*time.Second)
	if _, ok := readMarker(data); ok {
		t.Fatal("marker left after a failed updater")
	}
	if !failedBefore(data, fwInfo{Title: "tbgw", Version: "2.0", Checksum: "6105d6cc76af400325e94d588ce511be5bfdbb73b437dc51eca43917d7a43e3d"}) {
		t.Fatal("failed firmware not remembered")
	}
}

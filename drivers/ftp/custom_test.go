package ftp

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/drivers/drivertest"
	_ "github.com/tbgw/tbgw/drivers/exec" // the Python converter host
	"github.com/tbgw/tbgw/gw/connector"
)

// linesUplink is a Go custom converter taking "ftp" calls:
// "<device>;<value>" lines.
type linesUplink struct{ key string }

func (u linesUplink) Convert(string, []byte, int64) ([]codec.Data, error) {
	return nil, fmt.Errorf("not a topic converter")
}

func (u linesUplink) ConvertCall(args json.RawMessage, nowMs int64) ([]codec.Data, error) {
	var a struct {
		Config struct {
			FileExt string `json:"file_ext"`
		}
		Data string
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, err
	}
	dev, v, ok := strings.Cut(a.Data, ";")
	if !ok {
		return nil, fmt.Errorf("no ';' in %q", a.Data)
	}
	return []codec.Data{{Device: dev, Type: a.Config.FileExt, Telemetry: []codec.Point{{Key: u.key, Value: v}}}}, nil
}

func init() {
	codec.RegisterUplink("TestFtpLinesConverter", func(cfg json.RawMessage) (codec.Uplink, error) {
		var c struct{ ExtensionConfig struct{ Key string } }
		err := json.Unmarshal(cfg, &c)
		return linesUplink{c.ExtensionConfig.Key}, err
	})
}

func sortedTelemetry(d []connector.Data) []string {
	s := telemetry(d)
	slices.Sort(s)
	return s
}

// A Go converter registered by name gets every line (SLICED: the header
// too) in the "ftp" convention.
func TestCustomConverterGo(t *testing.T) {
	root := t.TempDir()
	peer := startFTP(t, root, 0, "")
	putFile(t, filepath.Join(root, "in/a.txt"), "d1;1\nd2;2\nbroken\n")
	c := newConnector(t, drivertest.Env(t, "ftpgo", "ftp"), fmt.Sprintf(`{"parameters":{"host":"127.0.0.1","port":%d},
	 "paths":[{"path":"in/*.txt","readMode":"FULL","pollPeriod":0.1,"txtFileDataView":"SLICED",
	   "converter":{"type":"custom","extension":"TestFtpLinesConverter","extension-config":{"key":"v"}}}]}`, peer.port))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitCount(t, sink, 2)
	if got := sortedTelemetry(sink.Data()); !slices.Equal(got, []string{"d1:v=1", "d2:v=2"}) {
		t.Errorf("got %v", got)
	}
	if d := sink.Data(); d[0].Type != "txt" {
		t.Errorf("topic: %+v", d[0])
	}
	if c.stats.badLines.Load() != 1 {
		t.Errorf("%d bad lines, want 1", c.stats.badLines.Load())
	}

	// Other converter types and missing classes are load errors.
	for _, conv := range []string{`{"type":"json"}`, `{"type":"custom"}`, `{"type":"custom","extension":"NoSuchFtpConverter9"}`} {
		_, err := New([]byte(`{"parameters":{"host":"h"},"paths":[{"path":"a.csv","converter":`+conv+`}]}`), drivertest.Env(t, "bad", "ftp"))
		if err == nil || !strings.Contains(err.Error(), "converter") {
			t.Errorf("%s: %v", conv, err)
		}
	}
}

// Upstream's custom converter block runs an upstream-style Python class
// (extensions/examples/ftp) in the extension host: built with the path's
// configuration (devicePatternName from extension-config), called as
// convert({"file_ext", "headers"}, line) and per JSON object.
func TestCustomConverterPython(t *testing.T) {
	py, err := exec.LookPath("/usr/bin/python3")
	drivertest.RequirePeer(t, err == nil, "python3")
	ext, _ := filepath.Abs("../../extensions")
	t.Setenv("TBGW_PYTHON", py)
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))

	root := t.TempDir()
	peer := startFTP(t, root, 0, "")
	putFile(t, filepath.Join(root, "in/m.csv"), "name;temp;hum\nA;1.5;40\nB;2;41\n")
	putFile(t, filepath.Join(root, "in/m.json"), `[{"name":"J","temp":3}]`)
	c := newConnector(t, drivertest.Env(t, "ftppy", "ftp"), fmt.Sprintf(`{"parameters":{"host":"127.0.0.1","port":%d},
	 "paths":[{"path":"in/m.*","readMode":"PARTIAL","pollPeriod":0.1,"delimiter":";",
	   "converter":{"type":"custom","extension":"DemoFtpUplinkConverter",
	     "extension-config":{"devicePatternName":"Py ${name}","devicePatternType":"ftp-demo"}}}]}`, peer.port))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	waitCount(t, sink, 5)
	want := []string{"Py A:hum=80", "Py A:temp=3", "Py B:hum=82", "Py B:temp=4", "Py J:temp=6"}
	if got := sortedTelemetry(sink.Data()); !slices.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	for _, d := range sink.Data() {
		if d.Type != "ftp-demo" || len(d.Attributes) != 1 {
			t.Errorf("%+v", d)
		}
	}
	// PARTIAL: only the new line goes through the converter.
	appendFile(t, filepath.Join(root, "in/m.csv"), "C;5;50\n")
	waitCount(t, sink, 7)
	if got := sortedTelemetry(sink.Data()); len(got) != 7 || !slices.Contains(got, "Py C:temp=10") {
		t.Errorf("after append: %v", got)
	}
}

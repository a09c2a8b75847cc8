//go:build odbc.sqlite && (amd64 || arm64 || arm || 386 || riscv64 || loong64 || ppc64le || s390x)

package odbc

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/drivers/drivertest"
	_ "github.com/tbgw/tbgw/drivers/exec" // the Python converter host
	"github.com/tbgw/tbgw/gw/connector"
)

// rowsUplink is a Go custom converter taking "odbc" calls: the mapping
// and each row.
type rowsUplink struct{ key string }

func (u rowsUplink) Convert(string, []byte, int64) ([]codec.Data, error) {
	return nil, fmt.Errorf("not a topic converter")
}

func (u rowsUplink) ConvertCall(args json.RawMessage, nowMs int64) ([]codec.Data, error) {
	var a struct {
		Config struct{ Device struct{ Name string } }
		Data   map[string]any
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, err
	}
	if a.Config.Device.Name == "" {
		return nil, fmt.Errorf("no mapping in %s", args)
	}
	return []codec.Data{{Device: "ignored", Telemetry: []codec.Point{{Key: u.key, Value: a.Data["temp"]}}}}, nil
}

func init() {
	codec.RegisterUplink("TestOdbcRowsConverter", func(cfg json.RawMessage) (codec.Uplink, error) {
		var c struct{ Key string }
		err := json.Unmarshal(cfg, &c)
		return rowsUplink{c.Key}, err
	})
}

func customDB(t *testing.T) string {
	file := filepath.Join(t.TempDir(), "plant.db")
	db, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db, `CREATE TABLE readings (id INTEGER PRIMARY KEY, sensor TEXT, temp REAL, hum INTEGER, ts INTEGER)`)
	mustExec(t, db, `INSERT INTO readings (sensor, temp, hum, ts) VALUES ('s1', 20.5, 40, 1700000000), ('s2', 21, 41, 1700000001)`)
	return file
}

// A Go converter registered by name replaces the mapping's datapoints;
// the device is still named by mapping.device, the time by the ts column.
func TestCustomConverterGo(t *testing.T) {
	file := customDB(t)
	cfg := fmt.Sprintf(`{"connection":{"str":"Driver=SQLite3;Database=%s;"},
	  "polling":{"query":"SELECT id, sensor, temp, hum, ts FROM readings WHERE id > ? ORDER BY id","period":0.2,"iterator":{"column":"id","value":0}},
	  "mapping":{"device":{"name":"'Row ' + sensor","type":"meter"}},
	  "converter":{"type":"custom","extension":"TestOdbcRowsConverter","extensionConfig":{"key":"t"}}}`, file)
	c := newConn(t, drivertest.Env(t, "conv", "odbc"), []byte(cfg))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 20*time.Second, "2 rows", func(d []connector.Data) bool { return len(d) >= 2 })
	got, _ := json.Marshal(sink.Data()[:2])
	want := `[{"Device":"Row s1","Type":"meter","Attributes":null,"Telemetry":[{"Key":"t","Value":20.5,"TS":1700000000000,"Report":null}]},` +
		`{"Device":"Row s2","Type":"meter","Attributes":null,"Telemetry":[{"Key":"t","Value":21,"TS":1700000001000,"Report":null}]}]`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	// A converter that is not there is a load error naming it.
	_, err := New([]byte(fmt.Sprintf(`{"connection":{"str":"Driver=SQLite3;Database=%s;"},"polling":{"query":"SELECT 1"},
	  "mapping":{"device":{"name":"'d'"}},"converter":"NoSuchConverter9"}`, file)), drivertest.Env(t, "x", "odbc"))
	if err == nil {
		t.Error("a missing converter class loaded")
	}
}

// Upstream's form, "converter": "<Class>", runs an upstream-style Python
// class (extensions/examples/odbc) in the extension host: built with the
// logger only, called as convert(mapping, row).
func TestCustomConverterPython(t *testing.T) {
	py, err := exec.LookPath("/usr/bin/python3")
	drivertest.RequirePeer(t, err == nil, "python3")
	ext, _ := filepath.Abs("../../extensions")
	t.Setenv("TBGW_PYTHON", py)
	t.Setenv("TBGW_PYTHON_HOST", filepath.Join(ext, "tbgw_host.py"))
	t.Setenv("TBGW_PYTHON_EXTENSIONS", filepath.Join(ext, "examples"))

	file := customDB(t)
	cfg := fmt.Sprintf(`{"connection":{"str":"Driver=SQLite3;Database=%s;"},
	  "polling":{"query":"SELECT id, sensor, temp, hum, ts FROM readings WHERE id > ? ORDER BY id","period":0.2,"iterator":{"column":"id","value":0,"persistent":true}},
	  "mapping":{"device":{"name":"'Py ' + sensor","type":"meter"},"demoScale":10},
	  "converter":"DemoOdbcUplinkConverter"}`, file)
	c := newConn(t, drivertest.Env(t, "pyconv", "odbc"), []byte(cfg))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 30*time.Second, "2 rows", func(d []connector.Data) bool { return len(d) >= 2 })
	d := sink.Data()
	sort.Slice(d[0].Telemetry, func(i, j int) bool { return d[0].Telemetry[i].Key < d[0].Telemetry[j].Key })
	got, _ := json.Marshal(d[0])
	want := `{"Device":"Py s1","Type":"meter","Attributes":[{"Key":"columns","Value":"hum,id,sensor,temp,ts","TS":0,"Report":null}],` +
		`"Telemetry":[{"Key":"hum","Value":400,"TS":1700000000000,"Report":null},{"Key":"temp","Value":205,"TS":1700000000000,"Report":null}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if d[1].Device != "Py s2" {
		t.Errorf("second row: %+v", d[1])
	}
}

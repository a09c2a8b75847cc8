//go:build odbc.sqlite && (amd64 || arm64 || arm || 386 || riscv64 || loong64 || ppc64le || s390x)

package odbc

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// SQLite needs no server: the pure-Go driver opens the file.
func TestSQLite(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plant.db")
	db, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db, `CREATE TABLE readings (id INTEGER PRIMARY KEY, sensor TEXT, temp REAL, ok BOOLEAN, ts INTEGER)`)
	mustExec(t, db, `INSERT INTO readings (sensor, temp, ok, ts) VALUES ('s1', 20.5, 1, 1700000000), ('s2', 21, 0, 1700000001), ('s1', NULL, 1, 1700000002)`)
	cfg := fmt.Sprintf(`{"connection":{"str":"Driver=SQLite3;Database=%s;"},
	  "polling":{"query":"SELECT id, sensor, temp, ts FROM readings WHERE id > ? ORDER BY id","period":0.2,"iterator":{"column":"id","value":0}},
	  "mapping":{"device":{"name":"'SQLite ' + sensor","type":"meter"},
	    "attributes":[{"nameExpression":"'last_' + str(id %% 2)","value":"id * 10"}],
	    "timeseries":[{"name":"temp","column":"temp"},{"name":"f","value":"round(temp * 9 / 5 + 32, 1)"}]},
	  "serverSideRpc":{"methods":[{"name":"count","query":"SELECT COUNT(*) AS n FROM readings WHERE sensor = ?","args":["s1"],"result":true},"proc"],"overrideRpcConfig":true}}`, file)
	c := newConn(t, drivertest.Env(t, "lite", "odbc"), []byte(cfg))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 20*time.Second, "3 rows", func(d []connector.Data) bool { return len(d) >= 3 })
	waitPolls(t, c, 2)
	d := sink.Data()
	if len(d) != 3 || len(d[2].Telemetry) != 0 || len(d[2].Attributes) != 1 {
		// the third row has no temperature: its telemetry is left out
		t.Fatalf("%d items: %+v", len(d), d)
	}
	got, _ := json.Marshal(d[0])
	want := `{"Device":"SQLite s1","Type":"meter","Attributes":[{"Key":"last_1","Value":10,"TS":0,"Report":null}],"Telemetry":[{"Key":"temp","Value":20.5,"TS":1700000000000,"Report":null},{"Key":"f","Value":68.9,"TS":1700000000000,"Report":null}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if c.stats.Get("itemsSkipped") != 2 {
		t.Errorf("%d values skipped, want 2 (NULL temp, None * 9)", c.stats.Get("itemsSkipped"))
	}
	res, err := c.OnRPC(context.Background(), connector.RPC{Device: "SQLite s1", Method: "count", Params: json.RawMessage(`{"args":["s2"]}`)})
	if b, _ := json.Marshal(res); err != nil || string(b) != `{"result":{"n":1}}` {
		t.Errorf("count: %s %v", b, err)
	}
	if _, err := c.OnRPC(context.Background(), connector.RPC{Device: "SQLite s1", Method: "proc", Params: json.RawMessage(`null`)}); err == nil {
		t.Error("procedure call on SQLite succeeded")
	}
}

//go:build odbc.cgo && cgo

package odbc

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// TestUnixODBC goes through the driver manager: a DSN= connection string
// names a data source of an odbc.ini pointing at psqlODBC.
func TestUnixODBC(t *testing.T) {
	_, err := os.Stat("/etc/odbcinst.ini")
	drivertest.RequirePeer(t, err == nil, "unixODBC with odbc-postgresql (scripts/peers/unixodbc.sh)")
	srv := startPG(t)
	name, db := srv.newDB(t)
	mustExec(t, db, `CREATE TABLE r (id int, dev varchar(8), v double precision)`)
	mustExec(t, db, `INSERT INTO r VALUES (1, 'a', 1.5), (2, 'b', 2.5)`)
	mustExec(t, db, `CREATE FUNCTION twice(x int) RETURNS int LANGUAGE sql AS $$ SELECT x * 2 $$`)
	ini := filepath.Join(t.TempDir(), "odbc.ini")
	if err := os.WriteFile(ini, []byte(fmt.Sprintf("[tbgw_pg]\nDriver = PostgreSQL Unicode\nServername = 127.0.0.1\nPort = %d\nDatabase = %s\nUsername = postgres\n", srv.port, name)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ODBCINI", ini)
	cfg := `{"connection":{"str":"DSN=tbgw_pg;"},
	  "polling":{"query":"SELECT id, dev, v FROM r WHERE id > ? ORDER BY id","period":0.2,"iterator":{"column":"id","value":0}},
	  "mapping":{"device":{"name":"'ODBC ' + dev"},"timeseries":[{"name":"v","column":"v"}]},
	  "serverSideRpc":{"methods":[{"name":"twice","query":"SELECT twice(?) AS r","args":[21],"result":true}]}}`
	c := newConn(t, drivertest.Env(t, "uodbc", "odbc"), []byte(cfg))
	if c.plan.target.kind != "odbc" {
		t.Fatalf("target %+v", c.plan.target)
	}
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 20*time.Second, "2 rows", func(d []connector.Data) bool { return len(d) >= 2 })
	if v, _ := sink.Latest("ODBC b", "v", false); v != 2.5 {
		t.Errorf("b = %v", v)
	}
	res, err := c.OnRPC(context.Background(), connector.RPC{Device: "ODBC a", Method: "twice", Params: json.RawMessage("null")})
	if b, _ := json.Marshal(res); err != nil || string(b) != `{"result":{"r":42}}` {
		t.Errorf("twice: %s %v", b, err)
	}
}

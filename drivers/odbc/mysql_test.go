package odbc

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// startMariaDB runs MariaDB from Debian in a temporary directory on a free
// port, without grant tables (any user may connect).
func startMariaDB(t *testing.T) (port int, db *sql.DB) {
	t.Helper()
	_, err1 := os.Stat("/usr/sbin/mariadbd")
	_, err2 := exec.LookPath("mariadb-install-db")
	drivertest.RequirePeer(t, err1 == nil && err2 == nil, "MariaDB (scripts/peers/mariadb.sh)")
	dir, err := os.MkdirTemp("", "tbgw-maria-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	user := []string{}
	if os.Geteuid() == 0 {
		user = []string{"--user=root"}
	}
	args := append([]string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"), "--auth-root-authentication-method=normal", "--skip-test-db"}, user...)
	if out, err := exec.Command("mariadb-install-db", args...).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	port = drivertest.FreePort(t)
	p := drivertest.StartProcess(t, nil, "/usr/sbin/mariadbd", append([]string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"),
		"--socket=" + filepath.Join(dir, "sock"), "--port=" + strconv.Itoa(port), "--bind-address=127.0.0.1",
		"--skip-grant-tables", "--innodb-flush-log-at-trx-commit=0", "--pid-file=" + filepath.Join(dir, "pid")}, user...)...)
	_ = p
	drivertest.WaitTCP(t, "127.0.0.1:"+strconv.Itoa(port), 60*time.Second)
	db, err = sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/?multiStatements=true", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	drivertest.Eventually(t, 30*time.Second, "MariaDB answers", func() bool { return db.Ping() == nil })
	return port, db
}

func TestMariaDB(t *testing.T) {
	port, db := startMariaDB(t)
	mustExec(t, db, `CREATE DATABASE plant`)
	mustExec(t, db, `CREATE TABLE plant.m (id INT PRIMARY KEY AUTO_INCREMENT, dev VARCHAR(16), v DECIMAL(8,2), at DATETIME(3), flag BIT(1))`)
	mustExec(t, db, `INSERT INTO plant.m (dev, v, at, flag) VALUES ('a', 1.25, '2024-01-02 03:04:05.678', 1), ('b', 2, '2024-01-02 03:04:06', 0)`)
	mustExec(t, db, `CREATE TABLE plant.c (n INT)`)
	mustExec(t, db, `INSERT INTO plant.c VALUES (0)`)
	mustExec(t, db, `CREATE PROCEDURE plant.bump(IN k INT) BEGIN UPDATE plant.c SET n = n + k; SELECT n FROM plant.c; END`)
	cfg := fmt.Sprintf(`{"connection":{"str":"Driver={MariaDB ODBC 3.1 Driver};Server=127.0.0.1;Port=%d;Database=plant;Uid=root;Pwd=x;"},
	  "polling":{"query":"SELECT id, dev, v, at AS ts, flag FROM m WHERE id > ? ORDER BY id","period":0.2,"iterator":{"column":"id","query":"SELECT 0"}},
	  "mapping":{"device":{"name":"'M ' + dev"},"timeseries":"*"},
	  "serverSideRpc":{"methods":[{"name":"bump","args":[2],"result":true}],"overrideRpcConfig":true}}`, port)
	c := newConn(t, drivertest.Env(t, "maria", "odbc"), []byte(cfg))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 30*time.Second, "2 rows", func(d []connector.Data) bool { return len(d) >= 2 })
	got, _ := json.Marshal(sink.Data()[0])
	want := `{"Device":"M a","Type":"default","Attributes":null,"Telemetry":[{"Key":"id","Value":1,"TS":1704164645678,"Report":null},{"Key":"dev","Value":"a","TS":1704164645678,"Report":null},{"Key":"v","Value":1.25,"TS":1704164645678,"Report":null},{"Key":"flag","Value":true,"TS":1704164645678,"Report":null}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, step := range []struct{ params, want string }{
		{`null`, `{"result":{"n":2}}`},
		{`{"args":[5]}`, `{"result":{"n":7}}`},
	} {
		res, err := c.OnRPC(context.Background(), connector.RPC{Device: "M a", Method: "bump", Params: json.RawMessage(step.params)})
		if b, _ := json.Marshal(res); err != nil || string(b) != step.want {
			t.Errorf("bump %s: %s %v, want %s", step.params, b, err, step.want)
		}
	}
}

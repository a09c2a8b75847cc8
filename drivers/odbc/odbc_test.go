package odbc

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// withConnStr returns the upstream sample with its connection string
// replaced (the only change: the sample points at a production database).
func withConnStr(t *testing.T, file, conn string, edit func(m map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["connection"].(map[string]any)["str"] = conn
	if edit != nil {
		edit(m)
	}
	out, _ := json.Marshal(m)
	return out
}

func newConn(t *testing.T, env connector.Env, cfg []byte) *Connector {
	t.Helper()
	c, err := New(cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

func TestUpstreamSampleLoads(t *testing.T) {
	b, err := os.ReadFile("testdata/odbc.json")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c, err := New(b, connector.Env{Name: "odbc", Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Errorf("warnings: %s", logs.String())
	}
	p := c.(*Connector).plan
	if p.target == nil || p.target.kind != "postgres" || p.target.server != "localhost:5432" || p.target.db != "thingsboard" {
		t.Errorf("target %+v %v", p.target, p.targetErr)
	}
	if p.nparams != 1 || !strings.Contains(p.query, "ts > $1") || p.period != 10*time.Second || p.iterColumn != "ts" || p.persistent {
		t.Errorf("polling %+v", p)
	}
	if len(p.methods) != 2 || len(p.methods["procedureTwo"].Args) != 3 {
		t.Errorf("methods %+v", p.methods)
	}
}

const tsKV = `CREATE TABLE ts_kv (entity_id varchar(64), ts bigint, key int, bool_v boolean, str_v varchar(64), long_v bigint, dbl_v double precision)`

// upstream's odbc.json semantics against PostgreSQL: the first non-NULL
// value column becomes "value", every column an attribute, the row's ts
// the timestamp; the iterator query starts before the oldest row, new
// rows are picked up by later polls.
func TestPostgresUpstreamSample(t *testing.T) {
	srv := startPG(t)
	name, db := srv.newDB(t)
	mustExec(t, db, tsKV)
	mustExec(t, db, `INSERT INTO ts_kv VALUES ('dev1', 1700000000000, 1, NULL, 'on', NULL, NULL),
		('dev2', 1700000001000, 1, NULL, NULL, 42, NULL), ('dev1', 1700000002000, 1, true, NULL, NULL, NULL),
		('dev2', 1700000003000, 1, NULL, NULL, NULL, 2.5)`)
	cfg := withConnStr(t, "testdata/odbc.json", srv.connStr(name), func(m map[string]any) {
		m["polling"].(map[string]any)["period"] = 0.2
	})
	c := newConn(t, drivertest.Env(t, "odbc", "odbc"), cfg)
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 20*time.Second, "4 rows", func(d []connector.Data) bool { return len(d) >= 4 })
	d := sink.Data()
	got := []string{}
	for _, x := range d {
		got = append(got, fmt.Sprintf("%s/%s:%v@%d", x.Device, x.Type, x.Telemetry[0].Value, x.Telemetry[0].TS))
	}
	want := "ODBC dev1/postgres:on@1700000000000 ODBC dev2/postgres:42@1700000001000 ODBC dev1/postgres:true@1700000002000 ODBC dev2/postgres:2.5@1700000003000"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
	if len(d[0].Attributes) != 3 { // str_v, entity_id, ts (NULLs left out)
		t.Errorf("attributes %+v", d[0].Attributes)
	}
	mustExec(t, db, `INSERT INTO ts_kv VALUES ('dev3', 1700000004000, 1, NULL, NULL, 7, NULL)`)
	sink.Wait(t, 20*time.Second, "the new row", func(d []connector.Data) bool { return len(d) >= 5 })
	if v, _ := sink.Latest("ODBC dev3", "value", false); v != int64(7) {
		t.Errorf("dev3 value %v", v)
	}
	waitPolls(t, c, 3) // no duplicates after more polls
	if n := len(sink.Data()); n != 5 {
		t.Errorf("%d items", n)
	}
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// waitPolls waits until the connector finished n more polls.
func waitPolls(t *testing.T, c *Connector, n uint64) {
	t.Helper()
	target := c.stats.Get("polls") + n
	deadline := time.Now().Add(20 * time.Second)
	for c.stats.Get("polls") < target {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d polls in 20s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RPCs: a function called as a procedure, a procedure through a query with
// arguments, results, reserved set, unknown methods and SQL errors.
func TestPostgresRPC(t *testing.T) {
	srv := startPG(t)
	name, db := srv.newDB(t)
	mustExec(t, db, `CREATE TABLE rpc (inc_value int not null, str_value varchar(32) not null, int_value int not null)`)
	mustExec(t, db, `INSERT INTO rpc VALUES (0, 'x', 0)`)
	mustExec(t, db, `CREATE TABLE t (ts bigint)`)
	mustExec(t, db, `INSERT INTO t VALUES (1)`)
	mustExec(t, db, `CREATE PROCEDURE increment_value() LANGUAGE plpgsql AS $$ BEGIN UPDATE rpc SET inc_value = inc_value + 1; END $$`)
	mustExec(t, db, `CREATE FUNCTION reset_values(s varchar, i int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN UPDATE rpc SET str_value = s, int_value = i; RETURN 1; END $$`)
	mustExec(t, db, `CREATE FUNCTION get_values() RETURNS TABLE(str_value varchar, int_value int) LANGUAGE sql AS $$ SELECT str_value, int_value FROM rpc $$`)
	cfg := fmt.Sprintf(`{"connection":{"str":%q},"polling":{"query":"SELECT ts, ts AS v FROM t WHERE ts > ?","period":60,"iterator":{"column":"ts","value":0}},
	  "mapping":{"device":{"name":"'d'"},"timeseries":"*"},
	  "serverSideRpc":{"enableUnknownRpc":false,"overrideRpcConfig":true,"methods":[
	    "get_values",
	    {"name":"increment_value","query":"CALL increment_value()"},
	    {"name":"reset_values","args":["test",25]},
	    {"name":"check","query":"SELECT str_value, int_value + ? AS n FROM rpc","args":[1],"result":true}]}}`, srv.connStr(name))
	c := newConn(t, drivertest.Env(t, "odbcrpc", "odbc"), []byte(cfg))
	ctx := context.Background()
	rpc := func(method, params string) (string, error) {
		res, err := c.OnRPC(ctx, connector.RPC{Device: "d", Method: method, Params: json.RawMessage(params)})
		b, _ := json.Marshal(res)
		return string(b), err
	}
	if _, err := rpc("get_values", "null"); err == nil {
		t.Error("RPC served while stopped")
	}
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 20*time.Second, "the first poll", func(d []connector.Data) bool { return len(d) > 0 })
	for _, step := range []struct{ method, params, want string }{
		{"increment_value", "null", `{"success":true}`},
		{"increment_value", "null", `{"success":true}`},
		{"reset_values", "null", `{"success":true}`},
		{"check", "null", `{"result":{"n":26,"str_value":"test"}}`},
		{"reset_values", `{"args":["over",7]}`, `{"success":true}`},
		{"get_values", `{"result":true}`, `{"result":{"int_value":7,"str_value":"over"}}`},
		{"set", `"procedure_name=reset_values;value=fromset,9;"`, `{"success":true}`},
		{"get", `"query=SELECT inc_value FROM rpc;with_result=true;"`, `{"result":{"inc_value":2}}`},
	} {
		got, err := rpc(step.method, step.params)
		if err != nil || got != step.want {
			t.Errorf("%s %s: %s %v, want %s", step.method, step.params, got, err, step.want)
		}
	}
	var s string
	var i int
	if err := db.QueryRow(`SELECT str_value, int_value FROM rpc`).Scan(&s, &i); err != nil || s != "fromset" || i != 9 {
		t.Errorf("table holds %q %d %v", s, i, err)
	}
	for method, params := range map[string]string{
		"nope":         "null",                      // unknown, enableUnknownRpc false
		"reset_values": `{"args":["a","notanint"]}`, // SQL error
		"check":        `{"args":[]}`,               // marker count
		"set":          `"value=1;"`,                // nothing to run
	} {
		if got, err := rpc(method, params); err == nil {
			t.Errorf("%s %s succeeded: %s", method, params, got)
		} else {
			t.Logf("%s: %v", method, err)
		}
	}
}

func TestConnStrings(t *testing.T) {
	for in, want := range map[string]string{
		"Driver={PostgreSQL Unicode};Server=db;Port=5433;Database=x;Uid=u;Pwd={p;w}}d};": "postgres db:5433 connect_timeout='10' dbname='x' host='db' password='p;w}d' port='5433' sslmode='disable' user='u'",
		"DRIVER={MariaDB ODBC 3.1 Driver};SERVER=m;DATABASE=d;USER=u;PASSWORD=p;":        "mysql m:3306 u:p@tcp(m:3306)/d?parseTime=true&timeout=10s",
		"Driver=SQLite3;Database=/var/lib/x.db;":                                         "sqlite /var/lib/x.db file:/var/lib/x.db?_pragma=busy_timeout%285000%29",
	} {
		tg, err := resolveAny(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := tg.kind + " " + tg.server + " " + tg.dsn; got != want {
			t.Errorf("%s:\n got  %s\n want %s", in, got, want)
		}
	}
	for _, bad := range []string{"", "Server=x", "Driver={Oracle 19};Server=x", "Driver={PostgreSQL;Server=x", "Driver={x}y;", "=x;", "nonsense"} {
		if _, err := resolveAny(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// Bad connection strings are configuration errors with a position.
	_, err := New([]byte(`{"connection":{"str":"Driver={PostgreSQL"},"polling":{"query":"SELECT 1"},"mapping":{"device":{"name":"'d'"},"timeseries":"*"}}`), connector.Env{Name: "o"})
	if err == nil || !strings.Contains(err.Error(), "o.json:1:") {
		t.Errorf("bad connection string: %v", err)
	}
}

// resolveAny resolves without requiring the driver to be built in.
func resolveAny(s string) (*target, error) {
	saved := driverBuilt
	driverBuilt = func(name string) bool { return name != "odbc" }
	defer func() { driverBuilt = saved }()
	return resolve(s)
}

func TestPlaceholders(t *testing.T) {
	for _, c := range []struct{ in, kind, want string }{
		{"SELECT a FROM t WHERE ts > ? AND b = ?", "postgres", "SELECT a FROM t WHERE ts > $1 AND b = $2"},
		{"SELECT '?', \"a?\", $$ ? $$, $q$ ?'$q$ FROM t -- ?\n WHERE x = ? /* ? */", "postgres", "SELECT '?', \"a?\", $$ ? $$, $q$ ?'$q$ FROM t -- ?\n WHERE x = $1 /* ? */"},
		{"SELECT 'it''s ?' , ?", "postgres", "SELECT 'it''s ?' , $1"},
		{`SELECT 'a\' , ?`, "postgres", `SELECT 'a\' , $1`},
		{`SELECT 'a\' , ?' , ?`, "mysql", `SELECT 'a\' , ?' , ?`},
		{"EXEC p ?, ?", "sqlserver", "EXEC p @p1, @p2"},
		{"SELECT $1, ?", "postgres", "SELECT $1, $1"},
	} {
		got, _ := rewritePlaceholders(c.in, c.kind)
		if got != c.want {
			t.Errorf("%s %q:\n got  %q\n want %q", c.kind, c.in, got, c.want)
		}
	}
}

// The iterator survives a SIGKILL: a child process streams a table of
// rows to a file sink, is killed mid-way and started again; every row
// arrives, and no more than one batch twice.
func TestIteratorSurvivesSIGKILL(t *testing.T) {
	srv := startPG(t)
	name, db := srv.newDB(t)
	const rows, batch = 20000, 100
	mustExec(t, db, `CREATE TABLE m (id bigint primary key, dev varchar(16), v double precision)`)
	mustExec(t, db, `INSERT INTO m SELECT g, 'd' || (g % 7), g * 0.5 FROM generate_series(1, $1) g`, rows)
	cfg := fmt.Sprintf(`{"connection":{"str":%q},
	  "polling":{"query":"SELECT id, dev, v FROM m WHERE id > ? ORDER BY id LIMIT 1000","period":0.2,"batchSize":%d,
	             "iterator":{"column":"id","query":"SELECT MIN(id) - 1 FROM m","persistent":true}},
	  "mapping":{"device":{"name":"dev"},"timeseries":[{"name":"id","column":"id"}]}}`, srv.connStr(name), batch)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", "ODBC_CHILD_CFG="+cfg, "ODBC_CHILD_DATA="+filepath.Join(dir, "data"), "ODBC_CHILD_OUT="+out)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	count := func() (int, map[string]int) {
		b, _ := os.ReadFile(out)
		seen := map[string]int{}
		n := 0
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			seen[sc.Text()]++
			n++
		}
		return n, seen
	}
	waitLines := func(n int) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, seen := count()
			if got >= n && len(seen) >= min(n, rows) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("child wrote %d lines (%d distinct), want %d", got, len(seen), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cmd := child()
	waitLines(3000)
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	before, _ := count()
	cmd = child()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitLines(rows)
	n, seen := count()
	if len(seen) != rows {
		t.Fatalf("%d distinct rows of %d", len(seen), rows)
	}
	dups := n - rows
	t.Logf("killed after %d rows; %d rows delivered twice", before, dups)
	if dups > batch {
		t.Errorf("%d duplicates, more than one batch (%d)", dups, batch)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "data", "*.json"))
	if len(files) != 1 {
		t.Fatalf("iterator files: %v", files)
	}
	if st, err := os.Stat(files[0]); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("iterator file mode: %v %v", st, err)
	}
}

const childEnv = "TBGW_ODBC_CHILD"

// fileSink appends "device id" per accepted row and syncs, so what it
// acknowledged survives the kill.
type fileSink struct {
	*drivertest.Sink
	f *os.File
}

func (s *fileSink) Send(ctx context.Context, items []connector.Data) error {
	var b strings.Builder
	for _, d := range items {
		for _, p := range d.Telemetry {
			fmt.Fprintf(&b, "%s %v\n", d.Device, p.Value)
		}
	}
	if _, err := s.f.WriteString(b.String()); err != nil {
		return err
	}
	return s.f.Sync()
}

func childMain() {
	f, err := os.OpenFile(os.Getenv("ODBC_CHILD_OUT"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	c, err := New([]byte(os.Getenv("ODBC_CHILD_CFG")), connector.Env{Name: "child", DataDir: os.Getenv("ODBC_CHILD_DATA"),
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		panic(err)
	}
	if err := c.Run(context.Background(), &fileSink{Sink: drivertest.NewSink(), f: f}); err != nil {
		panic(err)
	}
}

// The database going away and coming back: polls fail and are retried
// with a back-off; rows written meanwhile arrive once it is back, none
// twice.
func TestPostgresAwayAndBack(t *testing.T) {
	srv := startPG(t)
	name, db := srv.newDB(t)
	mustExec(t, db, `CREATE TABLE r (id int, v int)`)
	mustExec(t, db, `INSERT INTO r VALUES (1, 10)`)
	cfg := fmt.Sprintf(`{"connection":{"str":%q,"reconnectPeriod":1},
	  "polling":{"query":"SELECT id, v FROM r WHERE id > ? ORDER BY id","period":0.1,"iterator":{"column":"id","value":0,"persistent":true}},
	  "mapping":{"device":{"name":"'d'"},"timeseries":[{"name":"v","column":"v"}]}}`, srv.connStr(name))
	c := newConn(t, drivertest.Env(t, "away", "odbc"), []byte(cfg))
	sink := drivertest.NewSink()
	drivertest.Run(t, c, sink)
	sink.Wait(t, 20*time.Second, "first row", func(d []connector.Data) bool { return len(d) >= 1 })
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	errs := c.stats.Get("errors")
	deadline := time.Now().Add(20 * time.Second)
	for c.stats.Get("errors") <= errs {
		if time.Now().After(deadline) {
			t.Fatal("no failed poll while the server was down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := srv.start(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, db2 := srv.reopen(t, name)
	mustExec(t, db2, `INSERT INTO r VALUES (2, 20), (3, 30)`)
	sink.Wait(t, 30*time.Second, "rows written after the restart", func(d []connector.Data) bool { return len(d) >= 3 })
	waitPolls(t, c, 3)
	got := []string{}
	for _, d := range sink.Data() {
		got = append(got, fmt.Sprint(d.Telemetry[0].Value))
	}
	if strings.Join(got, ",") != "10,20,30" {
		t.Errorf("got %v", got)
	}
}

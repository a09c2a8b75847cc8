//go:build odbc.mssql

package odbc

import (
	"strings"
	"testing"

	"github.com/microsoft/go-mssqldb/msdsn"
)

// No SQL Server (nor any other TDS server) can be installed on the test
// machines (see docs/connectors/odbc.md), so SQL Server support is tested
// up to the driver: connection strings must come out as go-mssqldb
// settings equal to what the ODBC drivers would use, the placeholders and
// the procedure call in T-SQL form.
func TestSQLServerConnStrings(t *testing.T) {
	type want struct {
		host     string
		port     uint64
		instance string
		db, user string
		pwd      string
		enc      msdsn.Encryption
		verify   bool // certificate verified
		server   string
	}
	for in, w := range map[string]want{
		"Driver={ODBC Driver 17 for SQL Server};Server=tcp:db.example,1533;Database=plant;UID=sa;PWD={p;w}}d};": {
			"db.example", 1533, "", "plant", "sa", "p;w}d", msdsn.EncryptionOff, false, "db.example:1533"},
		"Driver={ODBC Driver 18 for SQL Server};Server=db;Database=plant;Uid=sa;Pwd=x;": {
			"db", 0, "", "plant", "sa", "x", msdsn.EncryptionRequired, true, "db"},
		"Driver={ODBC Driver 18 for SQL Server};Server=db,1433;Uid=sa;Pwd=x;TrustServerCertificate=yes": {
			"db", 1433, "", "", "sa", "x", msdsn.EncryptionRequired, false, "db:1433"},
		"Driver={ODBC Driver 17 for SQL Server};Server=db;Uid=sa;Pwd=x;Encrypt=yes;TrustServerCertificate=no": {
			"db", 0, "", "", "sa", "x", msdsn.EncryptionRequired, true, "db"},
		"Driver={ODBC Driver 18 for SQL Server};Server=db;Uid=sa;Pwd=x;Encrypt=strict": {
			"db", 0, "", "", "sa", "x", msdsn.EncryptionStrict, true, "db"},
		"Driver={ODBC Driver 18 for SQL Server};Server=db;Uid=sa;Pwd=x;Encrypt=no": {
			"db", 0, "", "", "sa", "x", msdsn.EncryptionOff, false, "db"},
		`Driver={SQL Server};Server=(local)\SQLEXPRESS;Initial Catalog=plant;User ID=sa;Password=x`: {
			"localhost", 0, "SQLEXPRESS", "plant", "sa", "x", msdsn.EncryptionOff, false, `localhost\SQLEXPRESS`},
		"Driver=FreeTDS;Server=10.0.0.5;Port=1433;Database=plant;UID=sa;PWD=x;TDS_Version=7.4;ClientCharset=UTF-8": {
			"10.0.0.5", 1433, "", "plant", "sa", "x", msdsn.EncryptionOff, false, "10.0.0.5:1433"},
		"Driver={FreeTDS};Server=db;Port=1433;UID=sa;PWD=x;Encryption=require": {
			"db", 1433, "", "", "sa", "x", msdsn.EncryptionRequired, true, "db:1433"},
		"Driver={FreeTDS};Server=db;UID=sa;PWD=x;Encryption=off": {
			"db", 0, "", "", "sa", "x", msdsn.EncryptionDisabled, false, "db"},
		"Driver={ODBC Driver 17 for SQL Server};Server=fe80::1,1433;UID=sa;PWD=x": {
			"fe80::1", 1433, "", "", "sa", "x", msdsn.EncryptionOff, false, "[fe80::1]:1433"},
	} {
		tg, err := resolve(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if tg.kind != "sqlserver" || tg.driver != "sqlserver" || tg.server != w.server {
			t.Errorf("%s: kind %s driver %s server %s", in, tg.kind, tg.driver, tg.server)
		}
		c, err := msdsn.Parse(tg.dsn)
		if err != nil {
			t.Errorf("%s: go-mssqldb rejects %s: %v", in, tg.dsn, err)
			continue
		}
		verify := c.TLSConfig != nil && !c.TLSConfig.InsecureSkipVerify
		if c.Host != w.host || c.Port != w.port || c.Instance != w.instance || c.Database != w.db ||
			c.User != w.user || c.Password != w.pwd || c.Encryption != w.enc || verify != w.verify {
			t.Errorf("%s:\n dsn %s\n got  host %q port %d inst %q db %q user %q pwd %q enc %v verify %v\n want %+v",
				in, tg.dsn, c.Host, c.Port, c.Instance, c.Database, c.User, c.Password, c.Encryption, verify, w)
		}
	}
	for _, bad := range []string{
		"Driver={ODBC Driver 17 for SQL Server};Server=db;Trusted_Connection=yes",
		"Driver={ODBC Driver 18 for SQL Server};Server=db;Authentication=ActiveDirectoryPassword;UID=a;PWD=b",
		"Driver={ODBC Driver 17 for SQL Server};Server=np:\\\\.\\pipe\\sql\\query",
		"Driver={ODBC Driver 17 for SQL Server};Server=db,http",
		"Driver={ODBC Driver 17 for SQL Server};Server=db;Encrypt=maybe",
		"Driver={ODBC Driver 17 for SQL Server};Server=db;TrustServerCertificate=perhaps",
		"Driver=FreeTDS;Server=db;Encryption=sometimes",
		"Driver=FreeTDS;Server=db;Timeout=soon",
	} {
		if _, err := resolve(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if !strings.Contains(err.Error(), "SQL Server") {
			t.Errorf("%q: error does not name SQL Server: %v", bad, err)
		}
	}
}

func TestSQLServerStatements(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int
		want string
	}{
		{"dbo.SetPoint", 2, "EXEC dbo.SetPoint @p1, @p2"},
		{"Reset", 0, "EXEC Reset"},
	} {
		q, err := procQuery("sqlserver", c.name, c.n)
		if err != nil {
			t.Fatal(err)
		}
		if got, n := rewritePlaceholders(q, "sqlserver"); got != c.want || n != c.n {
			t.Errorf("%s/%d: %q (%d markers), want %q", c.name, c.n, got, n, c.want)
		}
	}
	for in, want := range map[string]string{
		"SELECT [a?]], b] , N'x?' FROM t WHERE id > ? -- ?\nAND [x] = ?": "SELECT [a?]], b] , N'x?' FROM t WHERE id > @p1 -- ?\nAND [x] = @p2",
		"SELECT TOP 10 * FROM t WHERE ts > ? ORDER BY ts":                "SELECT TOP 10 * FROM t WHERE ts > @p1 ORDER BY ts",
	} {
		if got, _ := rewritePlaceholders(in, "sqlserver"); got != want {
			t.Errorf("%q:\n got  %q\n want %q", in, got, want)
		}
	}
	// Values as go-mssqldb returns them.
	guid := []byte{0x67, 0x45, 0x23, 0x01, 0xab, 0x89, 0xef, 0xcd, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	for _, c := range []struct {
		v    any
		kind string
		want any
	}{
		{guid, "UNIQUEIDENTIFIER", "01234567-89AB-CDEF-0123-456789ABCDEF"},
		{[]byte("12.3400"), "DECIMAL", 12.34},
		{[]byte("12"), "MONEY", int64(12)},
		{[]byte("-1.5"), "SMALLMONEY", -1.5},
	} {
		if got := normalize(c.v, c.kind); got != c.want {
			t.Errorf("%s %v: %#v, want %#v", c.kind, c.v, got, c.want)
		}
	}
}

package odbc

import (
	"strings"
	"testing"
)

// FuzzConnStr: any connection string resolves or fails with an error.
func FuzzConnStr(f *testing.F) {
	f.Add("Driver={PostgreSQL};Server=localhost;Port=5432;Database=thingsboard;Uid=postgres;Pwd=postgres;")
	f.Add("DRIVER={MariaDB};SERVER=m;PWD={a}}b;c};sslmode=required")
	f.Add("Driver=SQLite3;Database=x.db;ReadOnly=1")
	f.Add("Driver={ODBC Driver 18 for SQL Server};Server=h,1433;Encrypt=yes;")
	f.Add("DSN=x;;=;{")
	f.Fuzz(func(t *testing.T, s string) {
		saved := driverBuilt
		driverBuilt = func(string) bool { return true }
		defer func() { driverBuilt = saved }()
		tg, err := resolve(s)
		if err == nil && (tg == nil || tg.dsn == "") {
			t.Fatalf("%q: no target and no error", s)
		}
	})
}

// FuzzPlaceholders: rewriting keeps everything but the markers, and counts
// them.
func FuzzPlaceholders(f *testing.F) {
	f.Add("SELECT '?', \"a?\", $$ ? $$ FROM t -- ?\n WHERE x = ? /* ? */", uint8(0))
	f.Add(`SELECT 'a\' , ?' , ?`, uint8(1))
	f.Add("$a$ ?", uint8(0))
	kinds := []string{"postgres", "mysql", "sqlite", "sqlserver"}
	f.Fuzz(func(t *testing.T, q string, k uint8) {
		kind := kinds[int(k)%len(kinds)]
		out, n := rewritePlaceholders(q, kind)
		if n < 0 || n > strings.Count(q, "?") {
			t.Fatalf("%d markers in %q", n, q)
		}
		if kind == "mysql" || kind == "sqlite" {
			if out != q {
				t.Fatalf("changed %q to %q", q, out)
			}
		}
		if n == 0 && out != q {
			t.Fatalf("no markers but %q became %q", q, out)
		}
	})
}

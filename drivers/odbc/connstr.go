package odbc

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
)

// parseConnStr reads an ODBC connection string: key=value pairs separated
// by ';', keys case-insensitive, values optionally in braces ({...}, with
// "}}" for a literal '}'). Keys are returned lower-cased.
func parseConnStr(s string) (map[string]string, error) {
	m := map[string]string{}
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ';' || s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
		if i >= len(s) {
			break
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("connection string: %q has no '='", abbrev(s[i:]))
		}
		key := strings.ToLower(strings.TrimSpace(s[i : i+eq]))
		if key == "" {
			return nil, fmt.Errorf("connection string: empty key at offset %d", i)
		}
		i += eq + 1
		for i < len(s) && s[i] == ' ' {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '{' {
			i++
			closed := false
			for i < len(s) {
				if s[i] == '}' {
					if i+1 < len(s) && s[i+1] == '}' {
						val.WriteByte('}')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				val.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("connection string: value of %s: unterminated '{'", key)
			}
			for i < len(s) && s[i] == ' ' {
				i++
			}
			if i < len(s) && s[i] != ';' {
				return nil, fmt.Errorf("connection string: value of %s: text after '}'", key)
			}
		} else {
			j := strings.IndexByte(s[i:], ';')
			if j < 0 {
				j = len(s) - i
			}
			val.WriteString(strings.TrimSpace(s[i : i+j]))
			i += j
		}
		if _, dup := m[key]; !dup { // the first occurrence wins, as in ODBC
			m[key] = val.String()
		}
	}
	return m, nil
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// target is what a connection string resolves to: a database/sql driver
// name and its data source name, plus a description without the password
// for logs and the iterator file name.
type target struct {
	kind   string // postgres, mysql, sqlite, sqlserver, odbc
	driver string // database/sql driver name
	dsn    string
	server string // host:port or file, for messages and the iterator key
	db     string
}

// kinds maps words found in an ODBC Driver name to a database kind.
var kinds = []struct{ word, kind string }{
	{"postgres", "postgres"}, {"psql", "postgres"},
	{"mariadb", "mysql"}, {"mysql", "mysql"},
	{"sqlite", "sqlite"},
	{"sql server", "sqlserver"}, {"sqlserver", "sqlserver"}, {"mssql", "sqlserver"}, {"freetds", "sqlserver"},
}

// first returns the value of the first of keys present.
func first(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return ""
}

// resolve maps a connection string to a pure-Go driver. With native false
// (or for a DSN= string) it is handed to the ODBC driver manager when one
// is built in.
func resolve(s string) (*target, error) {
	m, err := parseConnStr(s)
	if err != nil {
		return nil, err
	}
	drv := strings.ToLower(first(m, "driver"))
	kind := ""
	for _, k := range kinds {
		if strings.Contains(drv, k.word) {
			kind = k.kind
			break
		}
	}
	if kind == "" {
		if drv == "" && first(m, "dsn") == "" {
			return nil, fmt.Errorf("connection string names no Driver={...} (PostgreSQL, MySQL, MariaDB, SQLite3, SQL Server) and no DSN")
		}
		if driverBuilt("odbc") {
			return &target{kind: "odbc", driver: "odbc", dsn: s, server: first(m, "dsn", "server", "servername", "host", "database"), db: first(m, "database")}, nil
		}
		if drv == "" {
			return nil, fmt.Errorf("a DSN= connection string needs the unixODBC build (tag odbc.cgo); name a Driver={...} instead")
		}
		return nil, fmt.Errorf("unknown driver %q: PostgreSQL, MySQL, MariaDB, SQLite3 and SQL Server have pure-Go drivers (tags odbc.postgres, odbc.mysql, odbc.sqlite, odbc.mssql); others need the unixODBC build (tag odbc.cgo)", first(m, "driver"))
	}
	host := first(m, "server", "servername", "host", "hostname", "address", "addr")
	port := first(m, "port")
	db := first(m, "database", "db", "dbname", "initial catalog")
	user := first(m, "uid", "user", "username", "user id")
	pwd := first(m, "pwd", "password")
	t := &target{kind: kind, driver: kind, db: db}
	switch kind {
	case "postgres":
		if host == "" {
			host = "localhost"
		}
		if port == "" {
			port = "5432"
		}
		kv := map[string]string{"host": host, "port": port, "dbname": db, "user": user, "password": pwd,
			"sslmode": first(m, "sslmode"), "connect_timeout": first(m, "connect_timeout", "connecttimeout", "timeout"),
			"sslrootcert": first(m, "sslrootcert"), "sslcert": first(m, "sslcert"), "sslkey": first(m, "sslkey")}
		if kv["sslmode"] == "" {
			kv["sslmode"] = "disable" // psqlODBC's default
		}
		if kv["connect_timeout"] == "" {
			kv["connect_timeout"] = "10"
		}
		t.dsn = pqDSN(kv)
		t.server = net.JoinHostPort(host, port)
	case "mysql":
		if host == "" {
			host = "localhost"
		}
		if port == "" {
			port = "3306"
		}
		addr := "tcp(" + net.JoinHostPort(host, port) + ")"
		if sock := first(m, "socket"); sock != "" {
			addr = "unix(" + sock + ")"
		}
		q := url.Values{}
		q.Set("parseTime", "true")
		q.Set("timeout", "10s")
		if v := first(m, "sslmode", "ssl-mode"); v != "" {
			switch strings.ToLower(v) {
			case "disabled", "disable":
				q.Set("tls", "false")
			case "required", "require", "preferred", "prefer":
				q.Set("tls", "skip-verify")
			case "verify_ca", "verify_identity", "verify-full":
				q.Set("tls", "true")
			}
		}
		t.dsn = user + ":" + pwd + "@" + addr + "/" + db + "?" + q.Encode()
		if pwd == "" {
			t.dsn = user + "@" + addr + "/" + db + "?" + q.Encode()
		}
		t.server = net.JoinHostPort(host, port)
	case "sqlite":
		if db == "" {
			return nil, fmt.Errorf("SQLite needs Database=<file>")
		}
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(5000)")
		if strings.EqualFold(first(m, "readonly", "read only"), "true") || first(m, "readonly") == "1" {
			q.Set("mode", "ro")
		}
		t.dsn = "file:" + db + "?" + q.Encode()
		t.server = db
	case "sqlserver":
		if err := mssqlTarget(m, t); err != nil {
			return nil, err
		}
	}
	if !driverBuilt(t.driver) {
		if kind == "sqlserver" && driverBuilt("odbc") {
			// A build without go-mssqldb but with unixODBC hands SQL
			// Server strings to the ODBC driver (FreeTDS or Microsoft's).
			return &target{kind: "odbc", driver: "odbc", dsn: s, server: t.server, db: db}, nil
		}
		return nil, fmt.Errorf("the %s driver is not built into this binary (build tag odbc.%s)", kind, tagOf(kind))
	}
	return t, nil
}

// tagOf names the build tag of a database kind.
func tagOf(kind string) string {
	if kind == "sqlserver" {
		return "mssql"
	}
	return kind
}

// pqDSN writes lib/pq key=value settings, quoting values.
func pqDSN(kv map[string]string) string {
	keys := make([]string, 0, len(kv))
	for k, v := range kv {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(kv[k])
		b.WriteString(k + "='" + v + "'")
	}
	return b.String()
}

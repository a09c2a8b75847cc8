package odbc

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// odbcDriverVersion finds the major version of "ODBC Driver 18 for SQL
// Server" (0 for other driver names).
var odbcDriverVersion = regexp.MustCompile(`(?i)odbc driver (\d+) for sql server`)

// mssqlTarget maps the keys of a SQL Server connection string, in
// Microsoft's ODBC driver or FreeTDS spelling, to a go-mssqldb URL:
//
//	Driver={ODBC Driver 17 for SQL Server};Server=tcp:host,1433;Database=d;UID=u;PWD=p;Encrypt=yes;TrustServerCertificate=no
//	Driver=FreeTDS;Server=host;Port=1433;Database=d;UID=u;PWD=p;TDS_Version=7.4;Encryption=require
//
// Encryption follows the ODBC drivers: Driver 18 and later encrypt and
// verify the certificate unless told otherwise; Driver 17, "SQL Server"
// and FreeTDS encrypt only the login (the certificate is not checked, as
// there) unless Encrypt=yes (or FreeTDS Encryption=require) asks for more.
func mssqlTarget(m map[string]string, t *target) error {
	host := first(m, "server", "servername", "host", "hostname", "address", "addr", "data source")
	port := first(m, "port")
	user := first(m, "uid", "user", "username", "user id")
	pwd := first(m, "pwd", "password")

	if v := strings.ToLower(first(m, "trusted_connection", "integrated security")); v == "yes" || v == "true" || v == "sspi" {
		return fmt.Errorf("SQL Server: Trusted_Connection (Windows authentication) is not supported; use a SQL login with UID and PWD")
	}
	if v := first(m, "authentication"); v != "" && !strings.EqualFold(v, "SqlPassword") {
		return fmt.Errorf("SQL Server: Authentication=%s is not supported; use a SQL login with UID and PWD", v)
	}

	// Server=[tcp:]host[\instance][,port]
	if p, rest, ok := strings.Cut(host, ":"); ok && !strings.Contains(host, "[") {
		switch strings.ToLower(p) {
		case "tcp":
			host = rest
		case "np", "lpc", "admin":
			return fmt.Errorf("SQL Server: protocol %s: is not supported; use TCP (Server=host,port)", p)
		}
	}
	if h, p, ok := strings.Cut(host, ","); ok {
		host = strings.TrimSpace(h)
		if port == "" {
			port = strings.TrimSpace(p)
		}
	}
	instance := ""
	if h, inst, ok := strings.Cut(host, `\`); ok {
		host, instance = h, inst
	}
	switch strings.ToLower(host) {
	case "", ".", "(local)", "(localdb)":
		host = "localhost"
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return fmt.Errorf("SQL Server: invalid port %q", port)
		}
	}

	q := url.Values{}
	if t.db != "" {
		q.Set("database", t.db)
	}
	encrypt := strings.ToLower(first(m, "encrypt"))
	trust := strings.ToLower(first(m, "trustservercertificate", "trust server certificate"))
	if encrypt == "" {
		switch strings.ToLower(first(m, "encryption")) { // FreeTDS
		case "off":
			encrypt = "disable"
		case "require", "required":
			encrypt = "true"
		case "request", "":
			if mv := odbcDriverVersion.FindStringSubmatch(first(m, "driver")); mv != nil {
				if n, _ := strconv.Atoi(mv[1]); n >= 18 {
					encrypt = "true"
					break
				}
			}
			encrypt = "false"
		default:
			return fmt.Errorf("SQL Server: Encryption=%s: want off, request or require", first(m, "encryption"))
		}
	}
	switch encrypt {
	case "yes", "mandatory", "true", "1":
		encrypt = "true"
	case "no", "optional", "false", "0":
		encrypt = "false"
		if trust == "" {
			trust = "true" // login-only encryption, unverified as in the ODBC drivers
		}
	case "strict", "disable":
	default:
		return fmt.Errorf("SQL Server: Encrypt=%s: want yes, no, mandatory, optional or strict", first(m, "encrypt"))
	}
	q.Set("encrypt", encrypt)
	switch trust {
	case "":
	case "yes", "true", "1":
		q.Set("TrustServerCertificate", "true")
	case "no", "false", "0":
		q.Set("TrustServerCertificate", "false")
	default:
		return fmt.Errorf("SQL Server: TrustServerCertificate=%s: want yes or no", trust)
	}
	for odbcKey, key := range map[string]string{
		"hostnameincertificate": "hostnameincertificate",
		"servercertificate":     "servercertificate",
		"app":                   "app name",
		"wsid":                  "workstation id",
		"applicationintent":     "applicationintent",
		"multisubnetfailover":   "multisubnetfailover",
		"packet size":           "packet size",
	} {
		if v := first(m, odbcKey); v != "" {
			q.Set(key, v)
		}
	}
	if v := first(m, "connection timeout", "connect timeout", "logintimeout", "timeout"); v != "" {
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("SQL Server: invalid connection timeout %q", v)
		}
		q.Set("connection timeout", v)
	}
	q.Set("dial timeout", "10")

	u := url.URL{Scheme: "sqlserver", Host: host, RawQuery: q.Encode()}
	if port != "" {
		u.Host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		u.Host = "[" + host + "]"
	}
	if instance != "" {
		u.Path = "/" + instance
	}
	if user != "" {
		u.User = url.UserPassword(user, pwd)
	}
	t.dsn = u.String()
	t.server = u.Host
	if instance != "" {
		t.server += `\` + instance
	}
	return nil
}

//go:build odbc.mssql

package odbc

// SQL Server (and Azure SQL) through github.com/microsoft/go-mssqldb:
// Microsoft's pure-Go TDS driver, registered as "sqlserver" (@p1 markers).
// About 1.2 MB of a stripped armv7 binary: opt-in (tag odbc.mssql) even in
// a default build.
import _ "github.com/microsoft/go-mssqldb"

func init() { builtDrivers = append(builtDrivers, "sqlserver") }

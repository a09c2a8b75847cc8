//go:build !custom || odbc.mssql

package odbc

// SQL Server (and Azure SQL) through github.com/microsoft/go-mssqldb:
// Microsoft's pure-Go TDS driver, registered as "sqlserver" (@p1 markers).
import _ "github.com/microsoft/go-mssqldb"

func init() { builtDrivers = append(builtDrivers, "sqlserver") }

//go:build !custom || odbc.mysql

package odbc

// MySQL and MariaDB through github.com/go-sql-driver/mysql: pure Go.
import _ "github.com/go-sql-driver/mysql"

func init() { builtDrivers = append(builtDrivers, "mysql") }

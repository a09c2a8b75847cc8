//go:build odbc.cgo && cgo

package odbc

// Real ODBC through unixODBC (github.com/alexbrainman/odbc), for databases
// that only have an ODBC driver. Opt-in: it needs cgo and the unixODBC
// library at run time, which is what the pure-Go drivers avoid.
import _ "github.com/alexbrainman/odbc"

func init() { builtDrivers = append(builtDrivers, "odbc") }

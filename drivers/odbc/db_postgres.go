//go:build !custom || odbc.postgres

package odbc

// PostgreSQL through github.com/lib/pq: pure Go, no dependencies, small.
import _ "github.com/lib/pq"

func init() { builtDrivers = append(builtDrivers, "postgres") }

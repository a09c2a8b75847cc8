package odbc

import (
	"database/sql"
	"slices"
)

// builtDrivers lists the database/sql drivers compiled in (see the
// db_*.go files and their build tags).
var builtDrivers []string

var driverBuilt = func(name string) bool {
	return slices.Contains(builtDrivers, name) && slices.Contains(sql.Drivers(), name)
}

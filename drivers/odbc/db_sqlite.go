//go:build (!custom || odbc.sqlite) && (amd64 || arm64 || arm || 386 || riscv64 || loong64 || ppc64le || s390x)

package odbc

// SQLite through modernc.org/sqlite: SQLite translated to Go, no cgo. It
// is large and has no port for mips, hence the architecture list.
import _ "modernc.org/sqlite"

func init() { builtDrivers = append(builtDrivers, "sqlite") }

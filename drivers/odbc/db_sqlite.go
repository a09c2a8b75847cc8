//go:build odbc.sqlite && (amd64 || arm64 || arm || 386 || riscv64 || loong64 || ppc64le || s390x)

package odbc

// SQLite through modernc.org/sqlite: SQLite translated to Go, no cgo. It
// is large (about 4 MB of a stripped armv7 binary) and has no port for
// mips, hence the architecture list; opt-in (tag odbc.sqlite) even in a
// default build.
import _ "modernc.org/sqlite"

func init() { builtDrivers = append(builtDrivers, "sqlite") }

// Package odbc is the SQL connector ("type": "odbc", as upstream names
// it): it polls a database with a query, maps the rows to devices'
// telemetry and attributes, and serves RPCs as stored procedures or
// queries. It reads upstream's odbc.json unchanged; the ODBC connection
// string ("Driver={PostgreSQL};Server=...;") is mapped to a pure-Go
// database/sql driver, so a static CGO_ENABLED=0 binary needs no driver
// libraries. docs/connectors/odbc.md is the configuration reference.
//
// # Drivers
//
// Each database driver sits in its own file behind its own build tag, so
// a product can leave out the ones it does not need: odbc.postgres
// (github.com/lib/pq), odbc.mysql (github.com/go-sql-driver/mysql, also
// MariaDB), odbc.sqlite (modernc.org/sqlite, large, not on mips) and
// odbc.mssql (github.com/microsoft/go-mssqldb, SQL Server). A default
// build has PostgreSQL and MySQL; SQLite and SQL Server, together about
// 5 MB of a stripped armv7 binary, are opt-in: add their tags (with or
// without custom). With the custom tag only the drivers named are in.
// The opt-in tag odbc.cgo adds real ODBC through unixODBC
// (github.com/alexbrainman/odbc, cgo) for DSN= strings and drivers without
// a Go equivalent.
//
// # Polling
//
// Run connects (with a back-off from 1 s up to reconnectPeriod), finds the
// iterator's start (the persisted value, the configured one, or the
// iterator query's result) and runs the polling query with the iterator
// bound to its '?' markers. Rows are streamed, converted by the mapping
// (expressions of codec/expr) and sent in batches; after the storage
// accepted a batch the iterator moves to that batch's last row and, when
// persistent, is written to a 0600 file atomically. A crash re-sends at
// most one batch. While a poll returns rows and moves the iterator, the
// next poll follows at once; otherwise after the period. A query that
// makes no progress for the timeout is cancelled.
//
// A custom converter ("converter": "<Class>") replaces the mapping's
// datapoints: a Go converter from the codec registry, or an upstream-style
// Python class run by the extension host (codec.CallUplink).
//
// Non-goals: pyodbc module settings, writing
// shared attributes to the database (upstream ignores them too).
package odbc

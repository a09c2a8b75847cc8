package odbc

import (
	"fmt"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

func TestConformance(t *testing.T) {
	const mapping = `"mapping":{"device":{"name":"'d' + str(id)"},"timeseries":"*"}`
	// The server and the test's own handle exist before the suite counts
	// goroutines.
	srv := startPG(t)
	name, db := srv.newDB(t)
	mustExec(t, db, `CREATE TABLE r (id int, v int)`)
	mustExec(t, db, `INSERT INTO r VALUES (1, 10), (2, 20)`)
	cfg := fmt.Sprintf(`{"connection":{"str":%q,"reconnectPeriod":1},
	  "polling":{"query":"SELECT id, v FROM r WHERE id > ? ORDER BY id","period":0.2,"iterator":{"column":"id","value":0}},%s}`,
		srv.connStr(name), mapping)
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "odbc",
		Factory: New,
		Config:  func(t *testing.T) []byte { return []byte(cfg) },
		Bad: map[string]string{
			`{"connection":{"str":""},"polling":{"query":"SELECT 1"},` + mapping + `}`:                                                                        "connection.str",
			`{"connection":{"str":"Driver={PostgreSQL"},"polling":{"query":"SELECT 1"},` + mapping + `}`:                                                      "unterminated",
			`{"connection":{"str":"Driver=SQLite3;Database=x"},"polling":{"query":""},` + mapping + `}`:                                                       "polling.query",
			`{"connection":{"str":"Driver=SQLite3;Database=x"},"polling":{"query":"SELECT ?"},` + mapping + `}`:                                               "polling.query",
			`{"connection":{"str":"Driver=SQLite3;Database=x"},"polling":{"query":"SELECT 1","period":-1},` + mapping + `}`:                                   "polling.period",
			`{"connection":{"str":"Driver=SQLite3;Database=x"},"polling":{"query":"SELECT ?","iterator":{"column":"id"}},` + mapping + `}`:                    "polling.iterator",
			`{"connection":{"str":"Driver=SQLite3;Database=x"},"polling":{"query":"SELECT 1"},"mapping":{"device":{"name":""}}}`:                              "mapping.device.name",
			`{"connection":{"str":"Driver=SQLite3;Database=x"},"polling":{"query":"SELECT 1"},"mapping":{"device":{"name":"a +"}}}`:                           "mapping.device.name",
			`{"connection":{"str":"Driver=SQLite3;Database=x"},"polling":{"query":"SELECT 1"},"mapping":{"device":{"name":"a"},"timeseries":[{"name":"x"}]}}`: "mapping.timeseries[0]",
			`{"connection":{"str":"Driver=SQLite3;Database=x"},"polling":{"query":"SELECT 1"},` + mapping + `,"serverSideRpc":{"methods":[{}]}}`:              "serverSideRpc.methods[0].name",
			`{"connection":5}`: "connection",
		},
	})
}

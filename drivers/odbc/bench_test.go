package odbc

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// countSink counts what it accepts.
type countSink struct {
	*drivertest.Sink
	n atomic.Int64
}

func (s *countSink) Send(ctx context.Context, items []connector.Data) error {
	s.n.Add(int64(len(items)))
	return nil
}

// BenchmarkStream1M streams a 1,000,000-row PostgreSQL table through one
// poll (query, scan, mapping with an expression, batches of 500 to a sink)
// and reports rows/s and the process's peak RSS.
func BenchmarkStream1M(b *testing.B) {
	const rows = 1_000_000
	srv := startPGB(b)
	name, db := srv.newDB(b)
	for _, q := range []string{
		`CREATE TABLE m (id bigint primary key, dev varchar(16), v double precision, ts bigint)`,
		fmt.Sprintf(`INSERT INTO m SELECT g, 'dev' || (g %% 50), g * 0.5, 1700000000000 + g FROM generate_series(1, %d) g`, rows),
	} {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`{"connection":{"str":%q},
	  "polling":{"query":"SELECT id, dev, v, ts FROM m WHERE id > ? ORDER BY id","iterator":{"column":"id","value":0}},
	  "mapping":{"device":{"name":"dev"},"timeseries":[{"name":"v","column":"v"},{"name":"v2","value":"v * 2"}]}}`, srv.connStr(name))
	c0, err := New([]byte(cfg), drivertest.Env(b, "bench", "odbc"))
	if err != nil {
		b.Fatal(err)
	}
	c := c0.(*Connector)
	sqldb, err := openDB(c)
	if err != nil {
		b.Fatal(err)
	}
	defer sqldb.Close()
	b.ResetTimer()
	start := time.Now()
	total := 0
	for b.Loop() {
		sink := &countSink{Sink: drivertest.NewSink()}
		it := &iterator{value: int64(0)}
		n, _, err := c.poll(context.Background(), sqldb, it, sink)
		if err != nil || n != rows || sink.n.Load() != rows {
			b.Fatalf("poll: %d rows, %d sent, %v", n, sink.n.Load(), err)
		}
		total += n
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "rows/s")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Sys)/(1<<20), "MB-go-sys")
	if st, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				var kb float64
				fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:")), "%f", &kb)
				b.ReportMetric(kb/1024, "MB-peak-RSS")
			}
		}
	}
}

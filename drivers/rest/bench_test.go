package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tbgw/tbgw/codec/tbjson"
	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
	"github.com/tbgw/tbgw/wal"
)

// walSink appends every Send to a write-ahead log (fsync before Send
// returns), as the gateway's file storage does.
type walSink struct {
	drivertest.Sink
	log  *wal.Log
	recs atomic.Int64
}

func (s *walSink) Send(_ context.Context, items []connector.Data) error {
	recs := make([][]byte, len(items))
	for i := range items {
		recs[i] = tbjson.AppendRecord(nil, &items[i])
	}
	s.recs.Add(int64(len(recs)))
	return s.log.Append(recs)
}

// TestLoadClient is the load generator of BenchmarkIngest, run as a child
// process so that its CPU and memory are not counted as the server's. It
// does nothing in a normal test run.
func TestLoadClient(t *testing.T) {
	url := os.Getenv("TBGW_REST_LOAD_URL")
	if url == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv("TBGW_REST_LOAD_N"))
	conc, _ := strconv.Atoi(os.Getenv("TBGW_REST_LOAD_CONC"))
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	cl := &http.Client{Transport: tr}
	var next atomic.Int64
	lat := make([][]time.Duration, conc)
	var errs atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				body := fmt.Sprintf(`{"sensorName":"SN-%d","sensorType":"T","sensorModel":"M1","certificateNumber":"C","temp":%d.5,"hum":%d}`, i%100, i%40, i%90)
				t0 := time.Now()
				resp, err := cl.Post(url, "application/json", bytes.NewReader([]byte(body)))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	p := func(q float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(q*float64(len(all)-1))].Microseconds()) / 1000
	}
	json.NewEncoder(os.Stdout).Encode(map[string]float64{"ok": float64(len(all)), "errors": float64(errs.Load()),
		"seconds": el.Seconds(), "p50": p(0.5), "p99": p(0.99)})
}

// BenchmarkIngest posts JSON to an endpoint of upstream's sample from 64
// concurrent keep-alive clients (a child process); each request is
// converted and appended to a write-ahead log with fsync before the 200.
// Reported: accepted requests/s, p50 and p99 latency seen by the clients,
// the server's CPU per request and its peak RSS.
func BenchmarkIngest(b *testing.B) {
	const conc = 64
	log, err := wal.Open(b.TempDir(), wal.Options{MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	sink := &walSink{Sink: *drivertest.NewSink(), log: log}
	c, err := New(onPort0(sample(b)), drivertest.Env(b, "REST", "rest"))
	if err != nil {
		b.Fatal(err)
	}
	rc := c.(*Connector)
	drivertest.Run(b, rc, sink)
	drivertest.Eventually(b, 5*time.Second, "listening", func() bool { return rc.ListenAddr() != "" })
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadClient$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TBGW_REST_LOAD_URL=http://"+rc.ListenAddr()+"/my_devices",
		"TBGW_REST_LOAD_N="+strconv.Itoa(max(b.N, conc)), "TBGW_REST_LOAD_CONC="+strconv.Itoa(conc))
	out, err := cmd.Output()
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	if err != nil {
		b.Fatalf("load client: %v", err)
	}
	var r map[string]float64
	if i := bytes.IndexByte(out, '{'); i < 0 || json.Unmarshal(out[i:bytes.IndexByte(out[i:], '\n')+i], &r) != nil {
		b.Fatalf("load client output %q", out)
	}
	if r["errors"] > 0 {
		b.Fatalf("%v failed requests", r["errors"])
	}
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(r["ok"]/r["seconds"], "req/s")
	b.ReportMetric(r["p50"], "p50-ms")
	b.ReportMetric(r["p99"], "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/r["ok"], "cpu-µs/req")
	b.ReportMetric(float64(ru1.Maxrss)/1024, "maxrss-MB")
	if int64(r["ok"]) != sink.recs.Load() {
		b.Fatalf("%v answered 200, %d records in the log", r["ok"], sink.recs.Load())
	}
}

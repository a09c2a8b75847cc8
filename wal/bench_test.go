package wal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	twal "github.com/tidwall/wal"
)

// Benchmarks. scripts/bench-wal.sh runs them with a 1 GiB backlog and
// prints the table; TBGW_WAL_BACKLOG sets the backlog size in bytes
// (default 64 MiB) so that plain `go test -bench` stays quick.

const benchRecord = 256

const envBacklog = "TBGW_WAL_BACKLOG"

func backlogBytes() int64 {
	if s := os.Getenv(envBacklog); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 64 << 20
}

func benchRecords(n int) [][]byte {
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = bytes.Repeat([]byte{byte('a' + i%26)}, benchRecord)
	}
	return recs
}

// benchOptions are the default options with room for any benchmark size.
var benchOptions = Options{MaxBytes: 1 << 40}

// BenchmarkAppend compares Append with the default policy (fsync per
// batch) against raw tidwall/wal with the same segment size and fsync on.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 100, 1000} {
		recs := benchRecords(batch)
		b.Run(fmt.Sprintf("impl=wal/batch=%d", batch), func(b *testing.B) {
			l, err := Open(b.TempDir(), benchOptions)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.SetBytes(int64(benchRecord * batch))
			b.ResetTimer()
			for range b.N {
				if err := l.Append(recs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
		})
		b.Run(fmt.Sprintf("impl=tidwall/batch=%d", batch), func(b *testing.B) {
			tl, err := twal.Open(b.TempDir(), &twal.Options{
				SegmentSize: int(DefaultOptions.SegmentBytes), SegmentCacheSize: 1, NoCopy: true,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer tl.Close()
			var wb twal.Batch
			idx := uint64(1)
			b.SetBytes(int64(benchRecord * batch))
			b.ResetTimer()
			for range b.N {
				for _, r := range recs {
					wb.Write(idx, r)
					idx++
				}
				if err := tl.WriteBatch(&wb); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkAppendConcurrent shows group commit: 16 goroutines appending
// single records share fsyncs.
func BenchmarkAppendConcurrent(b *testing.B) {
	l, err := Open(b.TempDir(), benchOptions)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	recs := benchRecords(1)
	b.SetBytes(benchRecord)
	b.SetParallelism(8) // 16 goroutines on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Append(recs); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// fillBacklog appends n bytes of 256-byte records.
func fillBacklog(tb testing.TB, l *Log, n int64, sample func()) int {
	recs := benchRecords(1000)
	per := int64(1000) * entrySize(frameSize(benchRecord))
	total := 0
	for i := 0; int64(i)*per < n; i++ {
		if err := l.Append(recs); err != nil {
			tb.Fatal(err)
		}
		total += len(recs)
		if sample != nil && i%100 == 0 {
			sample()
		}
	}
	return total
}

// BenchmarkDrain reads and acknowledges a backlog in batches of 1000
// (upstream's default max_read_records_count) and 10000, the cursor
// persisted (temp file, fsync, rename, directory fsync) before each Ack
// returns. serial waits for each Ack before the next Next; pipelined reads
// on while a second goroutine acknowledges the newest batch read, which is
// how an uplink with several batches in flight uses the log.
func BenchmarkDrain(b *testing.B) {
	for _, c := range []struct {
		mode  string
		batch int
	}{{"serial", 1000}, {"serial", 10000}, {"pipelined", 1000}} {
		batch := c.batch
		drain := drain
		if c.mode == "pipelined" {
			drain = drainPipelined
		}
		b.Run(fmt.Sprintf("mode=%s/batch=%d", c.mode, batch), func(b *testing.B) {
			var records int
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				dir := b.TempDir()
				l, err := Open(dir, Options{MaxBytes: 1 << 40, Sync: SyncNever})
				if err != nil {
					b.Fatal(err)
				}
				n := fillBacklog(b, l, backlogBytes(), nil)
				l.Close()
				if l, err = Open(dir, benchOptions); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				drain(b, l, n, batch, nil)
				elapsed += time.Since(start)
				records += n
				b.StopTimer()
				l.Close()
				os.RemoveAll(dir)
			}
			b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(records)*benchRecord/elapsed.Seconds()/1e6, "MB/s")
		})
	}
}

func drain(tb testing.TB, l *Log, n, batch int, sample func()) {
	ctx := context.Background()
	for got, i := 0, 0; got < n; i++ {
		bt, err := l.Next(ctx, batch, 64<<20)
		if err != nil {
			tb.Fatal(err)
		}
		if err := l.Ack(bt.Last()); err != nil {
			tb.Fatal(err)
		}
		got += len(bt.Records)
		if sample != nil && i%10 == 0 {
			sample()
		}
	}
}

// drainPipelined reads n records in batches while another goroutine
// acknowledges the newest batch read so far.
func drainPipelined(tb testing.TB, l *Log, n, batch int, sample func()) {
	ctx := context.Background()
	lastc := make(chan uint64, 1)
	done := make(chan error, 1)
	go func() {
		var err error
		for seq := range lastc {
			if err == nil {
				err = l.Ack(seq)
			}
		}
		done <- err
	}()
	for got, i := 0, 0; got < n; i++ {
		bt, err := l.Next(ctx, batch, 64<<20)
		if err != nil {
			tb.Fatal(err)
		}
		select { // replace a pending ack by the newer one
		case <-lastc:
		default:
		}
		lastc <- bt.Last()
		got += len(bt.Records)
		if sample != nil && i%10 == 0 {
			sample()
		}
	}
	close(lastc)
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkTidwallTruncateFront measures what acknowledging through
// tidwall's TruncateFront costs on its default 20 MB segments: every call
// rewrites the rest of the segment. Compare BenchmarkDrain, which drops
// whole segments instead.
func BenchmarkTidwallTruncateFront(b *testing.B) {
	dir := b.TempDir()
	tl, err := twal.Open(dir, &twal.Options{NoSync: true, SegmentSize: 20 << 20, NoCopy: true})
	if err != nil {
		b.Fatal(err)
	}
	defer tl.Close()
	recs := benchRecords(1000)
	var wb twal.Batch
	idx := uint64(1)
	fill := func() {
		for range 70 { // ~18 MB: one segment
			for _, r := range recs {
				wb.Write(idx, r)
				idx++
			}
			if err := tl.WriteBatch(&wb); err != nil {
				b.Fatal(err)
			}
		}
	}
	fill()
	first := uint64(1)
	b.ResetTimer()
	for range b.N {
		if idx-first < 2000 {
			b.StopTimer()
			fill()
			b.StartTimer()
		}
		first += 1000
		if err := tl.TruncateFront(first); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}

// The RSS figures come from a child process that reads its own VmRSS while
// it fills, holds, reopens and drains a backlog.

const envRSSDir = "TBGW_WAL_RSS_DIR"

type rssReport struct {
	IdleKB, FillPeakKB, HoldKB, DrainPeakKB int64
	OpenMS                                  float64
	Records                                 int
	Bytes                                   int64
	DrainRecordsPerSec                      float64
}

func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, ln := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(ln, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return -1
}

func TestRSSChild(t *testing.T) {
	dir := os.Getenv(envRSSDir)
	if dir == "" {
		t.Skip("child of BenchmarkRSS")
	}
	var r rssReport
	l, err := Open(dir, benchOptions)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	r.IdleKB = vmRSS()
	peak := func(p *int64) func() {
		return func() { *p = max(*p, vmRSS()) }
	}
	r.Records = fillBacklog(t, l, backlogBytes(), peak(&r.FillPeakKB))
	r.Bytes = l.Stats().Bytes
	r.HoldKB = vmRSS()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if l, err = Open(dir, benchOptions); err != nil {
		t.Fatal(err)
	}
	r.OpenMS = float64(time.Since(start).Microseconds()) / 1000
	start = time.Now()
	drain(t, l, r.Records, 1000, peak(&r.DrainPeakKB))
	r.DrainRecordsPerSec = float64(r.Records) / time.Since(start).Seconds()
	l.Close()
	out, _ := json.Marshal(r)
	fmt.Printf("RSS %s\n", out)
}

// BenchmarkRSS runs TestRSSChild once and reports its figures.
func BenchmarkRSS(b *testing.B) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envRSSDir+"="+b.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("child: %v\n%s", err, out)
	}
	var r rssReport
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RSS "); ok {
			if err := json.Unmarshal([]byte(v), &r); err != nil {
				b.Fatal(err)
			}
		}
	}
	if r.IdleKB == 0 {
		b.Fatalf("no report:\n%s", out)
	}
	for range b.N {
	}
	b.ReportMetric(float64(r.Bytes)/(1<<20), "backlog-MiB")
	b.ReportMetric(float64(r.IdleKB), "idle-kB")
	b.ReportMetric(float64(r.FillPeakKB-r.IdleKB), "fill-peak-over-idle-kB")
	b.ReportMetric(float64(r.HoldKB-r.IdleKB), "hold-over-idle-kB")
	b.ReportMetric(float64(r.DrainPeakKB-r.IdleKB), "drain-peak-over-idle-kB")
	b.ReportMetric(r.OpenMS, "open-ms")
	b.ReportMetric(r.DrainRecordsPerSec, "drain-records/s")
}

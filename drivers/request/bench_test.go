package request

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/metrics"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// TestLoadServer is the HTTP server of BenchmarkPoll1000, run as a child
// process so that its CPU and memory are not counted as the connector's.
// It does nothing in a normal test run.
func TestLoadServer(t *testing.T) {
	if os.Getenv("TBGW_REQUEST_LOAD_SERVER") == "" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	go func() { bufio.NewReader(os.Stdin).ReadString('\n'); os.Exit(0) }() // ends with the parent
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/d/")
		fmt.Fprintf(w, `{"name":"Meter %s","serial":"S%s","temperature":21.5,"humidity":40,"energy":123456.75}`, id, id)
	}))
}

// BenchmarkPoll1000 polls 1000 endpoints every second for 5 s (one
// iteration) from a server in a child process, converting each answer
// (one attribute, three telemetry values). Reported: polls/s, the
// connector's CPU use in per cent of one core, peak heap and RSS.
func BenchmarkPoll1000(b *testing.B) {
	const endpoints = 1000
	const run = 5 * time.Second
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TBGW_REQUEST_LOAD_SERVER=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	var maps []string
	for i := range endpoints {
		maps = append(maps, fmt.Sprintf(`{"url":"/d/%d","scanPeriod":1,"timeout":2,"converter":{"type":"json",
		  "deviceNameJsonExpression":"${name}","attributes":[{"key":"serial","type":"string","value":"${serial}"}],
		  "telemetry":[{"key":"t","type":"double","value":"${temperature}"},{"key":"h","type":"int","value":"${humidity}"},{"key":"e","type":"double","value":"${energy}"}]}}`, i))
	}
	cfg := fmt.Sprintf(`{"host":"http://%s","workers":16,"mapping":[%s]}`, strings.TrimSpace(addr), strings.Join(maps, ","))
	env := drivertest.Env(b, "Request", "request")
	c, err := New([]byte(cfg), env)
	if err != nil {
		b.Fatal(err)
	}
	rc := c.(*Connector)
	sink := &countSink{}
	var ru0, ru1 syscall.Rusage
	b.ResetTimer()
	for range b.N {
		drivertest.Run(b, rc, sink)
		// Let the first round (all endpoints due at once) pass, then measure.
		drivertest.Eventually(b, 10*time.Second, "first round", func() bool { return rc.polls.Load() >= endpoints })
		p0 := rc.polls.Load()
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		start := time.Now()
		for time.Since(start) < run {
			time.Sleep(100 * time.Millisecond)
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
		}
		el := time.Since(start)
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		polls := rc.polls.Load() - p0
		cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
		b.ReportMetric(float64(polls)/el.Seconds(), "polls/s")
		b.ReportMetric(100*cpu.Seconds()/el.Seconds(), "cpu-%")
		b.ReportMetric(float64(cpu.Microseconds())/float64(polls), "cpu-µs/poll")
		b.ReportMetric(float64(peak)/(1<<20), "peakheap-MB")
		b.ReportMetric(float64(ru1.Maxrss)/1024, "maxrss-MB")
		if e := rc.pollErrors.Load(); e > 0 {
			b.Fatalf("%d failed polls", e)
		}
	}
}

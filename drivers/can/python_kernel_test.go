//go:build kerneltest && kernelpython && linux

package can_test

// The anchor for BenchmarkKernelConnector: python-can (Debian's
// python3-can) receiving the same cangen flood on the same VM and decoding
// the same value, as upstream's connector does before its converter. Run
// with TBGW_KERNEL_LIST=scripts/kernel-bench.txt scripts/kernel-test.sh.

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/can/cantest"
)

const pythonReader = `
import can, time
bus = can.Bus(interface="socketcan", channel="vcan0",
              can_filters=[{"can_id": 0x100, "can_mask": 0x7FF, "extended": False},
                           {"can_id": 0x101, "can_mask": 0x7FF, "extended": False}])
print("READY", flush=True)
values = []
t0 = c0 = None
while True:
    m = bus.recv(60)
    if m is None:
        break
    if t0 is None:
        t0, c0 = time.monotonic(), time.process_time()
    if m.arbitration_id == 0x101:
        break
    values.append({"v": int.from_bytes(m.data[0:2], "little")})
print("RESULT", len(values), time.monotonic() - t0, time.process_time() - c0, flush=True)
bus.shutdown()
`

func BenchmarkKernelPythonCAN(b *testing.B) {
	cantest.Require(b)
	script := filepath.Join(b.TempDir(), "reader.py")
	if err := os.WriteFile(script, []byte(pythonReader), 0o644); err != nil {
		b.Fatal(err)
	}
	const frames = 20000
	for i := 0; i < b.N; i++ {
		cmd := exec.Command("/usr/bin/python3.11", script)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		if !sc.Scan() || sc.Text() != "READY" {
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatalf("python-can did not start: %q", sc.Text())
		}
		cantest.Run(b, "cangen", cantest.Iface, "-g", "0", "-n", strconv.Itoa(frames), "-I", "100", "-L", "2", "-D", "i")
		done := make(chan string, 1)
		go func() {
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "RESULT") {
					done <- sc.Text()
					return
				}
			}
			close(done)
		}()
		var res string
		for try := 0; res == ""; try++ {
			cantest.Send(b, "101#01")
			select {
			case r, ok := <-done:
				if !ok {
					b.Fatal("python-can exited without a result")
				}
				res = r
			case <-time.After(5 * time.Second):
				if try == 5 {
					b.Fatal("python-can did not see the marker")
				}
			}
		}
		cmd.Wait()
		f := strings.Fields(res)
		got, _ := strconv.Atoi(f[1])
		el, _ := strconv.ParseFloat(f[2], 64)
		cpu, _ := strconv.ParseFloat(f[3], 64)
		b.ReportMetric(float64(got)/el, "frames/s")
		b.ReportMetric(cpu*1000/(float64(got)/1000), "cpu-ms/1000frames")
		b.ReportMetric(float64(got)/frames*100, "%delivered")
		b.Logf("python-can: %d of %d frames in %.2fs, CPU %.2fs", got, frames, el, cpu)
	}
}

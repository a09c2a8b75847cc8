package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tbgw/tbgw/scripts/rig"
)

// floor measures the machine's floor for the anchor workload: a C program
// (scripts/floor/floor.c) that does only the system calls a round cannot
// do without (wait for data, sleep out the window, read, append and
// fdatasync, acknowledge the device, publish, read the PUBACK), at the
// -anchor-rates with the gateway's gathering window, with an fdatasync
// per round (floor→wal) and without (floor→memory). Without a C compiler
// the scenario is a row saying so.
func (b *bench) floor() error {
	cc, err := exec.LookPath("cc")
	if err != nil {
		b.rows = append(b.rows, rig.Result{Scenario: "floor", Note: "skipped: no C compiler (cc)"})
		return nil
	}
	rates, root, dir, err := b.floorSetup("floor")
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "floor")
	if out, err := exec.CommandContext(b.ctx, cc, "-O2", "-o", bin, filepath.Join(root, "scripts", "floor", "floor.c")).CombinedOutput(); err != nil {
		return fmt.Errorf("cc floor.c: %w\n%s", err, out)
	}
	return b.floorRows(bin, dir, "floor", "C, no runtime", rates)
}

// gofloor measures floor.c's rounds written in Go
// (scripts/floor/gofloor): the runtime under them, nothing of the
// gateway. Beside floor and anchor rows it splits the gateway's excess
// over the C floor into the runtime's share and the gateway's own.
func (b *bench) gofloor() error {
	rates, root, dir, err := b.floorSetup("gofloor")
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "gofloor")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.CommandContext(b.ctx, goBin, "build", "-o", bin, "./scripts/floor/gofloor")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build gofloor: %w\n%s", err, out)
	}
	return b.floorRows(bin, dir, "gofloor", "Go runtime, no gateway", rates)
}

// floorSetup is what both floors start from: the rates, the repository
// and a working directory.
func (b *bench) floorSetup(name string) (rates []float64, root, dir string, err error) {
	if rates, err = parseRates(b.o.AnchorRates); err != nil {
		return nil, "", "", err
	}
	if root, err = rig.RepoRoot(); err != nil {
		return nil, "", "", err
	}
	dir = b.dir(name)
	return rates, root, dir, os.MkdirAll(dir, 0o700)
}

// floorRows runs a floor program at each rate, with an fdatasync per
// round and without.
func (b *bench) floorRows(bin, dir, scenario, what string, rates []float64) error {
	window := time.Duration(b.o.PackDelayMS) * time.Millisecond
	if window <= 0 {
		window = 50 * time.Millisecond // minPackSendDelayMS's default
	}
	for _, mps := range rates {
		for _, sync := range []bool{true, false} {
			// The gateway's gathering share (gw windowShares): the window
			// less a tenth of it, at most the log's 20 ms fsync gap;
			// memory storage has no gap.
			gather, name := window, "memory"
			if sync {
				gather, name = window-min(window/10, 20*time.Millisecond), "wal"
			}
			res, err := b.floorStep(bin, filepath.Join(dir, "segment"), fmt.Sprintf("%s→%s %.0f msg/s", scenario, name, mps), what, mps, gather, sync)
			if err := b.add(res, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// floorStep runs a floor program (C or Go) once and turns its line into a
// row.
func (b *bench) floorStep(bin, file, name, what string, mps float64, gather time.Duration, sync bool) (rig.Result, error) {
	res := rig.Result{Scenario: name, DPPerMsg: 3, WrPerDP: -1, WrPerHour: -1}
	syncArg := "0"
	if sync {
		syncArg = "1"
	}
	cmd := exec.CommandContext(b.ctx, bin, strconv.Itoa(int(mps)), strconv.Itoa(int(gather.Milliseconds())), syncArg,
		strconv.FormatFloat(b.o.Warmup.Seconds(), 'f', 3, 64), strconv.FormatFloat(b.o.Duration.Seconds(), 'f', 3, 64), file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// One P, as the gateway runs at these loads (its procTuner): a second
	// P adds a thread that spins at every wake-up.
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	hb0, ht0 := rig.HostCPU()
	out, err := cmd.Output()
	if hb1, ht1 := rig.HostCPU(); ht1 > ht0 {
		res.HostCPU = 100 * float64(hb1-hb0) / float64(ht1-ht0) // the warm-up included
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	kv, err := parseFloorLine(string(out))
	if err != nil {
		return res, fmt.Errorf("%s: %w", name, err)
	}
	res.Offered = kv["msgs_per_s"] * 3
	res.Delivered = res.Offered
	res.CPUPer1k = kv["ms_per_1000dp"]
	res.CPU = kv["cpu_pct"]
	res.Wakeups = kv["csw_per_s"]
	if sync {
		res.Fsyncs = kv["rounds_per_s"]
	}
	res.Note = fmt.Sprintf("%s: %.0f ms window, %.1f rounds/s, %.0f µs/round", what, float64(gather.Milliseconds()), kv["rounds_per_s"], kv["us_per_round"])
	return res, nil
}

// parseFloorLine reads floor's key=value line; every key it prints must be
// there.
func parseFloorLine(s string) (map[string]float64, error) {
	kv := map[string]float64{}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("floor printed %q", s)
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("floor printed %q: %w", s, err)
		}
		kv[k] = x
	}
	for _, k := range []string{"msgs_per_s", "rounds_per_s", "cpu_pct", "ms_per_1000dp", "us_per_round", "csw_per_s"} {
		if _, ok := kv[k]; !ok {
			return nil, fmt.Errorf("floor printed %q: no %s", s, k)
		}
	}
	return kv, nil
}

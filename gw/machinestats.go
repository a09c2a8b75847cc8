package gw

import (
	"bytes"
	"math"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// Machine figures for upstream's statistics (machineStats and the
// totalMemory/totalDisk/cpuCount attributes), read from /proc and
// statfs(2) on Linux. A figure that cannot be read is left out.

// humanBytes formats n as upstream's psutil bytes2human: one decimal and
// a binary unit letter ("512.0B", "1.5K", "7.8G").
func humanBytes(n uint64) string {
	const units = "KMGTPEZY"
	for i := len(units) - 1; i >= 0; i-- {
		p := uint64(1) << (10 * (i + 1))
		if p != 0 && n >= p {
			return strconv.FormatFloat(float64(n)/float64(p), 'f', 1, 64) + string(units[i])
		}
	}
	return strconv.FormatFloat(float64(n), 'f', 1, 64) + "B"
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// meminfo returns /proc/meminfo values in bytes by key.
func meminfo() map[string]uint64 {
	return procKB("/proc/meminfo")
}

// procKB reads "Key:  N kB" lines.
func procKB(path string) map[string]uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	out := map[string]uint64{}
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && string(f[1]) == "kB" {
			n *= 1024
		}
		out[string(k)] = n
	}
	return out
}

// diskRoot returns total, free (for unprivileged users) and used bytes of
// the file system holding /.
func diskRoot() (total, free, used uint64, ok bool) {
	var st syscall.Statfs_t
	if syscall.Statfs("/", &st) != nil {
		return 0, 0, 0, false
	}
	bs := uint64(st.Frsize)
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	total = st.Blocks * bs
	free = st.Bavail * bs
	used = (st.Blocks - st.Bfree) * bs
	return total, free, used, true
}

// onceStats are the attributes upstream sends once: totalMemory, totalDisk
// (human-readable) and cpuCount.
func onceStats() map[string]any {
	m := map[string]any{"cpuCount": runtime.NumCPU()}
	if mi := meminfo(); mi["MemTotal"] > 0 {
		m["totalMemory"] = humanBytes(mi["MemTotal"])
	}
	if total, _, _, ok := diskRoot(); ok {
		m["totalDisk"] = humanBytes(total)
	}
	return m
}

// cpuSampler measures the gateway process's CPU use between calls, as
// psutil's cpu_percent(interval=None): percent of one CPU, 0 on the first
// call.
type cpuSampler struct {
	last    time.Time
	lastCPU time.Duration
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (s *cpuSampler) percent() float64 {
	now, cpu := time.Now(), processCPU()
	defer func() { s.last, s.lastCPU = now, cpu }()
	if s.last.IsZero() {
		return 0
	}
	wall := now.Sub(s.last)
	if wall <= 0 {
		return 0
	}
	return round(float64(cpu-s.lastCPU)/float64(wall)*100, 1)
}

// machineStats are upstream's machineStats figures except the message
// counters, which the caller adds.
func machineStats(cpu *cpuSampler) map[string]any {
	m := map[string]any{"gwProcessCpuUsage": cpu.percent()}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := bytes.Fields(b); len(f) >= 3 {
			if l15, err := strconv.ParseFloat(string(f[2]), 64); err == nil {
				m["totalCpuUsage"] = round(l15/float64(runtime.NumCPU())*100, 2)
			}
		}
	}
	if _, free, used, ok := diskRoot(); ok {
		if used+free > 0 {
			m["diskUsage"] = round(float64(used)/float64(used+free)*100, 1)
		}
		m["freeDisk"] = humanBytes(free)
	}
	mi := meminfo()
	if total := mi["MemTotal"]; total > 0 {
		if avail, ok := mi["MemAvailable"]; ok {
			m["freeMemory"] = round(float64(total-min(avail, total))/float64(total)*100, 1) // used %, as upstream
		}
		if rss := RSS(); rss > 0 {
			m["gwMemory"] = round(float64(rss)/float64(total)*100, 1)
		}
	}
	if info := processMemory(); len(info) > 0 {
		m["gwProcessMemoryFullInfo"] = info
	}
	return m
}

// processMemory is psutil's memory_full_info on Linux: rss, vms, shared,
// text, lib, data, dirty from /proc/self/statm; uss, pss, swap from
// /proc/self/smaps_rollup.
func processMemory() map[string]uint64 {
	out := map[string]uint64{}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		f := bytes.Fields(b)
		page := uint64(os.Getpagesize())
		for i, k := range []string{"vms", "rss", "shared", "text", "lib", "data", "dirty"} {
			if i < len(f) {
				if n, err := strconv.ParseUint(string(f[i]), 10, 64); err == nil {
					out[k] = n * page
				}
			}
		}
	}
	if sm := procKB("/proc/self/smaps_rollup"); sm != nil {
		out["uss"] = sm["Private_Clean"] + sm["Private_Dirty"]
		out["pss"] = sm["Pss"]
		out["swap"] = sm["Swap"]
	}
	return out
}

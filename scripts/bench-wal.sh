#!/usr/bin/env bash
# Runs the write-ahead log benchmarks and prints the figures: append
# throughput against raw tidwall/wal with the same settings, drain rate,
# RSS while holding and draining a backlog, open time with a backlog, and
# the cost of acknowledging through tidwall's TruncateFront.
#
#   scripts/bench-wal.sh                 # 1 GiB backlog, 7 append rounds
#   TBGW_WAL_BACKLOG=67108864 COUNT=3 scripts/bench-wal.sh
#
# Benchmark files go to $TMPDIR (default /tmp): put it on the disk you want
# to measure.
set -euo pipefail
cd "$(dirname "$0")/.."

export TBGW_WAL_BACKLOG=${TBGW_WAL_BACKLOG:-1073741824}
COUNT=${COUNT:-7}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go test -c -o "$work/wal.test" ./wal
run() { (cd wal && "$work/wal.test" -test.run='^$' -test.benchmem=false "$@"); }

echo "machine: $(nproc) CPUs, $(uname -m), $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo), Go $(go env GOVERSION)"
echo "backlog: $((TBGW_WAL_BACKLOG >> 20)) MiB of 256-byte records"
echo

# Runs alternate between the log and tidwall, one second each, so that both
# see the same disk load.
for _ in $(seq "$COUNT"); do
	for b in 1 100 1000; do
		for impl in wal tidwall; do
			run -test.bench="^BenchmarkAppend/impl=$impl/batch=$b\$" -test.benchtime=1s >>"$work/append.txt"
		done
	done
done
run -test.bench='^BenchmarkAppendConcurrent$' -test.benchtime=2s -test.count=1 >"$work/conc.txt"
run -test.bench='^BenchmarkDrain$' -test.benchtime=1x -test.count=1 >"$work/drain.txt"
run -test.bench='^BenchmarkRSS$' -test.benchtime=1x -test.count=1 >"$work/rss.txt"
run -test.bench='^BenchmarkTidwallTruncateFront$' -test.benchtime=200x -test.count=1 >"$work/trunc.txt"

# metric NAME UNIT FILE: median of the value preceding UNIT on NAME's lines.
metric() {
	awk -v name="$1" -v unit="$2" '
		$1 ~ "^" name "(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == unit) v[n++] = $i }
		END {
			if (n == 0) { print "n/a"; exit }
			for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
			print v[int((n - 1) / 2)]
		}' "$3"
}

echo "Append, 256-byte records, fsync per batch (median of $COUNT alternating runs of 1 s)"
printf "%-7s %14s %14s %10s %10s %7s\n" batch "wal rec/s" "tidwall rec/s" "wal MB/s" "twal MB/s" ratio
for b in 1 100 1000; do
	w=$(metric "BenchmarkAppend/impl=wal/batch=$b" records/s "$work/append.txt")
	t=$(metric "BenchmarkAppend/impl=tidwall/batch=$b" records/s "$work/append.txt")
	wm=$(metric "BenchmarkAppend/impl=wal/batch=$b" MB/s "$work/append.txt")
	tm=$(metric "BenchmarkAppend/impl=tidwall/batch=$b" MB/s "$work/append.txt")
	printf "%-7s %14.0f %14.0f %10.2f %10.2f %6.0f%%\n" "$b" "$w" "$t" "$wm" "$tm" "$(echo "$w $t" | awk '{print 100*$1/$2}')"
done
printf "16 goroutines appending single records (group commit): %.0f records/s\n\n" \
	"$(metric BenchmarkAppendConcurrent records/s "$work/conc.txt")"

echo "Drain (Next + Ack, cursor persisted on every Ack)"
for m in serial/batch=1000 serial/batch=10000 pipelined/batch=1000; do
	printf "  %-22s %12.0f records/s %8.1f MB/s\n" "$m" \
		"$(metric "BenchmarkDrain/mode=$m" records/s "$work/drain.txt")" \
		"$(metric "BenchmarkDrain/mode=$m" MB/s "$work/drain.txt")"
done
echo
echo "Memory and open time (child process, VmRSS from /proc/self/status)"
f="$work/rss.txt"
printf "  backlog                 %8.0f MiB\n" "$(metric BenchmarkRSS backlog-MiB "$f")"
printf "  idle process RSS        %8.0f kB\n" "$(metric BenchmarkRSS idle-kB "$f")"
printf "  filling, peak above idle %7.0f kB\n" "$(metric BenchmarkRSS fill-peak-over-idle-kB "$f")"
printf "  holding, above idle     %8.0f kB\n" "$(metric BenchmarkRSS hold-over-idle-kB "$f")"
printf "  draining, peak above idle %6.0f kB\n" "$(metric BenchmarkRSS drain-peak-over-idle-kB "$f")"
printf "  open with the backlog   %8.2f ms\n" "$(metric BenchmarkRSS open-ms "$f")"
printf "  drain in that process  %9.0f records/s\n\n" "$(metric BenchmarkRSS drain-records/s "$f")"
printf "tidwall TruncateFront per 1000-record ack on a 20 MB segment: %.0f records/s\n" \
	"$(metric BenchmarkTidwallTruncateFront records/s "$work/trunc.txt")"

package health

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteMetrics writes st in the Prometheus text exposition format
// (version 0.0.4): gauges for the connection, queue and storage, a
// counter per gateway counter (tbgw_<name>_total), a counter per
// connector counter labelled with the connector (tbgw_connector_<name>_total),
// and the connectors' own counters (tbgw_connector_stat_<name>, untyped).
func WriteMetrics(w io.Writer, st Status) error {
	bw := bufio.NewWriter(w)
	gauge := func(name, help string, v any) {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s gauge\n%s %v\n", name, help, name, name, v)
	}
	gauge("tbgw_connected", "1 while connected to ThingsBoard.", b2i(st.Connected))
	gauge("tbgw_queue_depth", "Stored events not yet acknowledged by ThingsBoard.", st.QueueDepth)
	gauge("tbgw_storage_bytes", "Bytes held by the event storage.", st.StorageBytes)
	gauge("tbgw_start_time_seconds", "Start time of the gateway (Unix time).", st.Started.Unix())
	fmt.Fprintf(bw, "# HELP tbgw_info Version of the gateway.\n# TYPE tbgw_info gauge\ntbgw_info{version=\"%s\"} 1\n", escape(st.Version))

	for _, k := range sortedKeys(st.Counters) {
		name := "tbgw_" + snake(k) + "_total"
		fmt.Fprintf(bw, "# TYPE %s counter\n%s %d\n", name, name, st.Counters[k])
	}

	fmt.Fprintln(bw, "# HELP tbgw_connector_up 1 while the connector runs, 0 while it waits to restart or could not start.")
	fmt.Fprintln(bw, "# TYPE tbgw_connector_up gauge")
	for _, c := range st.Connectors {
		fmt.Fprintf(bw, "tbgw_connector_up{%s} %d\n", labels(c), b2i(c.State == "running"))
	}
	family(bw, st.Connectors, "counter", func(c Connector) map[string]uint64 { return c.Counters },
		func(k string) string { return "tbgw_connector_" + snake(k) + "_total" })
	family(bw, st.Connectors, "untyped", func(c Connector) map[string]uint64 { return c.Stats },
		func(k string) string { return "tbgw_connector_stat_" + snake(k) })
	return bw.Flush()
}

// family writes one metric family per key found in any connector.
func family(w io.Writer, cs []Connector, typ string, get func(Connector) map[string]uint64, name func(string) string) {
	keys := map[string]bool{}
	for _, c := range cs {
		for k := range get(c) {
			keys[k] = true
		}
	}
	for _, k := range sortedKeys(keys) {
		n := name(k)
		fmt.Fprintf(w, "# TYPE %s %s\n", n, typ)
		for _, c := range cs {
			if v, ok := get(c)[k]; ok {
				fmt.Fprintf(w, "%s{%s} %d\n", n, labels(c), v)
			}
		}
	}
}

func labels(c Connector) string {
	return fmt.Sprintf(`connector="%s",type="%s"`, escape(c.Name), escape(c.Type))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// snake turns a camelCase counter name into a metric name part:
// "msgsReceivedFromPlatform" -> "msgs_received_from_platform". Characters
// a metric name cannot hold become '_'.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r - 'A' + 'a')
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9' && i > 0, r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// escape escapes a label value.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

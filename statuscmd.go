package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tbgw/tbgw/gw/health"
)

// status prints the state a running gateway serves on its status socket.
func status(o *options, stdout, stderr io.Writer) int {
	path := o.socket
	if path == "" {
		path = defaultStatusSocket
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := health.Fetch(ctx, path)
	if err != nil {
		fmt.Fprintf(stderr, "tbgw status: %v\n(is the gateway running with -status-socket %s or TB_GW_STATUS_SOCKET?)\n", err, path)
		return exitRuntime
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(st)
		return exitOK
	}
	conn := "not connected"
	if st.Connected {
		conn = "connected"
	}
	fmt.Fprintf(stdout, "tbgw %s, pid %d, up %s\n", st.Version, st.PID, time.Since(st.Started).Round(time.Second))
	fmt.Fprintf(stdout, "ThingsBoard %s: %s\n", st.ThingsBoard, conn)
	fmt.Fprintf(stdout, "storage %s: %d events queued (%d bytes)\n", st.StorageType, st.QueueDepth, st.StorageBytes)
	fmt.Fprintf(stdout, "counters: %s\n", joinCounters(st.Counters))
	if len(st.Connectors) == 0 {
		fmt.Fprintln(stdout, "no connectors")
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTOR\tTYPE\tSTATE\tEVENTS\tDATAPOINTS\tERRORS\tRESTARTS\tLAST ERROR")
	for _, c := range st.Connectors {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", c.Name, c.Type, c.State,
			c.Counters["eventsProduced"], c.Counters["datapointsReceived"], c.Counters["errors"], c.Counters["restarts"],
			firstLine(c.LastError))
	}
	tw.Flush()
	for _, c := range st.Connectors {
		if len(c.Stats) > 0 {
			fmt.Fprintf(stdout, "%s: %s\n", c.Name, joinCounters(c.Stats))
		}
	}
	return exitOK
}

func joinCounters(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

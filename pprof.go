//go:build pprof

package main

import (
	"cmp"
	"net"
	"net/http"
	_ "net/http/pprof" // registers the profiling handlers
	"os"
)

// Built with -tags pprof, tbgw serves net/http/pprof on 127.0.0.1 at the
// port in TBGW_PPROF_PORT (default 6060), for profiling under load (see
// docs/performance.md). Release builds leave this file out.
func init() {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", cmp.Or(os.Getenv("TBGW_PPROF_PORT"), "6060")))
	if err != nil {
		os.Stderr.WriteString("pprof: " + err.Error() + "\n")
		return
	}
	go func() { _ = http.Serve(l, nil) }()
}

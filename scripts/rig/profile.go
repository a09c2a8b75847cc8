package rig

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// FetchProfile saves a net/http/pprof profile of a gateway built with
// -tags pprof (listening on 127.0.0.1:port): kind is "profile" (CPU, for
// d), "trace" (an execution trace of d), "heap", "allocs" or "goroutine".
func FetchProfile(port int, kind string, d time.Duration, out string) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/%s", port, kind)
	if kind == "profile" || kind == "trace" {
		url += fmt.Sprintf("?seconds=%d", max(int(d.Seconds()), 1))
	}
	c := http.Client{Timeout: d + 30*time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return fmt.Errorf("pprof (build the gateway with -tags pprof): %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof %s: %s", kind, resp.Status)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package ftp

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

func TestConformance(t *testing.T) {
	const path = `"devicePatternName":"${serial}","path":"d/*.csv","pollPeriod":0.1,"timeseries":[{"key":"v","value":"${v}"}]`
	// The server runs before the suite counts goroutines.
	root := t.TempDir()
	putFile(t, filepath.Join(root, "d/a.csv"), "serial,v\nS1,1\nS2,2\n")
	peer := startFTP(t, root, 0, "")
	cfg := fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"security":{"type":"basic","username":"tb","password":"secret"},
	  "paths":[{%s}]}`, peer.port, path)
	drivertest.Conformance(t, drivertest.Suite{
		Type:    "ftp",
		Factory: New,
		Config:  func(t *testing.T) []byte { return []byte(cfg) },
		Bad: map[string]string{
			`{"host":""}`:                                                                   "host",
			`{"host":"h","port":0}`:                                                         "port",
			`{"host":"h","security":{"type":"x"}}`:                                          "security.type",
			`{"host":"h","paths":[{` + path + `,"readMode":"X"}]}`:                          "paths[0].readMode",
			`{"host":"h","paths":[{` + path + `,"txtFileDataView":"X"}]}`:                   "paths[0].txtFileDataView",
			`{"host":"h","paths":[{` + path + `,"maxFileSize":0}]}`:                         "paths[0].maxFileSize",
			`{"host":"h","paths":[{"path":"a.csv","timeseries":[]}]}`:                       "paths[0]",
			`{"host":"h","attributeUpdates":[{"path":"a.txt","writingMode":"X"}]}`:          "attributeUpdates[0].writingMode",
			`{"parameters":{"host":"h","TLSSupport":true,"tls":{"caFile":"/nonexistent"}}}`: "parameters.tls",
			`{"host":5}`: "host",
		},
	})
}

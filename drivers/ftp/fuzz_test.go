package ftp

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/tbgw/tbgw/gw/connector"
)

// FuzzLines feeds arbitrary file content through the line reader and both
// views of the row decoder: no panic, no hang, every byte accounted for.
func FuzzLines(f *testing.F) {
	f.Add([]byte("serial,temp\nSN1,21.5\nSN2,\r\n,,,\n"), uint8(0))
	f.Add([]byte("dev7,temp,1700000000,42\nx"), uint8(1))
	f.Add([]byte("\n\n\xff\xfe,${x}\n"), uint8(2))
	table := compileTestPath(f, `{"devicePatternName":"${serial}","path":"x/*.csv",
		"attributes":[{"key":"a","value":"${temp}","type":"int"}],
		"timeseries":[{"key":"ts","value":"${ts}"},{"key":"${serial}","value":"x${temp}y","type":"bool","tsField":"ts"}]}`)
	sliced := compileTestPath(f, `{"devicePatternName":"[0]","path":"x/*.txt","txtFileDataView":"SLICED",
		"attributes":[{"key":"[1]","value":"[2:-1]"}],"timeseries":[{"key":"ts","value":"[-1]"},{"key":"v","value":"[1:]","type":"double"}]}`)
	f.Fuzz(func(t *testing.T, content []byte, mode uint8) {
		br := bufio.NewReaderSize(bytes.NewReader(content), 16)
		total := 0
		var hdr *header
		for i := 0; i < len(content)+2; i++ {
			line, n, _, err := readLine(br)
			total += n
			if n == 0 {
				break
			}
			if hdr == nil {
				hdr = newHeader(string(line), ",")
				continue
			}
			p := table
			if mode%2 == 1 {
				p = sliced
			}
			d, err2 := p.rows.convert(string(line), hdr, 0)
			if err2 == nil && d.Device == "" {
				t.Fatalf("data without device from %q", line)
			}
			if err == io.EOF {
				break
			}
		}
		if total != len(content) {
			t.Fatalf("consumed %d of %d bytes", total, len(content))
		}
	})
}

// FuzzConfig: any configuration file is accepted or rejected with an
// error, never a panic.
func FuzzConfig(f *testing.F) {
	for _, name := range []string{"ftp.json", "old_basic_type.json", "new_attribute_updates.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"host":"h","paths":[{"devicePatternName":"[0]","path":"*/[a-.txt","txtFileDataView":"SLICED","timeseries":[{"key":"[-1:]","value":"[99999999999:]"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := New(b, connector.Env{Name: "f"})
		if err == nil && c == nil {
			t.Fatal("nil connector without error")
		}
	})
}

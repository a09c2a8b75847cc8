package exec

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/tbgw/tbgw/gw/connector"
)

// FuzzDecodeLine: any line is a message or an error, never a panic, and a
// decoded message holds only data-model values.
func FuzzDecodeLine(f *testing.F) {
	for _, s := range []string{
		`{"type":"telemetry","device":"D","values":{"t":21.5,"n":3,"s":"x","b":true,"o":{"a":[1]}},"ts":1700000000000,"seq":1}`,
		`{"type":"attributes","device":"D","deviceType":"T","values":{"fw":"1.2"}}`,
		`{"type":"connect","device":"D","deviceType":"T","seq":2}`,
		`{"type":"disconnect","device":"D"}`,
		`{"type":"attributeRequest","seq":3,"device":"D","client":true,"keys":["a"]}`,
		`{"type":"rpcReply","id":4,"result":{"ok":1}}`,
		`{"type":"rpcReply","id":4,"error":"no"}`,
		`{"type":"log","level":"warn","msg":"m"}`,
		`{"type":"hello","protocol":1}`,
		`{"type":"telemetry","device":"D","values":{"x":1e400}}`,
		`{"type":"telemetry","device":"D","values":{"x":null}}`,
		`not json`, `{}`, `{"type":7}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := decodeLine(line)
		if err != nil {
			return
		}
		for _, pts := range [][]connector.Point{m.Data.Telemetry, m.Data.Attributes} {
			for _, p := range pts {
				switch v := p.Value.(type) {
				case int64, float64, bool, string:
				case json.RawMessage:
					if !json.Valid(v) {
						t.Fatalf("invalid JSON value %q", v)
					}
				default:
					t.Fatalf("value of type %T", v)
				}
			}
		}
	})
}

// FuzzLineReader: line splitting with the length bound never returns a
// line longer than the bound and never loses a short line.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), 3)
	f.Add(bytes.Repeat([]byte("x"), 600), 256)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 16 || max > 4096 {
			return
		}
		lr := &lineReader{br: newReader(in, max), max: max}
		for i := 0; i < len(in)+2; i++ {
			line, long, err := lr.next()
			if err != nil {
				if err != io.EOF {
					t.Fatal(err)
				}
				return
			}
			if long && len(line) != 0 || len(line) > max {
				t.Fatalf("line of %d bytes (bound %d, long %v)", len(line), max, long)
			}
		}
		t.Fatal("reader did not end")
	})
}

func newReader(b []byte, max int) *bufio.Reader {
	return bufio.NewReaderSize(bytes.NewReader(b), max+1)
}

// FuzzConfig: any connector file is a connector or a clear error.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"command":["sh","-c","true"],"config":{"a":1},"env":{"A":"b"},"maxLineBytes":1024}`))
	f.Add([]byte(`{"command":"x"}`))
	f.Add([]byte(`{"command":["x"],"restartMinMs":5,"restartMaxMs":1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		New(raw, connector.Env{Name: "fuzz"})
	})
}
